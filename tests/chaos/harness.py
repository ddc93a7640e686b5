"""One chaos run: real Celery workers publishing through a real adapter to a
loopback fake with injected faults, while workers are SIGKILLed and Redis and
PostgreSQL are stopped and started. See docs/operations.md, "Chaos suite".

The harness process is single-threaded: one loop runs the timeline (kills,
outages, restarts), sends the publishing task every `tick` seconds and prints
progress. Everything it starts runs in a folder of its own and is torn down in
`finally`, on Ctrl-C and on SIGTERM.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tests.chaos.platforms import PLATFORMS, ChaosPlatform
from tests.chaos.services import (
    PASSTHROUGH_ENV,
    PostgresCluster,
    RedisServer,
    die_with_parent,
    django_env,
)

ROOT = Path(__file__).resolve().parents[2]
TASK = "platforms.tasks.publish_due_posts"
MARKER = "chaos:"
MARKER_RE = re.compile(
    r"chaos:([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
)
# Celery terminates (SIGTERM) a running acks_late task when the worker loses the
# broker (worker_cancel_long_running_tasks_on_connection_loss): a kill too.
BROKER_LOSS_TERMINATION = "cannot be acknowledged after a connection loss"


@dataclass
class Plan:
    """What one run does. Defaults: the full run of `make chaos`."""

    platform: str = "telegram"
    posts: int = 10_500
    accounts: int = 100
    workers: int = 3
    concurrency: int = 2
    # publishing calls each pool process keeps in flight (PUBLISH_CALLS_IN_FLIGHT,
    # its production default)
    calls_in_flight: int = 4
    fault_seconds: float = 480.0
    # kills and outages happen in the first `chaos_window` of the fault phase
    # (posts keep coming due until `spread` of it)
    chaos_window: float = 0.9
    spread: float = 0.85
    kill_every: float = 15.0  # mean seconds between two kills
    child_kill_share: float = 0.5  # the rest kill a whole worker (main + children)
    restart_after: tuple[float, float] = (1.0, 5.0)
    redis_outages: int = 2
    redis_down: float = 20.0
    pg_outages: int = 2
    pg_down: float = 15.0
    hang: float = 0.01
    error500: float = 0.05
    error429: float = 0.02
    retry_after: int = 2
    connect_timeout: float = 2.0
    read_timeout: float = 3.0
    # QUEUE_TASK_BUDGET: how long one publishing task drains the queue; its hard
    # time limit is the budget + 20 s (platforms/tasks.py)
    task_budget: float = 30.0
    # a claimed post's lease: longer than the task's hard time limit, or a live
    # worker's posts would be taken over
    lease_seconds: int = 60
    retry_base_seconds: int = 2
    retry_max_seconds: int = 20
    tick: float = 1.0  # seconds between two publish_due_posts messages
    quiet_seconds: float = 240.0  # at most, for the engine to finish
    seed: int = 0
    label: str = ""

    @classmethod
    def short(cls, **overrides) -> Plan:
        """The variant `make test` runs: about two minutes."""
        values = {
            "posts": 800,
            "accounts": 40,
            "workers": 2,
            "fault_seconds": 50.0,
            "chaos_window": 0.6,
            "spread": 0.8,
            "kill_every": 5.0,
            "redis_outages": 1,
            "redis_down": 8.0,
            "pg_outages": 1,
            "pg_down": 10.0,
            "quiet_seconds": 110.0,
        }
        return cls(**(values | overrides))

    @property
    def hang_seconds(self) -> float:
        return self.connect_timeout + self.read_timeout + 2.0


@dataclass
class Event:
    t: float  # seconds since the fault phase began
    kind: str
    detail: str = ""


@dataclass
class Run:
    """What happened: the timeline and counters the report reads."""

    plan: Plan
    started: str = ""
    duration_s: float = 0.0
    phase_s: dict = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    kills: Counter = field(default_factory=Counter)
    outages: Counter = field(default_factory=Counter)
    triggers: Counter = field(default_factory=Counter)
    broker_loss_terminations: int = 0
    quiet_finished: bool = False
    journal: list[dict] = field(default_factory=list)
    posts: list[dict] = field(default_factory=list)
    recorded_twice: int = 0
    engine_commit: str = ""


class Abort(Exception):
    """SIGTERM/SIGINT: stop the run and tear everything down."""


def _raise_abort(signum, frame):
    raise Abort(signal.Signals(signum).name)


class Worker:
    """One `celery -A config worker` (prefork), in its own process group."""

    def __init__(self, index: int, *, env: dict, concurrency: int, logdir: Path):
        self.index = index
        self.env = env
        self.concurrency = concurrency
        self.log = logdir / f"worker{index}.log"
        self.proc: subprocess.Popen | None = None
        self.restart_at: float | None = None

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "config",
                    "worker",
                    "-P",
                    "prefork",
                    f"--concurrency={self.concurrency}",
                    "-n",
                    f"chaos{self.index}@%h",
                    "--without-gossip",
                    "--without-mingle",
                    "--loglevel=INFO",
                ],
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        self.restart_at = None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def children(self) -> list[int]:
        """The prefork pool's processes (children of the main process)."""
        if not self.alive:
            return []
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path("/proc", entry, "stat").read_text()
            except OSError:
                continue
            # pid (comm) state ppid ...: comm may hold spaces and parentheses
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == self.proc.pid:
                found.append(int(entry))
        return found

    def kill(self) -> None:
        """SIGKILL the main process and its pool at once (a crashed machine)."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            return  # gone already
        self.proc.wait()

    def stop(self, timeout: float = 20.0) -> None:
        """Warm shutdown (SIGTERM), then SIGKILL whatever is left."""
        if self.proc is None:
            return
        if self.alive:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=timeout)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        self.kill()


class Harness:
    def __init__(self, plan: Plan, *, keep: bool = False, out=sys.stdout):
        if plan.platform not in PLATFORMS:
            raise ValueError(
                f"unknown platform {plan.platform!r}; known: {', '.join(PLATFORMS)}"
            )
        self.plan = plan
        self.platform: ChaosPlatform = PLATFORMS[plan.platform]
        self.keep = keep
        self.out = out
        self.rng = random.Random(plan.seed)
        self.run = Run(plan=plan)
        self.dir = Path(tempfile.mkdtemp(prefix="ainfluencer-chaos-"))
        self.dir.chmod(0o755)  # the postgres user reaches its data folder through it
        self.pg = PostgresCluster(self.dir)
        self.redis = RedisServer(self.dir)
        self.workers: list[Worker] = []
        self.fake: subprocess.Popen | None = None
        self.journal_path = self.dir / "fake-journal.jsonl"
        self.t0 = 0.0

    # -- output ------------------------------------------------------------------

    def say(self, message: str) -> None:
        stamp = f"{time.monotonic() - self.t0:7.1f}s" if self.t0 else "  setup "
        print(f"[chaos {stamp}] {message}", file=self.out, flush=True)

    def event(self, kind: str, detail: str = "") -> None:
        t = round(time.monotonic() - self.t0, 1)
        self.run.events.append(Event(t, kind, detail))
        self.say(f"{kind} {detail}".rstrip())

    # -- the run -------------------------------------------------------------------

    def execute(self) -> Run:
        previous = {
            s: signal.signal(s, _raise_abort) for s in (signal.SIGTERM, signal.SIGINT)
        }
        began = time.monotonic()
        self.run.started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        try:
            self.setup()
            self.fault_phase()
            self.quiet_phase()
            self.collect()
        finally:
            self.teardown()
            for s, handler in previous.items():
                signal.signal(s, handler)
            self.run.duration_s = round(time.monotonic() - began, 1)
        return self.run

    def setup(self) -> None:
        plan = self.plan
        self.say(f"run folder {self.dir}")
        self.run.engine_commit = _git_commit()
        started = time.monotonic()
        self.pg.init()
        self.redis.start()
        self.say(
            f"PostgreSQL on 127.0.0.1:{self.pg.port}, Redis on 127.0.0.1:{self.redis.port}"
        )
        self.start_fake()
        self.env = self.process_env()
        migrate = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        if migrate.returncode:
            raise RuntimeError(f"migrate failed:\n{migrate.stdout}{migrate.stderr}")
        # this process reads and seeds the run's database through Django too
        for key in list(os.environ):
            if key not in PASSTHROUGH_ENV:
                del os.environ[key]
        os.environ.update(self.env)
        import django

        django.setup()
        self.seed()
        self.workers = [
            Worker(i, env=self.env, concurrency=plan.concurrency, logdir=self.dir)
            for i in range(plan.workers)
        ]
        for worker in self.workers:
            worker.start()
        self.run.phase_s["setup"] = round(time.monotonic() - started, 1)

    def process_env(self) -> dict[str, str]:
        plan = self.plan
        return django_env(
            database_url=self.pg.url,
            redis_url=self.redis.url,
            folder=self.dir,
            QUEUE_TASK_BUDGET=str(plan.task_budget),
            PUBLISH_LEASE_SECONDS=str(plan.lease_seconds),
            PUBLISH_CALLS_IN_FLIGHT=str(plan.calls_in_flight),
            PUBLISH_RETRY_BASE_SECONDS=str(plan.retry_base_seconds),
            PUBLISH_RETRY_MAX_SECONDS=str(plan.retry_max_seconds),
            **self.platform.adapter_env(
                self.fake_url, plan.connect_timeout, plan.read_timeout
            ),
        )

    def start_fake(self) -> None:
        plan = self.plan
        self.fake = subprocess.Popen(
            [
                sys.executable,
                "-m",
                self.platform.fake_module,
                "--journal",
                str(self.journal_path),
                "--hang",
                str(plan.hang),
                "--error500",
                str(plan.error500),
                "--error429",
                str(plan.error429),
                "--hang-seconds",
                str(plan.hang_seconds),
                "--retry-after",
                str(plan.retry_after),
                "--seed",
                str(plan.seed),
            ],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=open(self.dir / "fake.log", "ab"),  # noqa: SIM115 - the child's
            text=True,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        line = self.fake.stdout.readline().strip()
        if not line.startswith("listening "):
            raise RuntimeError(f"the fake did not start: {line!r}")
        self.fake_url = line.split(" ", 1)[1]
        self.say(f"{self.plan.platform} fake at {self.fake_url}")

    def seed(self) -> None:
        """Characters and accounts in bulk, the posts in one INSERT ... SELECT."""
        from django.db import connection, transaction

        from characters.models import Character
        from platforms.models import PlatformAccount

        plan = self.plan
        with transaction.atomic():
            characters = Character.objects.bulk_create(
                Character(name=f"Chaos persona {n}") for n in range(plan.accounts)
            )
            accounts = []
            for n, character in enumerate(characters):
                account_id, auth_data = self.platform.account(n)
                accounts.append(
                    PlatformAccount(
                        character=character,
                        platform=plan.platform,
                        account_username=f"chaos_{n}",
                        account_id=account_id,
                        auth_data=auth_data,
                        is_connected=True,
                        connection_status=PlatformAccount.ConnectionStatus.CONNECTED,
                    )
                )
            PlatformAccount.objects.bulk_create(accounts)
            with connection.cursor() as cursor:
                # due over the first `spread` of the fault phase; the caption
                # carries the marker the fake's journal is searched for
                cursor.execute(
                    """
                    INSERT INTO scheduled_posts (id, character_id, platform_account_id,
                        scheduled_at, timezone, caption, post_type, status, retry_count,
                        max_retries, created_at, updated_at)
                    SELECT s.id, a.character_id, a.id,
                           now() + make_interval(secs => s.g * %(spread)s / %(n)s),
                           'UTC', %(marker)s || s.id || ' post ' || s.g, 'post',
                           'scheduled', 0, 3, now(), now()
                    FROM (SELECT gen_random_uuid() AS id, g
                          FROM generate_series(0, %(n)s - 1) g) s
                    JOIN (SELECT id, character_id,
                                 row_number() OVER (ORDER BY id) - 1 AS k
                          FROM platform_accounts WHERE platform = %(platform)s) a
                      ON a.k = s.g %% %(accounts)s
                    """,
                    {
                        "n": plan.posts,
                        "spread": plan.fault_seconds * plan.spread,
                        "marker": MARKER,
                        "platform": plan.platform,
                        "accounts": plan.accounts,
                    },
                )
        connection.close()
        self.say(
            f"seeded {plan.posts:,} posts on {plan.accounts} {plan.platform} accounts"
        )

    def timeline(self) -> list[tuple[float, str]]:
        """(seconds into the fault phase, action), drawn from the run's seed."""
        plan = self.plan
        window = plan.fault_seconds * plan.chaos_window
        actions: list[tuple[float, str]] = []
        t = 2.0
        while True:
            t += self.rng.expovariate(1 / plan.kill_every)
            if t >= window:
                break
            kind = (
                "kill-child"
                if self.rng.random() < plan.child_kill_share
                else "kill-worker"
            )
            actions.append((t, kind))
        outages = ["redis"] * plan.redis_outages + ["postgres"] * plan.pg_outages
        # alternate the two kinds, evenly over the window, never overlapping
        order = []
        redis, pg = (
            outages.count("redis"),
            outages.count("postgres"),
        )
        while redis or pg:
            if redis >= pg and redis:
                order.append("redis")
                redis -= 1
            if pg:
                order.append("postgres")
                pg -= 1
        slot = window / (len(order) + 1)
        for i, kind in enumerate(order, start=1):
            actions.append((slot * i + self.rng.uniform(-0.1, 0.1) * slot, kind))
        return sorted(actions)

    def fault_phase(self) -> None:
        plan = self.plan
        self.app = _celery_client(self.redis.url)
        self.t0 = time.monotonic()
        actions = self.timeline()
        ends: list[tuple[float, str]] = []  # (t, service) of outages to end
        end = plan.fault_seconds
        next_tick = next_progress = 0.0
        self.say(
            f"fault phase: {plan.fault_seconds:.0f} s, {len(actions)} planned "
            f"kills/outages, {plan.workers} workers x {plan.concurrency}"
        )
        while (now := time.monotonic() - self.t0) < end or ends:
            while actions and actions[0][0] <= now:
                _, action = actions.pop(0)
                if action.startswith("kill"):
                    self.kill(action)
                else:
                    down = plan.redis_down if action == "redis" else plan.pg_down
                    self.outage_start(action)
                    ends.append((now + down, action))
            for item in [e for e in ends if e[0] <= now]:
                ends.remove(item)
                self.outage_end(item[1])
            self.restart_due_workers(now)
            if now >= next_tick:
                self.trigger()
                next_tick = now + plan.tick
            if now >= next_progress:
                self.progress()
                next_progress = now + 15
            time.sleep(0.05)
        self.run.phase_s["fault"] = round(time.monotonic() - self.t0, 1)

    def kill(self, action: str) -> None:
        alive = [w for w in self.workers if w.alive]
        if not alive:
            self.event("skip", f"{action}: no worker alive")
            return
        worker = self.rng.choice(alive)
        if action == "kill-child":
            children = worker.children()
            if not children:
                self.event("skip", f"kill-child: worker {worker.index} has no pool yet")
                return
            pid = self.rng.choice(children)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                self.event("skip", f"kill-child: {pid} gone")
                return
            self.run.kills["children"] += 1
            self.event("kill-child", f"worker {worker.index} pool process {pid}")
        else:
            worker.kill()
            self.run.kills["workers"] += 1
            worker.restart_at = (
                time.monotonic() - self.t0 + self.rng.uniform(*self.plan.restart_after)
            )
            self.event("kill-worker", f"worker {worker.index} (main + pool)")

    def restart_due_workers(self, now: float) -> None:
        """Restart killed workers when their time comes, and, as a supervisor
        would (compose's restart policy), a worker that exited by itself."""
        for worker in self.workers:
            if worker.restart_at is None and not worker.alive:
                code = worker.proc.returncode if worker.proc else None
                self.run.kills["exited_by_itself"] += 1
                self.event("worker-exited", f"worker {worker.index} exit code {code}")
                worker.restart_at = now + self.plan.restart_after[0]
            if worker.restart_at is not None and worker.restart_at <= now:
                worker.start()
                self.event("restart", f"worker {worker.index}")

    def outage_start(self, service: str) -> None:
        if service == "redis":
            self.redis.stop()
        else:
            self.pg.stop(mode="immediate")
        self.run.outages[service] += 1
        self.event(f"{service}-down")

    def outage_end(self, service: str) -> None:
        (self.redis if service == "redis" else self.pg).start()
        self.event(f"{service}-up")

    def trigger(self) -> None:
        try:
            self.app.send_task(TASK, expires=max(5.0, 5 * self.plan.tick), retry=False)
            self.run.triggers["sent"] += 1
        except Exception:  # noqa: BLE001 - broker down: the next tick tries again
            self.run.triggers["failed"] += 1

    def status_counts(self) -> dict[str, int] | None:
        from django.db import DatabaseError, connection

        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT status, count(*) FROM scheduled_posts GROUP BY status"
                )
                return dict(cursor.fetchall())
        except DatabaseError:
            return None
        finally:
            connection.close()

    def journal_lines(self) -> int:
        try:
            with open(self.journal_path, "rb") as journal:
                return sum(1 for _ in journal)
        except OSError:
            return 0

    def progress(self) -> None:
        counts = self.status_counts() if self.pg.running else None
        shown = (
            ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
            if counts is not None
            else "database unreachable"
        )
        alive = sum(w.alive for w in self.workers)
        self.say(
            f"posts: {shown}; fake calls {self.journal_lines()}; workers alive "
            f"{alive}/{len(self.workers)}; kills "
            f"{self.run.kills['children'] + self.run.kills['workers']}"
        )

    def quiet_phase(self) -> None:
        """No more faults: restart what is down, let the engine finish."""
        started = time.monotonic()
        for worker in self.workers:
            if not worker.alive:
                worker.start()
                self.event("restart", f"worker {worker.index} (quiet phase)")
        if not self.redis.running:
            self.outage_end("redis")
        if not self.pg.running:
            self.outage_end("postgres")
        self.say(f"quiet phase: at most {self.plan.quiet_seconds:.0f} s")
        deadline = started + self.plan.quiet_seconds
        next_tick = next_poll = next_progress = 0.0
        while (now := time.monotonic()) < deadline:
            if now >= next_tick:
                self.trigger()
                next_tick = now + self.plan.tick
            if now >= next_poll:
                counts = self.status_counts() or {}
                pending = counts.get("scheduled", 0) + counts.get("processing", 0)
                if counts and not pending:
                    self.run.quiet_finished = True
                    break
                next_poll = now + 2
            if now >= next_progress:
                self.progress()
                next_progress = now + 15
            self.restart_due_workers(now - self.t0)
            time.sleep(0.05)
        self.run.phase_s["quiet"] = round(time.monotonic() - started, 1)
        self.say(
            "every post reached a final state"
            if self.run.quiet_finished
            else "quiet phase time limit reached with posts still pending"
        )

    def collect(self) -> None:
        from django.db import connection

        for worker in self.workers:
            worker.stop()
        self.stop_fake()
        self.run.journal = [
            json.loads(line)
            for line in self.journal_path.read_text().splitlines()
            if line.strip()
        ]
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT sp.id::text, sp.status, sp.error_message, sp.retry_count, "
                "p.platform_post_id FROM scheduled_posts sp "
                "LEFT JOIN posts p ON p.id = sp.post_id WHERE sp.caption LIKE %s",
                [MARKER + "%"],
            )
            names = [c.name for c in cursor.description]
            self.run.posts = [dict(zip(names, row, strict=True)) for row in cursor]
            cursor.execute(
                "SELECT count(*) FROM (SELECT caption FROM posts WHERE caption "
                "LIKE %s GROUP BY caption HAVING count(*) > 1) d",
                [MARKER + "%"],
            )
            self.run.recorded_twice = cursor.fetchone()[0]
        connection.close()
        self.run.broker_loss_terminations = sum(
            w.log.read_text(errors="replace").count(BROKER_LOSS_TERMINATION)
            for w in self.workers
            if w.log.exists()
        )

    def stop_fake(self) -> None:
        if self.fake is not None and self.fake.poll() is None:
            self.fake.terminate()
            try:
                self.fake.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.fake.kill()
                self.fake.wait()

    def teardown(self) -> None:
        for worker in self.workers:
            worker.kill()
        self.stop_fake()
        self.redis.stop()
        self.pg.stop(mode="fast")
        if self.keep:
            self.say(f"kept {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


def _celery_client(broker_url: str):
    """A bare Celery client: sends by name, fails fast while Redis is down."""
    from celery import Celery

    app = Celery("chaos-trigger", broker=broker_url, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        broker_connection_timeout=1.0,
        broker_connection_retry=False,
        broker_transport_options={"socket_connect_timeout": 1, "socket_timeout": 2},
    )
    return app


def _git_commit() -> str:
    """The last commit that changed the engine's apps, "+changes" when the
    working tree changes them too: what a row of results is about."""

    def git(*args) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()

    engine = (
        "platforms",
        "content",
        "automation",
        "config/settings.py",
        "config/celery.py",
    )
    commit = git("log", "-1", "--format=%h", "--", *engine)
    return commit + ("+changes" if git("status", "--porcelain", "--", *engine) else "")


def plan_dict(plan: Plan) -> dict:
    return asdict(plan)
