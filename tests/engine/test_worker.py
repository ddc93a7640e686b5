"""A real Celery worker on the real Redis broker publishes due posts."""

import contextlib
import os
import re
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


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_captions_edited_while_a_real_worker_publishes_go_out_once(
    tmp_path, monkeypatch
):
    """Staff keep editing captions through the API while a real worker sends
    the posts to a slow platform: every post goes out exactly once, and an
    edit of a post being published is refused (409), never a 500. Before
    config/edits.py an edit saved the status it had read over the worker's:
    on that code this test left a post stuck in 'processing' in each of two
    runs (an edit that read it while it was sent wrote 'processing' back over
    'published')."""
    from collections import Counter

    from rest_framework.test import APIClient
    from rest_framework.throttling import UserRateThrottle

    from platforms.models import Post

    # as fast as a test can edit: the per-user rate is not what is tested here
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "1000000/min"})

    with platform_fakes.wired("telegram", media_root=tmp_path) as w:
        w.fake.mode, w.fake.slow_seconds = "slow", 0.25
        account, _ = platform_fakes.account_and_content(w, tmp_path)
        posts = [
            f.ScheduledPostFactory(
                platform_account=account, content=None, caption=f"post {n} edit 0"
            )
            for n in range(24)
        ]
        with connection.cursor() as cursor:
            cursor.execute("UPDATE scheduled_posts SET scheduled_at = created_at")
        api = APIClient()
        api.force_authenticate(f.UserFactory(is_superuser=True, is_staff=True))
        env = {"PLATFORM_DRY_RUN": "false", "DEBUG": "true", **w.settings}
        worker, queue = _start_worker({k: str(v) for k, v in env.items()})
        answers: Counter = Counter()
        try:
            publish_due_posts.apply_async(queue=queue)
            deadline = time.monotonic() + 90
            edit = 0
            while time.monotonic() < deadline:
                edit += 1
                for n, post in enumerate(posts):
                    response = api.patch(
                        f"/api/v1/scheduled-posts/{post.pk}/",
                        {"caption": f"post {n} edit {edit}"},
                        format="json",
                    )
                    answers[response.status_code] += 1
                    assert response.status_code in (200, 409), response.content
                states = Counter(ScheduledPost.objects.values_list("status", flat=True))
                if states == {"published": len(posts)}:
                    break
        finally:
            worker.terminate()
            worker.wait(timeout=20)
        states = Counter(ScheduledPost.objects.values_list("status", flat=True))
        assert states == {"published": len(posts)}, (states, answers)
        # each delivered form's text names its post: "post <n> edit <k>"
        sent = Counter(re.search(r"post \d+", body).group() for body in w.delivered())
        assert sent == {f"post {n}": 1 for n in range(len(posts))}, sent
        assert Post.objects.filter(platform_account=account).count() == len(posts)
        # the edits met the posts in every state: waiting, being published, sent
        assert answers[200] > 0 and answers[409] > 0, answers
