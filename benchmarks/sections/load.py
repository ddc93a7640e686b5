"""The system over HTTP with many clients: gunicorn with the project's config
(DEBUG off, WhiteNoise, the connection pool) next to the schema document's
stack (FastAPI + SQLAlchemy 2 under uvicorn, benchmarks/reference) on the
same database, with the same number of worker processes, loaded by wrk.

Each endpoint at each level of concurrency runs for `--load-seconds` (the
cold-cache detail: each character once); the rows give requests per second,
p50/p95/p99 and errors, and two more rows per stack the resident memory of
its workers. The targets are the issue's (BENCHMARKS.md, "Load").
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from benchmarks.context import Bench, BenchError
from benchmarks.load_report import (
    ADMIN_P95_MS,
    API_P95_MS,
    DJANGO,
    REFERENCE,
    WORKER_RSS_MB,
)
from benchmarks.loadgen import (
    DatabaseActivity,
    LoadError,
    MemorySampler,
    Run,
    Server,
    describe_activity,
    free_port,
    run_wrk,
    wrk_available,
)
from benchmarks.report import Result
from benchmarks.web import bench_user
from characters.models import Character
from characters.selectors import character_cache_invalidate
from config.api_tokens import api_token_create, api_tokens_revoke
from config.permissions import ADMINISTRATORS
from platforms.models import ScheduledPost
from platforms.services import scheduled_post_problems

HOST = "127.0.0.1"


@dataclass
class Endpoint:
    """One thing to load: its requests, and which stacks serve it."""

    key: str
    what: str
    requests: list[tuple[str, str | None]]
    method: str = "GET"
    kind: str = "api"  # api | write | admin
    reference: bool = True  # the FastAPI reference serves it too
    # called before each run, per stack (empty a cache)
    before: Callable[[str], None] | None = None
    # each request once: stop after this many (0: run for the duration)
    once: bool = False
    # a slow request (a write) runs at least this long, whatever --load-seconds
    min_seconds: float = 0.0


def run(bench: Bench) -> list[Result]:
    if not wrk_available():
        raise BenchError("wrk is not installed: `make bench` installs it (apt wrk).")
    if not bench.character:
        raise BenchError("The load section needs a character with published posts.")
    workdir = Path(settings.BASE_DIR) / ".local" / "bench-load"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    fixture = _Fixture(bench)
    endpoints = fixture.endpoints()
    if bench.load_endpoints:
        unknown = set(bench.load_endpoints) - {e.key for e in endpoints}
        if unknown:
            raise BenchError(f"Unknown load endpoints: {', '.join(sorted(unknown))}")
        endpoints = [e for e in endpoints if e.key in bench.load_endpoints]
    fixture.selected = endpoints
    django = _django_server(bench, workdir)
    if any(e.kind == "admin" for e in endpoints):
        _collectstatic(django.env)
    reference = _reference_server(bench, workdir)
    results: list[Result] = []
    samplers: dict[str, MemorySampler] = {}
    load_before = os.getloadavg()
    try:
        for server in (django, reference):
            bench.say(f"   starting {server.name} ({bench.load_workers} workers)")
            server.start()
            samplers[server.name] = MemorySampler(server).__enter__()
        fixture.check(django.port, reference.port)
        for endpoint in endpoints:
            stacks = [(DJANGO, django)]
            if endpoint.reference:
                stacks.append((REFERENCE, reference))
            if bench.load_warmup > 0:
                # every worker and thread of both stacks serves this endpoint
                # before it is measured: a worker's first request of a kind
                # (lazy imports, first compiles) is not what users meet
                for _stack, server in stacks:
                    _load(
                        bench,
                        server,
                        fixture,
                        endpoint,
                        max(bench.load_clients),
                        workdir,
                        seconds=bench.load_warmup,
                    )
                    _settle(django, reference)
            for clients in bench.load_clients:
                for stack, server in stacks:
                    if endpoint.before:
                        endpoint.before(stack)
                    workers_before = set(samplers[server.name].peak)
                    with DatabaseActivity(_database_url()) as activity:
                        run_ = _load(bench, server, fixture, endpoint, clients, workdir)
                    _settle(django, reference)
                    results.append(_row(endpoint, stack, clients, run_))
                    # a worker replaced during the run (max_requests, the
                    # memory bound): its successor's first requests are cold
                    started = set(samplers[server.name].peak) - workers_before
                    results[-1].extra["background"] = activity.summary() | {
                        "workers_started": len(started)
                    }
                    bench.say(
                        f"   {endpoint.key:18} {stack:8} {clients:3} clients "
                        f"{run_.rps:8.1f} rps  p50 {run_.p50_ms:7.2f}  "
                        f"p95 {run_.p95_ms:7.2f}  p99 {run_.p99_ms:7.2f} ms  "
                        f"errors {run_.errors}"
                    )
                    beside = describe_activity(results[-1].extra["background"])
                    if beside:
                        bench.say(f"      beside it: {beside}")
        for name, sampler in samplers.items():
            sampler.__exit__(None, None, None)
            results += _memory_rows(name, sampler, bench.load_workers)
        results.append(_conditions(bench, load_before, os.getloadavg()))
    finally:
        for sampler in samplers.values():
            sampler.__exit__(None, None, None)
        for server in (django, reference):
            server.stop()
        fixture.cleanup()
    _judge(results)
    return results


# --- the data each run needs -----------------------------------------------------------


class _Fixture:
    """The token, the logged-in session and the ids the requests use."""

    def __init__(self, bench: Bench) -> None:
        self.bench = bench
        self.character = str(bench.character)
        self.selected: list[Endpoint] = []
        api_user = bench_user("bench-api", group=ADMINISTRATORS)
        api_tokens_revoke(user=api_user)  # knox keeps digests only: a fresh one
        _, self.token = api_token_create(user=api_user)
        self.admin = bench_user("bench-admin", superuser=True)
        client = Client()
        client.force_login(self.admin)
        self.session = client.cookies[settings.SESSION_COOKIE_NAME].value
        self.characters = [
            str(pk)
            for pk in Character.objects.order_by("created_at").values_list(
                "pk", flat=True
            )[: bench.load_cold_characters]
        ]
        # posts the platform accepts as they are: a PATCH of the caption is
        # checked against the platform's rules (the seeded rows are random)
        candidates = list(
            ScheduledPost.objects.filter(
                status=ScheduledPost.Status.SCHEDULED,
                scheduled_at__gt=timezone.now() + dt.timedelta(hours=1),
            )
            .select_related("platform_account", "content")
            .defer("platform_account__auth_data")
            .order_by("scheduled_at")[:2000]
        )
        problems = scheduled_post_problems(candidates)
        self.scheduled = [
            str(post.pk)
            for post, found in zip(candidates, problems, strict=True)
            if not found
        ][:200]
        if not self.scheduled:
            raise BenchError("No scheduled post due after the next hour to PATCH.")
        self._captions: dict[str, str | None] = {
            str(pk): caption
            for pk, caption in ScheduledPost.objects.filter(
                pk__in=self.scheduled
            ).values_list("pk", "caption")
        }

    def api_headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Token {self.token}",
            "Accept": "application/json",
            # as the TLS-terminating proxy sets it (SECURE_SSL_REDIRECT is on)
            "X-Forwarded-Proto": "https",
        }

    def admin_headers(self) -> dict[str, str]:
        return {
            "Cookie": f"{settings.SESSION_COOKIE_NAME}={self.session}",
            "X-Forwarded-Proto": "https",
        }

    def endpoints(self) -> list[Endpoint]:
        c = self.character
        since = (timezone.localdate() - dt.timedelta(days=90)).isoformat()
        return [
            Endpoint(
                "detail-cached",
                "character detail, cached (Redis)",
                [(f"/api/v1/characters/{c}/", None)],
                before=lambda stack: self._empty_detail_cache(),
            ),
            Endpoint(
                "detail-uncached",
                "character detail, uncached (each character once, cache emptied first)",
                [(f"/api/v1/characters/{pk}/", None) for pk in self.characters],
                before=lambda stack: self._empty_detail_cache(),
                once=True,
            ),
            Endpoint(
                "posts",
                "posts of a character by status, cursor page of 50",
                [
                    (
                        f"/api/v1/posts/?character={c}&status=published"
                        "&ordering=-published_at&page_size=50",
                        None,
                    )
                ],
            ),
            Endpoint(
                "content",
                "content of a character by type and approval, page of 50",
                [
                    (
                        f"/api/v1/content/?character={c}&content_type=image"
                        "&approval_status=approved&page_size=50",
                        None,
                    )
                ],
            ),
            Endpoint(
                "series",
                "analytics series of a character, 90 days",
                [
                    (
                        f"/api/v1/analytics/series/?character={c}"
                        f"&metric_type=follower_count&date_from={since}",
                        None,
                    )
                ],
            ),
            Endpoint(
                "characters",
                "character list, page of 50",
                [("/api/v1/characters/?page_size=50", None)],
            ),
            Endpoint(
                "patch",
                "PATCH of a scheduled post's caption",
                [
                    (
                        f"/api/v1/scheduled-posts/{pk}/",
                        json.dumps({"caption": f"Load test caption {n}"}),
                    )
                    for n, pk in enumerate(self.scheduled)
                ],
                method="PATCH",
                kind="write",
                reference=False,
                min_seconds=3,
            ),
            Endpoint(
                "admin-posts",
                "admin posts changelist (logged in)",
                [(reverse("admin:platforms_post_changelist"), None)],
                kind="admin",
                reference=False,
            ),
            Endpoint(
                "admin-character",
                "admin character page (logged in)",
                [(reverse("admin:characters_character_change", args=[c]), None)],
                kind="admin",
                reference=False,
            ),
        ]

    def _empty_detail_cache(self) -> None:
        character_cache_invalidate(*self.characters, self.character)
        redis = cache._cache.get_client(write=True)  # type: ignore[attr-defined]
        keys = [f"ref:character:{pk}" for pk in {*self.characters, self.character}]
        redis.delete(*keys)

    def check(self, django_port: int, reference_port: int) -> None:
        """One request of each endpoint answers 2xx on its stacks (a wrong id or
        a refused token would otherwise be measured as fast errors), and both
        stacks answer with the same JSON fields."""
        import urllib.error
        import urllib.request

        for endpoint in self.selected:
            shapes: list[object] = []
            ports = [django_port] + ([reference_port] if endpoint.reference else [])
            path, body = endpoint.requests[0]
            headers = (
                self.admin_headers() if endpoint.kind == "admin" else self.api_headers()
            )
            if body is not None:
                headers = headers | {"Content-Type": "application/json"}
            for port in ports:
                request = urllib.request.Request(
                    f"http://{HOST}:{port}{path}",
                    data=None if body is None else body.encode(),
                    headers=headers,
                    method=endpoint.method,
                )
                try:
                    with urllib.request.urlopen(request, timeout=30) as response:
                        status = response.status
                        if endpoint.kind == "api":
                            shapes.append(json_shape(json.loads(response.read())))
                except urllib.error.HTTPError as exc:
                    raise BenchError(
                        f"{endpoint.method} {path} on port {port} answered "
                        f"{exc.code}: {exc.read()[:300]!r}"
                    ) from None
                if status >= 300:
                    raise BenchError(f"{endpoint.method} {path} answered {status}")
            if len(shapes) == 2 and shapes[0] != shapes[1]:
                raise BenchError(
                    f"{path}: the reference answers other fields than Django: "
                    f"{shapes[1]} against {shapes[0]}"
                )

    def cleanup(self) -> None:
        """The PATCHed captions back as they were; the detail caches emptied."""
        for pk, caption in self._captions.items():
            ScheduledPost.objects.filter(pk=pk).update(caption=caption)
        self._empty_detail_cache()


def json_shape(data: object) -> object:
    """The field names of a JSON answer, nested (a list: its first item's)."""
    if isinstance(data, dict):
        return {key: json_shape(value) for key, value in sorted(data.items())}
    if isinstance(data, list):
        return [json_shape(data[0])] if data else []
    return None


def _settle(*servers: Server) -> None:
    """Each run starts on idle servers: what wrk left in flight when it
    stopped (up to 32 requests of the level before, or of the warm-up) runs to
    its end first, on both stacks."""
    for server in servers:
        server.wait_idle()


def _load(
    bench: Bench,
    server: Server,
    fixture: _Fixture,
    endpoint: Endpoint,
    clients: int,
    workdir: Path,
    *,
    seconds: float | None = None,
) -> Run:
    headers = (
        fixture.admin_headers() if endpoint.kind == "admin" else fixture.api_headers()
    )
    if endpoint.method != "GET":
        headers["Content-Type"] = "application/json"
    limit = 0
    if endpoint.once:
        # requests in flight when wrk stops must not go round to a cached one
        limit = max(1, len(endpoint.requests) - clients)
    try:
        return run_wrk(
            f"http://{HOST}:{server.port}",
            endpoint.requests,
            clients=clients,
            seconds=seconds or max(bench.load_seconds, endpoint.min_seconds),
            method=endpoint.method,
            headers=headers,
            limit=limit,
            script_dir=workdir,
        )
    except LoadError as exc:
        raise BenchError(f"{endpoint.key} on {server.name}: {exc}") from exc


# --- the servers ------------------------------------------------------------------------


def _database_url() -> str:
    db = settings.DATABASES["default"]
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return (
        f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}"
    )


def _base_env() -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "PYTHONPATH", "VIRTUAL_ENV")
    return {k: v for k, v in os.environ.items() if k in keep}


def _django_server(bench: Bench, workdir: Path) -> Server:
    port = free_port()
    env = _base_env() | {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "false",
        # this process's keys (the sessions it signs in must be valid there)
        "SECRET_KEY": os.environ.get("SECRET_KEY", settings.SECRET_KEY),
        "CRYPTOGRAPHY_KEY": os.environ["CRYPTOGRAPHY_KEY"],
        "DATABASE_URL": _database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CACHE_KEY_PREFIX": settings.CACHES["default"].get("KEY_PREFIX", ""),
        "ALLOWED_HOSTS": f"{HOST},localhost",
        "STATIC_ROOT": str(settings.STATIC_ROOT),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "GUNICORN_BIND": f"{HOST}:{port}",
        "WEB_CONCURRENCY": str(bench.load_workers),
        # the per-user throttle still runs (its Redis script on every request),
        # at a rate the load cannot reach: a 429 would be measured as an error
        "API_THROTTLE_USER": "1000000/min",
        "LOG_LEVEL": "WARNING",
    }
    env.update(bench.load_env)
    return Server(
        name="gunicorn",
        argv=[
            str(Path(sys.executable).parent / "gunicorn"),
            "config.wsgi:application",
            "-c",
            "config/gunicorn.conf.py",
            "--access-logfile",
            str(workdir / "gunicorn-access.log"),
        ],
        env=env,
        port=port,
        log=workdir / "gunicorn.log",
        probe="/health/",
    )


def _reference_server(bench: Bench, workdir: Path) -> Server:
    port = free_port()
    db = urlsplit(_database_url())
    env = _base_env() | {
        "REF_DATABASE_URL": db._replace(scheme="postgresql+psycopg").geturl(),
        "REF_REDIS_URL": settings.REDIS_URL,
    }
    return Server(
        name="uvicorn",
        argv=[
            str(Path(sys.executable).parent / "uvicorn"),
            "benchmarks.reference.app:app",
            "--host",
            HOST,
            "--port",
            str(port),
            "--workers",
            str(bench.load_workers),
            # uvicorn's default access log stays on, as gunicorn's does
            "--log-level",
            "info",
        ],
        env=env,
        port=port,
        log=workdir / "uvicorn.log",
        probe="/api/v1/characters/",
    )


def _collectstatic(env: dict[str, str]) -> None:
    """The admin's pages need the manifest of the static files, written with
    the server's settings (DEBUG off: WhiteNoise's compressed manifest)."""
    proc = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode:
        raise BenchError(f"collectstatic failed: {proc.stderr[-2000:]}")


# --- rows --------------------------------------------------------------------------------


def _row(endpoint: Endpoint, stack: str, clients: int, run_: Run) -> Result:
    return Result(
        section="load",
        what=f"{endpoint.what} · {stack} · {clients} clients",
        median_ms=round(run_.p50_ms, 3),
        p95_ms=round(run_.p95_ms, 3),
        note="",
        extra={
            "endpoint": endpoint.key,
            "title": endpoint.what,
            "kind": endpoint.kind,
            "stack": stack,
            "clients": clients,
            "rps": round(run_.rps, 1),
            "p99_ms": round(run_.p99_ms, 3),
            "max_ms": round(run_.max_ms, 3),
            "mean_ms": round(run_.mean_ms, 3),
            "requests": run_.requests,
            "seconds": round(run_.seconds, 2),
            "errors": run_.errors,
            "error_detail": run_.error_detail,
        },
    )


def _memory_rows(name: str, sampler: MemorySampler, workers: int) -> list[Result]:
    stack = DJANGO if name == "gunicorn" else REFERENCE
    live = {
        pid: kib
        for pid, kib in sampler.last.items()
        if pid in set(sampler.server.workers())
    }
    end = max(live.values(), default=0) / 1024
    peak = max(sampler.peak.values(), default=0) / 1024
    note = (
        f"{len(sampler.peak)} worker processes seen ({workers} at a time); "
        f"at the end: {', '.join(f'{kib / 1024:.0f}' for kib in live.values())} MB"
    )
    return [
        Result(
            section="load",
            what=f"web worker resident memory · {stack}",
            median_ms=0.0,
            p95_ms=0.0,
            target=f"< {WORKER_RSS_MB} MB at the end of the run"
            if stack == DJANGO
            else "",
            note=note,
            extra={
                "endpoint": "memory",
                "kind": "memory",
                "stack": stack,
                "end_mb": round(end, 1),
                "peak_mb": round(peak, 1),
            },
        )
    ]


def _conditions(
    bench: Bench, before: tuple[float, ...], after: tuple[float, ...]
) -> Result:
    """How busy the machine was (other work shares its cores with the run)."""
    cores = os.cpu_count() or 1
    return Result(
        section="load",
        what="machine load",
        median_ms=0.0,
        p95_ms=0.0,
        note=(
            f"{cores} cores; load average (1/5/15 min) before the section "
            f"{before[0]:.1f}/{before[1]:.1f}/{before[2]:.1f}, after "
            f"{after[0]:.1f}/{after[1]:.1f}/{after[2]:.1f}; {bench.load_workers} "
            f"workers per stack, {bench.load_seconds:.0f} s per run after "
            f"{bench.load_warmup:g} s of unmeasured load per endpoint and stack, "
            "each run started once both stacks' workers were idle (the requests "
            "wrk left in flight had ended)"
            + (f", gunicorn environment {bench.load_env}" if bench.load_env else "")
        ),
        extra={"kind": "conditions", "endpoint": "conditions", "stack": ""},
    )


def _judge(results: list[Result]) -> None:
    """The issue's targets, written into each Django row's target and note."""
    runs = {
        (r.extra["endpoint"], r.extra["stack"], r.extra["clients"]): r
        for r in results
        if r.extra.get("kind") not in ("memory", "conditions")
    }
    for (key, stack, clients), r in runs.items():
        missed: list[str] = []
        targets: list[str] = ["0 errors"]
        if r.extra["errors"]:
            missed.append(f"{r.extra['errors']} errors")
        if stack == DJANGO and r.extra["kind"] in ("api", "write"):
            ref = runs.get((key, REFERENCE, clients))
            if clients >= 8 and ref is not None:
                targets.append("rps ≥ FastAPI, p95 ≤ FastAPI")
                if r.extra["rps"] < ref.extra["rps"]:
                    missed.append("fewer rps than FastAPI")
                if r.p95_ms > ref.p95_ms:
                    missed.append("p95 above FastAPI's")
            if clients >= 32:
                targets.append(f"p95 < {API_P95_MS} ms")
                if r.p95_ms >= API_P95_MS:
                    missed.append(f"p95 over {API_P95_MS} ms")
        if stack == DJANGO and r.extra["kind"] == "admin" and clients == 8:
            targets.append(f"p95 < {ADMIN_P95_MS} ms")
            if r.p95_ms >= ADMIN_P95_MS:
                missed.append(f"p95 over {ADMIN_P95_MS} ms")
        r.target = ", ".join(targets) if stack == DJANGO else "0 errors"
        r.note = "MISSED: " + ", ".join(missed) if missed else "met"
    for r in results:
        if r.extra.get("kind") == "memory" and r.extra["stack"] == DJANGO:
            ok = r.extra["end_mb"] < WORKER_RSS_MB
            r.note = ("met; " if ok else "MISSED; ") + r.note
