"""A real Celery worker on the real Redis broker publishes due posts."""

import contextlib
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
from tests.engine import platform_fakes

ROOT = Path(__file__).resolve().parents[2]


def _start_worker(env_extra: dict | None = None):
    """A solo Celery worker process on its own queue, on this test's database."""
    db = settings.DATABASES["default"]
    queue = f"test-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        # said explicitly, not left to DEBUG in a developer's .env; a test may
        # turn it off (env_extra)
        "PLATFORM_DRY_RUN": "true",
        **(env_extra or {}),
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
    return worker, queue


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_worker_process_publishes_through_the_broker():
    # a platform with an adapter (dry run here): one without is published by
    # hand, never by a worker
    sp = f.ScheduledPostFactory(
        platform_account=f.PlatformAccountFactory(platform="telegram")
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE scheduled_posts SET scheduled_at = created_at WHERE id = %s",
            [sp.pk],
        )
    worker, queue = _start_worker()
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


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_worker_process_publishes_to_every_platform_fake(tmp_path):
    """PLATFORM_DRY_RUN=false in a real worker: each platform's real adapter
    takes its due post to its loopback fake."""
    env_extra = {"PLATFORM_DRY_RUN": "false", "DEBUG": "true"}
    posts = {}
    with contextlib.ExitStack() as stack:
        wires = {
            p: stack.enter_context(platform_fakes.wired(p, media_root=tmp_path))
            for p in platform_fakes.PLATFORMS
        }
        for w in wires.values():
            env_extra |= {k: str(v) for k, v in w.settings.items()}
        # the fakes of Facebook and Instagram are one Graph API: one base URL
        env_extra["GRAPH_API_BASE"] = env_extra["INSTAGRAM_API_BASE"] = wires[
            "instagram"
        ].fake.url
        wires["facebook"].fake = wires["instagram"].fake
        for platform, w in wires.items():
            account, content = platform_fakes.account_and_content(w, tmp_path)
            posts[platform] = f.ScheduledPostFactory(
                platform_account=account,
                content=content,
                caption=f"end to end on {platform}",
                post_type=w.post_type,
            )
        with connection.cursor() as cursor:
            cursor.execute("UPDATE scheduled_posts SET scheduled_at = created_at")
        worker, queue = _start_worker(env_extra)
        try:
            publish_due_posts.apply_async(queue=queue)
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                states = dict(
                    ScheduledPost.objects.values_list(
                        "platform_account__platform", "status"
                    )
                )
                if all(s in ("published", "failed") for s in states.values()):
                    break
                time.sleep(0.3)
            errors = dict(
                ScheduledPost.objects.exclude(status="published").values_list(
                    "platform_account__platform", "error_message"
                )
            )
            assert not errors, errors
        finally:
            worker.terminate()
            worker.wait(timeout=20)
        for platform, w in wires.items():
            assert [t for t in w.delivered() if t and "end to end" in t], platform
