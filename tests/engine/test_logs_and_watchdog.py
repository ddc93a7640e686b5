"""system_logs from the project's loggers, retention, the stuck-work detector,
and heartbeats on the admin dashboard."""

import datetime as dt
import logging
import uuid

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from config import heartbeat
from config.celery import app as celery_app
from logs.maintenance import detect_stuck_work, purge_old_logs
from logs.models import SystemLog
from tests import factories as f

pytestmark = pytest.mark.django_db
TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQ"


def test_warnings_of_project_loggers_land_in_system_logs_with_context():
    post = f.PostFactory()
    logging.getLogger("platforms.publishing").warning(
        "could not refresh stats of %s",
        post.pk,
        extra={"character_id": post.character_id, "post_id": post.pk},
    )
    row = SystemLog.objects.get(component="platforms.publishing")
    assert row.log_level == "warning"
    assert row.message == f"could not refresh stats of {post.pk}"
    assert (row.character_id, row.post_id) == (post.character_id, post.pk)
    assert row.metadata["function"] == (
        "test_warnings_of_project_loggers_land_in_system_logs_with_context"
    )


def test_info_and_foreign_loggers_stay_out():
    logging.getLogger("platforms.publishing").info("published 3 posts")
    logging.getLogger("urllib3.connectionpool").warning("retrying")
    assert not SystemLog.objects.exists()


def test_errors_keep_the_exception_and_never_the_credentials():
    try:
        raise RuntimeError(f"GET https://api.telegram.org/bot{TOKEN}/getMe failed")
    except RuntimeError:
        logging.getLogger("platforms.adapters.telegram").exception(
            "telegram call failed, password=hunter2",
            extra={"context": {"bot_token": TOKEN, "chat_id": "-100"}},
        )
    row = SystemLog.objects.get()
    assert row.log_level == "error"
    stored = f"{row.message} {row.metadata}"
    assert TOKEN not in stored and "hunter2" not in stored
    assert "RuntimeError" in row.metadata["exception"]
    assert row.metadata["context"] == {"bot_token": "[redacted]", "chat_id": "-100"}


def test_the_console_never_prints_a_token_either(capsys):
    handler = logging.StreamHandler()
    from logs.handlers import ScrubFilter

    handler.addFilter(ScrubFilter())
    logger = logging.getLogger("urllib3.test")
    logger.addHandler(handler)
    try:
        logger.warning("Retrying after error: /bot%s/sendMessage", TOKEN)
    finally:
        logger.removeHandler(handler)
    err = capsys.readouterr().err
    assert "/bot[redacted]/sendMessage" in err and TOKEN not in err


def test_a_missing_reference_does_not_break_the_callers_commit():
    ghost = uuid.uuid4()
    with transaction.atomic():
        character = f.CharacterFactory()
        logging.getLogger("automation.engine").warning(
            "rule vanished", extra={"character_id": character.pk, "post_id": ghost}
        )
    row = SystemLog.objects.get(component="automation.engine")
    assert row.character_id == character.pk and row.post_id is None
    assert row.metadata["post_id"] == str(ghost)


def test_a_broken_transaction_loses_the_row_not_the_caller():
    character = f.CharacterFactory()
    # logged while the transaction is broken: no TransactionManagementError,
    # the caller's own IntegrityError is what propagates
    with pytest.raises(IntegrityError), transaction.atomic():
        try:
            with transaction.atomic(savepoint=False):
                f.CharacterFactory(age=-5)  # CHECK fails
        except IntegrityError:
            logging.getLogger("characters").error("could not save", exc_info=True)
            raise
    assert not SystemLog.objects.filter(component="characters").exists()
    # logged after a savepoint rolled back: written, the caller goes on
    with transaction.atomic():
        try:
            with transaction.atomic():
                f.CharacterFactory(age=-5)
        except IntegrityError:
            logging.getLogger("characters").error("could not save", exc_info=True)
        character.refresh_from_db()
    assert SystemLog.objects.filter(component="characters").count() == 1


def test_retention_removes_old_logs():
    """Old rows of a month without its partition (in DEFAULT) go too; whole
    months are dropped (tests/schema/test_partitions.py)."""
    old = f.SystemLogFactory.create_batch(25)
    recent = f.SystemLogFactory.create_batch(3)
    SystemLog.objects.filter(pk__in=[r.pk for r in old]).update(
        created_at=timezone.now() - dt.timedelta(days=91)
    )
    assert purge_old_logs(days=90) == 25
    assert set(SystemLog.objects.values_list("pk", flat=True)) == {r.pk for r in recent}
    with pytest.raises(ValueError, match="at least one day"):
        purge_old_logs(days=0)


def test_the_detector_flags_overdue_posts_and_stuck_generations(admin_client):
    now = timezone.now()
    overdue = f.ScheduledPostFactory()
    f.ScheduledPostFactory()  # in the future
    from platforms.models import ScheduledPost

    ScheduledPost.objects.filter(pk=overdue.pk).update(
        created_at=now - dt.timedelta(hours=2), scheduled_at=now - dt.timedelta(hours=1)
    )
    job = f.ContentGenerationFactory(status="processing")
    from content.models import ContentGeneration

    ContentGeneration.objects.filter(pk=job.pk).update(
        started_at=now - dt.timedelta(hours=3), locked_until=now - dt.timedelta(hours=1)
    )

    found = detect_stuck_work()

    assert (found["overdue_posts"], found["stuck_generations"]) == (1, 1)
    log = SystemLog.objects.get(component="engine.watchdog")
    assert "1 overdue posts" in log.message and "1 stuck generations" in log.message
    assert log.metadata["overdue_post_ids"] == [str(overdue.pk)]
    page = admin_client.get("/admin/").content.decode()
    stuck = page[page.index('id="dashboard-stuck"') :]
    assert "Posts due but not published" in stuck
    assert "when=overdue" in stuck and "dashboard-alert" in page


def test_a_quiet_detector_writes_no_log():
    assert detect_stuck_work()["overdue_posts"] == 0
    assert not SystemLog.objects.exists()


def test_the_dashboard_shows_heartbeats_of_each_periodic_task(admin_client):
    celery_app.conf.task_always_eager = True
    try:
        from platforms.tasks import publish_due_posts

        heartbeat.on_publish(sender="platforms.tasks.publish_due_posts")
        publish_due_posts.apply()  # runs here, through Celery's signals
    finally:
        celery_app.conf.task_always_eager = False
    beat = heartbeat.read(["platforms.tasks.publish_due_posts"])[
        "platforms.tasks.publish_due_posts"
    ]
    assert beat["state"] == "success" and beat["rows"] == 0
    assert beat["duration_ms"] >= 0 and beat["sent_at"]

    page = admin_client.get("/admin/").content.decode()
    engine = page[page.index('id="dashboard-engine"') :]
    assert "Publish due posts" in engine
    row = engine[engine.index("Publish due posts") :]
    row = row[: row.index("</tr>")]
    assert "s ago" in row and "ok" in row
    assert "never ran" in engine  # the others have not run in this test
