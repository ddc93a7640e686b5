"""The command line of `make bench`: guard rails, seeding once, the sections in
order, the reports.

Run against a separate database (the Makefile points DATABASE_URL at
`ainfluencer_bench`); it seeds that database once with `manage.py seed_scale`,
then measures each section after a warm-up and writes BENCHMARKS.md and a JSON
file under bench-results/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.db import connection

from benchmarks.context import Bench, BenchError
from benchmarks.prewarm import warm_database
from benchmarks.report import Result, compare, machine, write_reports
from benchmarks.sections import SECTIONS, section


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Benchmark the system on a scale database (see BENCHMARKS.md).",
    )
    p.add_argument(
        "--sections",
        "--only",
        dest="sections",
        default=",".join(SECTIONS),
        help=f"comma-separated, from {', '.join(SECTIONS)} (default: all)",
    )
    p.add_argument("--repeat", type=int, default=30)
    p.add_argument("--characters", type=int, default=1000)
    p.add_argument("--posts", type=int, default=1_000_000)
    p.add_argument("--scheduled", type=int, default=200_000)
    p.add_argument("--analytics", type=int, default=5_000_000)
    p.add_argument("--logs", type=int, default=2_000_000)
    p.add_argument("--engagement", type=int, default=200_000)
    p.add_argument(
        "--due-posts",
        type=int,
        default=5000,
        help="Scheduled posts the scheduler section makes due and publishes per run.",
    )
    p.add_argument(
        "--load-clients",
        default="1,8,32",
        help="Load section: concurrent clients of each level (comma-separated).",
    )
    p.add_argument(
        "--load-seconds",
        type=float,
        default=10.0,
        help="Load section: seconds each endpoint runs at each level.",
    )
    p.add_argument(
        "--load-warmup",
        type=float,
        default=2.0,
        help="Load section: unmeasured seconds of load on each endpoint and stack "
        "before its first level, at the highest level's clients (0: none).",
    )
    p.add_argument(
        "--load-workers",
        type=int,
        default=2,
        help="Load section: worker processes of gunicorn and of uvicorn.",
    )
    p.add_argument(
        "--load-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="Load section: extra environment for gunicorn (repeatable), "
        "e.g. GUNICORN_THREADS=4.",
    )
    p.add_argument(
        "--load-endpoints",
        default="",
        help="Load section: only these endpoints (comma-separated keys: "
        "detail-cached, detail-uncached, posts, content, series, characters, "
        "patch, admin-posts, admin-character); default all.",
    )
    p.add_argument("--output", default="BENCHMARKS.md")
    p.add_argument("--compare", nargs=2, metavar=("OLD", "NEW"))
    return p


def main(argv: list[str]) -> int:
    options = parser().parse_args(argv)
    try:
        run(options)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def run(o: argparse.Namespace) -> None:
    if o.compare:
        print(compare(Path(o.compare[0]), Path(o.compare[1])))
        return
    sections = [s.strip() for s in o.sections.split(",") if s.strip()]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        raise BenchError(f"Unknown sections: {', '.join(sorted(unknown))}")
    name = settings.DATABASES["default"]["NAME"]
    # a bench database is named so: "..._bench" (make bench) or a copy of it,
    # "..._bench_<who>"
    if "bench" not in str(name).split("_"):
        raise BenchError(
            f"Refusing to benchmark database {name!r}: point DATABASE_URL at a "
            "database with 'bench' as a word of its name, such as "
            "ainfluencer_bench (make bench does)."
        )
    started = time.time()
    bench = Bench(
        repeat=o.repeat,
        due_posts=o.due_posts,
        load_clients=_clients(o.load_clients),
        load_seconds=o.load_seconds,
        load_warmup=o.load_warmup,
        load_workers=o.load_workers,
        load_env=_env_pairs(o.load_env),
        load_endpoints=tuple(
            k.strip() for k in o.load_endpoints.split(",") if k.strip()
        ),
    )
    _seed_once(bench, o)
    warm = warm_database()
    bench.say(f"Database: {warm}")
    bench.character = _busiest_character()
    results: list[Result] = []
    for name in sections:
        bench.say(f"== {name}")
        results += section(name)(bench)
    meta: dict[str, Any] = {
        "machine": machine(),
        "started": dt.datetime.fromtimestamp(started, dt.UTC).isoformat(
            timespec="seconds"
        ),
        "duration_s": time.time() - started,
        "data": _data_summary(),
        "warm": warm,
    }
    findings = Path(settings.BASE_DIR) / "docs" / "benchmark-findings.md"
    if findings.exists():
        meta["sections_text"] = [findings.read_text()]
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    json_path = Path(settings.BASE_DIR) / "bench-results" / f"bench-{stamp}.json"
    write_reports(results, meta=meta, markdown=Path(o.output), json_path=json_path)
    for r in results:
        if r.section == "load":
            continue  # said while it ran; its table is in the markdown
        bench.say(
            f"{r.section:8} {r.what:60} median {r.median_ms:9.2f} ms  p95 {r.p95_ms:9.2f} ms"
            + (f"  floor {r.floor_ms:.2f} ms ratio {r.ratio}" if r.floor_ms else "")
            + (f"  {r.note}" if r.note else "")
        )
    bench.say(f"Wrote {o.output} and {json_path}")


def _clients(text: str) -> tuple[int, ...]:
    try:
        levels = tuple(int(n) for n in text.split(",") if n.strip())
    except ValueError:
        raise BenchError(
            f"--load-clients takes numbers like 1,8,32, not {text!r}"
        ) from None
    if not levels or min(levels) < 1:
        raise BenchError("--load-clients needs at least one level of 1 or more")
    return levels


def _env_pairs(pairs: list[str]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise BenchError(f"--load-env takes NAME=VALUE, not {pair!r}")
        env[name] = value
    return env


def _count(table: str) -> int:
    with connection.cursor() as c:
        c.execute(f"SELECT count(*) FROM {table}")
        return int(c.fetchone()[0])


def _seed_once(bench: Bench, o: argparse.Namespace) -> None:
    if _count("posts") >= o.posts and _count("analytics") >= o.analytics:
        bench.say("Scale data present; not seeding again.")
        return
    call_command(
        "seed_scale",
        truncate=True,
        characters=o.characters,
        posts=o.posts,
        scheduled=o.scheduled,
        analytics=o.analytics,
        logs=o.logs,
        engagement=o.engagement,
    )


def _data_summary() -> str:
    # exact counts (about a second on the scale database): the statistics'
    # n_live_tup went stale after an interrupted run (800,683 posts shown for
    # 1,000,000)
    tables = ["analytics", "characters", "posts", "scheduled_posts", "system_logs"]
    with connection.cursor() as c:
        counts = []
        for table in tables:
            c.execute(f"SELECT count(*) FROM {table}")  # names from the list above
            counts.append(f"{c.fetchone()[0]:,} {table}")
    return ", ".join(counts)


def _busiest_character() -> str | None:
    with connection.cursor() as c:
        c.execute(
            "SELECT character_id FROM posts WHERE status = 'published' "
            "GROUP BY character_id ORDER BY count(*) DESC LIMIT 1"
        )
        row = c.fetchone()
        return str(row[0]) if row else None
