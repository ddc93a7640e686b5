"""celery beat outlives PostgreSQL outages (issue 11, item 6), on a throwaway
cluster of its own so that stopping PostgreSQL disturbs nothing else."""

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import redis

from tests.chaos.services import PostgresCluster, RedisServer, django_env

ROOT = Path(__file__).resolve().parents[2]
# django-celery-beat reloads the whole schedule at least every 5 minutes, a
# reload the stock scheduler does not survive during an outage; every 3 s here,
# so that the 15 s outage below is sure to contain reloads.
BEAT = """
import sys
import django
django.setup()
import django_celery_beat.schedulers
django_celery_beat.schedulers.SCHEDULE_SYNC_MAX_INTERVAL = 3
from celery.__main__ import main
sys.argv = ["celery", "-A", "config", "beat", "--loglevel=INFO", *sys.argv[1:]]
main()
"""
ADD_TASK = """
from django_celery_beat.models import IntervalSchedule, PeriodicTask
every, _ = IntervalSchedule.objects.get_or_create(every=1, period="seconds")
PeriodicTask.objects.create(
    name="{queue}", task="tests.beat.ping", interval=every, queue="{queue}"
)
"""


@pytest.fixture
def servers():
    """A migrated database on a PostgreSQL of its own, and a Redis broker."""
    folder = Path(tempfile.mkdtemp(prefix="ainfluencer-beat-"))
    folder.chmod(0o755)  # the postgres user reaches its data folder through it
    pg, broker = PostgresCluster(folder), RedisServer(folder)
    try:
        pg.init()
        broker.start()
        env = django_env(database_url=pg.url, redis_url=broker.url, folder=folder)
        manage(env, "migrate", "--noinput", "-v", "0")
        yield pg, broker, env, folder
    finally:
        broker.stop()
        pg.stop(mode="fast")
        shutil.rmtree(folder, ignore_errors=True)


def manage(env, *args) -> None:
    proc = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def wait_for_message(client: redis.Redis, queue: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if client.llen(queue):
            return True
        time.sleep(0.3)
    return False


@pytest.mark.slow
def test_beat_waits_out_postgresql_outages_and_schedules_again(servers):
    """GIVEN beat started while PostgreSQL is down, THEN it waits and schedules
    once the database is back; WHEN PostgreSQL then stops for 15 s, THEN beat
    is still running and sees a task added after the outage."""
    pg, broker, env, folder = servers
    manage(env, "shell", "-c", ADD_TASK.format(queue="before-outage"))
    client = redis.Redis.from_url(broker.url)
    pg.stop()
    log = open(folder / "beat.log", "w+")  # noqa: SIM115 - closed below
    beat = subprocess.Popen(
        [sys.executable, "-c", BEAT],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )

    def output() -> str:
        log.seek(0)
        return log.read()[-6000:]

    try:
        # its first read of the schedule failed, and it is still there
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and beat.poll() is None:
            if "the database is unreachable" in output():
                break
            time.sleep(0.3)
        time.sleep(2)
        assert beat.poll() is None, f"beat exited at start-up:\n{output()}"
        assert "the database is unreachable" in output(), output()
        pg.start()
        assert wait_for_message(client, "before-outage", 40), output()

        pg.stop()
        for _ in range(15):
            time.sleep(1)
            assert beat.poll() is None, f"beat exited in the outage:\n{output()}"
        pg.start()
        manage(env, "shell", "-c", ADD_TASK.format(queue="after-outage"))
        assert wait_for_message(client, "after-outage", 40), output()
        assert beat.poll() is None, output()
    finally:
        beat.terminate()
        beat.wait(timeout=20)
        log.close()
