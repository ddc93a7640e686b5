"""Concurrent writers for the edit race tests (tests/api/test_races.py,
tests/admin/test_edit_races.py): what the engine writes on a scheduled post,
and a way to write it at the worst moment of an edit."""

from django.db import connection

# the engine's claim (a lease and the attempt journal), and a retry's backoff
# on a post that stays waiting
ENGINE_CLAIMS = (
    "UPDATE scheduled_posts SET status = 'processing', locked_until = "
    "now() + interval '5 minutes', attempt_started_at = now() WHERE id = %s"
)
RETRY_BACKS_OFF = (
    "UPDATE scheduled_posts SET locked_until = now() + interval '10 minutes', "
    "retry_count = 1, error_message = 'HTTP 503' WHERE id = %s"
)


def sql_before(monkeypatch, owner, name: str, sql: str, params: list) -> None:
    """Make `owner.name` run `sql` before it does its own work: another
    writer committing at that moment."""
    original = getattr(owner, name)

    def racing(*args, **kwargs):
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, racing)


def row_in_status(kind: str, status: str):
    """A scheduled post, engagement action, generation job or post (`kind`)
    moved to `status` as the engine leaves it, with the times its CHECKs ask
    for."""
    from tests.factories import (
        ContentGenerationFactory,
        EngagementActionFactory,
        PostFactory,
        ScheduledPostFactory,
    )

    row = {
        "post": PostFactory,
        "scheduled_post": ScheduledPostFactory,
        "engagement": EngagementActionFactory,
        "generation": ContentGenerationFactory,
    }[kind]()
    stamps = {}
    if status == "published":
        stamps["published_at"] = row.created_at
    elif status == "completed":
        stamps["completed_at"] = row.created_at
        if kind == "generation":  # its timing CHECK: started before completed
            stamps["started_at"] = row.created_at
    type(row).objects.filter(pk=row.pk).update(status=status, **stamps)
    return row
