"""`make bench`: measure the system on a scale database next to its own floors.

Run against a separate database (the Makefile points DATABASE_URL at
`ainfluencer_bench`); it seeds that database once with `seed_scale`, then
measures each section after a warm-up and writes BENCHMARKS.md and a JSON file
under bench-results/. Never part of `make test`.
"""

import datetime as dt
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from config.bench import Result, compare, machine, measure, write_reports

SECTIONS = ("plans", "backup")
BIG_TABLES = {
    "posts",
    "analytics",
    "system_logs",
    "scheduled_posts",
    "engagement_actions",
    "content",
}


def _pg_env() -> dict:
    db = settings.DATABASES["default"]
    import os

    env = {**os.environ}
    for key, var in (
        ("HOST", "PGHOST"),
        ("PORT", "PGPORT"),
        ("USER", "PGUSER"),
        ("PASSWORD", "PGPASSWORD"),
    ):
        if db.get(key):
            env[var] = str(db[key])
    return env


def _seq_scans(plan: dict) -> set[str]:
    found = set()

    def walk(node):
        if node.get("Node Type") == "Seq Scan":
            found.add(node.get("Relation Name"))
        for child in node.get("Plans", []):
            walk(child)

    walk(plan["Plan"])
    return found


class Command(BaseCommand):
    help = "Benchmark the system on a scale database (see BENCHMARKS.md)."

    def add_arguments(self, parser):
        parser.add_argument("--sections", default=",".join(SECTIONS))
        parser.add_argument("--repeat", type=int, default=30)
        parser.add_argument("--characters", type=int, default=1000)
        parser.add_argument("--posts", type=int, default=1_000_000)
        parser.add_argument("--scheduled", type=int, default=200_000)
        parser.add_argument("--analytics", type=int, default=5_000_000)
        parser.add_argument("--logs", type=int, default=2_000_000)
        parser.add_argument("--engagement", type=int, default=200_000)
        parser.add_argument("--output", default="BENCHMARKS.md")
        parser.add_argument("--compare", nargs=2, metavar=("OLD", "NEW"))

    def handle(self, *args, **o):
        if o["compare"]:
            self.stdout.write(compare(Path(o["compare"][0]), Path(o["compare"][1])))
            return
        name = settings.DATABASES["default"]["NAME"]
        if not name.endswith("bench"):
            raise CommandError(
                f"Refusing to benchmark database {name!r}: point DATABASE_URL at a "
                "database whose name ends in 'bench' (make bench does)."
            )
        sections = [s.strip() for s in o["sections"].split(",") if s.strip()]
        unknown = set(sections) - set(SECTIONS)
        if unknown:
            raise CommandError(f"Unknown sections: {', '.join(sorted(unknown))}")
        started = time.time()
        self._seed_once(o)
        self.repeat = o["repeat"]
        self.ids = self._pick_ids()
        results: list[Result] = []
        for section in sections:
            self.stdout.write(f"== {section}")
            results += getattr(self, f"bench_{section}")()
        meta = {
            "machine": machine(),
            "started": dt.datetime.fromtimestamp(started, dt.UTC).isoformat(
                timespec="seconds"
            ),
            "duration_s": time.time() - started,
            "data": self._data_summary(),
        }
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
        json_path = Path(settings.BASE_DIR) / "bench-results" / f"bench-{stamp}.json"
        write_reports(
            results, meta=meta, markdown=Path(o["output"]), json_path=json_path
        )
        for r in results:
            self.stdout.write(
                f"{r.section:8} {r.what:60} median {r.median_ms:9.2f} ms  p95 {r.p95_ms:9.2f} ms"
                + (f"  floor {r.floor_ms:.2f} ms ratio {r.ratio}" if r.floor_ms else "")
                + (f"  {r.note}" if r.note else "")
            )
        self.stdout.write(self.style.SUCCESS(f"Wrote {o['output']} and {json_path}"))

    # -- data --------------------------------------------------------------------

    def _count(self, table: str) -> int:
        with connection.cursor() as c:
            c.execute(f"SELECT count(*) FROM {table}")
            return c.fetchone()[0]

    def _seed_once(self, o):
        if (
            self._count("posts") >= o["posts"]
            and self._count("analytics") >= o["analytics"]
        ):
            self.stdout.write("Scale data present; not seeding again.")
            return
        call_command(
            "seed_scale",
            truncate=True,
            characters=o["characters"],
            posts=o["posts"],
            scheduled=o["scheduled"],
            analytics=o["analytics"],
            logs=o["logs"],
            engagement=o["engagement"],
        )

    def _data_summary(self) -> str:
        with connection.cursor() as c:
            c.execute(
                "SELECT relname, n_live_tup FROM pg_stat_user_tables WHERE relname = ANY(%s)",
                [
                    [
                        "characters",
                        "posts",
                        "scheduled_posts",
                        "analytics",
                        "system_logs",
                    ]
                ],
            )
            return ", ".join(f"{n:,} {t}" for t, n in sorted(c.fetchall()))

    def _pick_ids(self) -> dict:
        with connection.cursor() as c:
            c.execute(
                "SELECT character_id FROM posts WHERE status = 'published' "
                "GROUP BY character_id ORDER BY count(*) DESC LIMIT 1"
            )
            row = c.fetchone()
            return {"character": row[0] if row else None}

    # -- sections ----------------------------------------------------------------

    def _hot_queries(self) -> list[tuple[str, str, list, str | tuple[str, ...]]]:
        """(name, sql, params, intended index) of the queries that must stay fast."""
        character = self.ids["character"]
        return [
            (
                "due scheduled posts (pattern 2)",
                "SELECT * FROM scheduled_posts WHERE status = 'scheduled' AND scheduled_at <= now() "
                "ORDER BY scheduled_at LIMIT 100",
                [],
                "idx_sched_posts_scheduled_at",
            ),
            (
                "claim due posts FOR UPDATE SKIP LOCKED",
                "SELECT id FROM scheduled_posts WHERE status = 'scheduled' AND scheduled_at <= now() "
                "ORDER BY scheduled_at LIMIT 50 FOR UPDATE SKIP LOCKED",
                [],
                "idx_sched_posts_scheduled_at",
            ),
            (
                "content by character/type/approved (pattern 3)",
                "SELECT * FROM content WHERE character_id = %s AND content_type = 'image' "
                "AND is_approved ORDER BY created_at DESC LIMIT 20",
                [character],
                "idx_content_char_type_created",
            ),
            (
                "character with counts (pattern 1)",
                "SELECT c.*, (SELECT count(*) FROM posts p WHERE p.character_id = c.id), "
                "(SELECT count(*) FROM platform_accounts a WHERE a.character_id = c.id) "
                "FROM characters c WHERE c.id = %s",
                [character],
                "idx_posts_character",
            ),
            (
                "posts of a character by status, newest first",
                "SELECT * FROM posts WHERE character_id = %s AND status = 'published' "
                "ORDER BY published_at DESC LIMIT 50",
                [character],
                "idx_posts_char_status_pub",
            ),
            (
                "analytics of a character, 90 days",
                "SELECT metric_date, platform, metric_value FROM analytics WHERE character_id = %s "
                "AND metric_type = 'follower_count' AND metric_date >= current_date - 90 "
                "ORDER BY metric_date",
                [character],
                ("unique_metric", "idx_analytics_character_date"),
            ),
            (
                "system logs, newest 100",
                "SELECT * FROM system_logs ORDER BY created_at DESC LIMIT 100",
                [],
                "idx_logs_created",
            ),
            (
                "errors of the last day",
                "SELECT * FROM system_logs WHERE log_level IN ('error', 'critical') "
                "AND created_at >= now() - interval '1 day' ORDER BY created_at DESC LIMIT 100",
                [],
                "idx_logs_error",
            ),
            (
                "posts changelist, newest 100",
                "SELECT * FROM posts ORDER BY published_at DESC LIMIT 100",
                [],
                "idx_posts_published",
            ),
            (
                "post search by caption (trigram)",
                "SELECT id FROM posts WHERE UPPER(caption::text) LIKE UPPER('%%number 4242%%') LIMIT 100",
                [],
                "trgm_posts_caption",
            ),
            (
                "pending engagement queue",
                "SELECT id FROM engagement_actions WHERE status = 'pending' ORDER BY created_at LIMIT 50",
                [],
                "idx_engagement_pending",
            ),
        ]

    def bench_plans(self) -> list[Result]:
        results = []
        with connection.cursor() as c:
            for name, sql, params, index in self._hot_queries():
                c.execute("EXPLAIN (FORMAT JSON) " + sql, params)
                plan = c.fetchone()[0][0]
                text = json.dumps(plan)
                seq = _seq_scans(plan) & BIG_TABLES
                wanted = (index,) if isinstance(index, str) else index
                used = [i for i in wanted if i in text]
                note = f"uses {used[0]}" if used else f"NOT using {' or '.join(wanted)}"
                if seq:
                    note += "; seq scan on " + ", ".join(sorted(seq))

                # the query's own time, read by EXPLAIN ANALYZE (server side)
                def run(sql=sql, params=params):
                    c.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
                    return c.fetchone()[0][0]["Execution Time"]

                times = sorted(run() for _ in range(min(self.repeat, 15)))
                results.append(
                    Result(
                        section="plans",
                        what=name,
                        median_ms=times[len(times) // 2],
                        p95_ms=times[-1],
                        target="intended index, no seq scan of a big table",
                        note=note,
                    )
                )
        return results

    def bench_backup(self) -> list[Result]:
        env = _pg_env()
        db = settings.DATABASES["default"]["NAME"]
        workdir = Path(tempfile.mkdtemp(prefix="bench-backup-"))
        results = []
        try:
            storage = settings.STORAGES["dbbackup"]
            settings.STORAGES = {
                **settings.STORAGES,
                "dbbackup": {
                    **storage,
                    "OPTIONS": {"location": str(workdir / "dbbackup")},
                },
            }
            (workdir / "dbbackup").mkdir()

            def plain_dump():
                subprocess.run(
                    [
                        "pg_dump",
                        "--format=custom",
                        "-f",
                        str(workdir / "plain.dump"),
                        db,
                    ],
                    env=env,
                    check=True,
                )

            def django_dump():
                for f in (workdir / "dbbackup").iterdir():
                    f.unlink()
                call_command("dbbackup", "--noinput", verbosity=0)

            floor, _ = measure(plain_dump, repeat=1, warmup=0)
            median, p95 = measure(django_dump, repeat=1, warmup=0)
            size = (workdir / "plain.dump").stat().st_size
            results.append(
                Result(
                    section="backup",
                    what="dbbackup of the scale database",
                    median_ms=median,
                    p95_ms=p95,
                    floor_ms=floor,
                    target="within 1.2x of pg_dump -Fc",
                    note=f"dump {size / 1e6:.0f} MB",
                )
            )
            scratch = f"{db}_restore"

            def plain_restore():
                subprocess.run(["dropdb", "--if-exists", scratch], env=env, check=True)
                subprocess.run(["createdb", scratch], env=env, check=True)
                subprocess.run(
                    [
                        "pg_restore",
                        "--no-owner",
                        "-d",
                        scratch,
                        str(workdir / "plain.dump"),
                    ],
                    env=env,
                    check=True,
                )

            r_median, r_p95 = measure(plain_restore, repeat=1, warmup=0)
            subprocess.run(["dropdb", "--if-exists", scratch], env=env, check=True)
            results.append(
                Result(
                    section="backup",
                    what="pg_restore of that dump into a new database",
                    median_ms=r_median,
                    p95_ms=r_p95,
                    note="restore floor (dbrestore of the live bench DB is not repeated)",
                )
            )
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        return results
