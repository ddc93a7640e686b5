"""The audit trail records who changed what through each door: command, task, plain SQL.

(The admin and API doors are in tests/admin/test_audit.py and tests/api/test_audit.py.)
"""

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from automation import tasks as automation_tasks
from characters.models import Character
from logs.audit import actor_of, door_of, object_history
from logs.models import CharacterEvent, ScheduledPostEvent
from tests import factories as f

ROOT = Path(__file__).resolve().parents[2]


def _database_url() -> str:
    params = connection.settings_dict
    user = params["USER"] or "postgres"
    host = params["HOST"] or "127.0.0.1"
    return f"postgres://{user}@{host}:{params['PORT']}/{params['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_a_change_from_the_shell_is_audited_as_a_command():
    character = f.CharacterFactory(name="Shell Sam")
    env = {**os.environ, "DATABASE_URL": _database_url(), "DB_POOL": "false"}
    code = (
        "from characters.models import Character; "
        f"Character.objects.filter(pk='{character.pk}').update(bio='set in the shell')"
    )
    proc = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    event = CharacterEvent.objects.get(pgh_obj_id=character.pk, pgh_label="update")
    assert event.bio == "set in the shell"
    assert door_of(event) == "command"
    assert event.pgh_context["command"] == "shell"
    assert "manage.py shell" in actor_of(event)


@pytest.mark.django_db(transaction=True)
def test_a_change_in_plain_sql_is_audited_with_its_database_session():
    character = f.CharacterFactory(name="Sql Sue")
    params = connection.settings_dict
    with psycopg.connect(
        host=params["HOST"] or "127.0.0.1",
        port=params["PORT"],
        dbname=params["NAME"],
        user=params["USER"] or "postgres",
        application_name="psql-by-hand",
        autocommit=True,
    ) as conn:
        conn.execute(
            "UPDATE characters SET status = 'paused' WHERE id = %s", [character.pk]
        )
        conn.execute("DELETE FROM characters WHERE id = %s", [character.pk])
    labels = list(
        CharacterEvent.objects.filter(pgh_obj_id=character.pk)
        .order_by("pgh_id")
        .values_list("pgh_label", flat=True)
    )
    assert labels == ["insert", "update", "delete"]
    deleted = CharacterEvent.objects.get(pgh_obj_id=character.pk, pgh_label="delete")
    assert door_of(deleted) == "sql" and deleted.pgh_context is None
    assert "psql-by-hand" in actor_of(deleted)
    assert deleted.pgh_db_session.startswith(params["USER"] or "postgres")
    assert deleted.name == "Sql Sue"  # the row as it was: the audit outlives it


@pytest.mark.django_db
def test_a_change_made_by_a_task_is_audited_as_the_task(settings):
    character = f.CharacterFactory()
    f.PlatformAccountFactory(character=character, platform="instagram")
    f.ContentFactory(
        character=character,
        content_type="image",
        approved=True,
        quality_score="0.9",
        is_nsfw=False,
    )
    rule = f.AutomationRuleFactory(
        character=character,
        platforms=["instagram"],
        trigger_type="manual",
        trigger_config={},
        cooldown_minutes=0,
        max_posts_per_day=None,
    )
    automation_tasks.run_rule.apply(kwargs={"rule_id": str(rule.pk)})
    event = ScheduledPostEvent.objects.get(pgh_label="insert")
    assert door_of(event) == "task"
    assert event.pgh_context["task"] == "automation.tasks.run_rule"
    assert actor_of(event) == "task automation.tasks.run_rule"


@pytest.mark.django_db
def test_a_task_queued_by_a_person_says_who_queued_it():
    """The publish signal puts the request's user into the message headers; the
    worker's prerun reads it back from the task request."""
    import pghistory

    from logs import audit

    headers = {}
    with pghistory.context(door="api", user_id=7, username="ann"):
        audit.on_before_publish(headers=headers)
    assert headers[audit.ACTOR_HEADER] == {
        "door": "api",
        "user_id": 7,
        "username": "ann",
    }

    class Request:
        audit_actor = headers[audit.ACTOR_HEADER]

    class Task:
        name = "automation.tasks.run_rule"
        request = Request()

    character = f.CharacterFactory()
    audit.on_task_prerun(task_id="t-1", task=Task())
    try:
        Character.objects.filter(pk=character.pk).update(bio="by the task")
    finally:
        audit.on_task_postrun(task_id="t-1")
    event = CharacterEvent.objects.get(pgh_obj_id=character.pk, pgh_label="update")
    assert actor_of(event) == "task automation.tasks.run_rule (queued by ann)"
    # and the context is closed after the task (the worker's next task starts clean)
    from pghistory.runtime import _tracker

    assert not hasattr(_tracker, "value")


@pytest.mark.django_db
def test_queryset_update_and_history_show_what_changed():
    character = f.CharacterFactory(bio="before")
    Character.objects.filter(pk=character.pk).update(bio="after", location="Oslo")
    latest, created = object_history(character)[:2]
    assert created["label"] == "insert" and created["changes"] is None
    assert latest["label"] == "update"
    assert latest["changes"]["bio"] == ["before", "after"]
    assert latest["changes"]["location"][1] == "Oslo"
