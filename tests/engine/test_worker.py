"""A real Celery worker on the real Redis broker publishes due posts."""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from platforms.models import ScheduledPost
from platforms.tasks import publish_due_posts
from tests import factories as f

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_worker_process_publishes_through_the_broker():
    sp = f.ScheduledPostFactory()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE scheduled_posts SET scheduled_at = created_at WHERE id = %s",
            [sp.pk],
        )
    db = settings.DATABASES["default"]
    queue = f"test-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DB_POOL": "false",
        # the worker must use the test database this test committed to
        "DATABASE_URL": (
            f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        ),
        "REDIS_URL": settings.REDIS_URL,
        # and the media folder the factories wrote the post's file into
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-P",
            "solo",
            "-Q",
            queue,
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel=WARNING",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        publish_due_posts.apply_async(queue=queue)
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline:
            status = ScheduledPost.objects.get(pk=sp.pk).status
            if status == "published":
                break
            time.sleep(0.3)
        assert status == "published", (
            worker.stdout.read1().decode() if worker.stdout else ""
        )
        # the worker left its heartbeat for the dashboard (Celery signals)
        from config import heartbeat

        task = "platforms.tasks.publish_due_posts"
        deadline = time.monotonic() + 10
        beat = {}
        while time.monotonic() < deadline and beat.get("state") != "success":
            beat = heartbeat.read([task]).get(task, {})
            time.sleep(0.2)
        assert beat["state"] == "success" and beat["rows"] == 1
        assert beat["sent_at"] and beat["duration_ms"] >= 0
    finally:
        worker.terminate()
        worker.wait(timeout=20)
