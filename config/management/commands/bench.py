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
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from config.bench import (
    Result,
    compare,
    machine,
    measure,
    pg_connect,
    profile_summary,
    publish_worker,
    statements_runner,
    write_reports,
)
from config.bench_partitions import pruning_note

SECTIONS = ("plans", "api", "admin", "scheduler", "snapshot", "backup", "partitions")
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
        parser.add_argument(
            "--due-posts",
            type=int,
            default=5000,
            help="Scheduled posts the scheduler section makes due and publishes per run.",
        )
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
        self.due_posts = o["due_posts"]
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
        findings = Path(settings.BASE_DIR) / "docs" / "benchmark-findings.md"
        if findings.exists():
            meta["sections_text"] = [findings.read_text()]
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
                # partition pruning (analytics, system_logs), as executed
                c.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
                pruning = pruning_note(c.fetchone()[0][0])
                if pruning:
                    note += "; " + pruning
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

    # -- api and admin: through Django, next to the same SQL on psycopg -------------

    def _http_host(self) -> str:
        """A host the settings accept (the test client's 'testserver' is not)."""
        for host in settings.ALLOWED_HOSTS:
            host = host.lstrip(".")
            if host and host != "*":
                return host
        return "localhost"

    def _bench_user(self, username: str, *, superuser: bool = False, group=None):
        """A user kept in the bench database for these sections."""
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Group

        user, created = get_user_model().objects.get_or_create(
            username=username,
            defaults={"is_staff": True, "is_superuser": superuser},
        )
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        if group:
            user.groups.add(Group.objects.get(name=group))
        return user

    def _timed_page(
        self,
        client,
        url: str,
        *,
        before=None,
        floor_conn=None,
        repeat: int | None = None,
    ) -> dict:
        """Median/p95 of GET `url` (after `before()`), its queries, and the floor:
        the SQL it ran, captured once, run again on a plain psycopg connection."""
        repeat = repeat or self.repeat

        def get():
            if before:
                before()
            response = client.get(url)
            if response.status_code != 200:
                raise CommandError(
                    f"GET {url} answered {response.status_code}: {response.content[:500]!r}"
                )
            return response

        get()  # warm caches (content types, permissions, templates)
        with CaptureQueriesContext(connection) as ctx:
            response = get()
        statements = [q["sql"] for q in ctx.captured_queries]
        median, p95 = measure(get, repeat=repeat)
        page = {
            "median": median,
            "p95": p95,
            "queries": len(statements),
            "response": response,
            "floor": None,
        }
        if floor_conn is not None:
            page["floor"], _ = measure(
                statements_runner(floor_conn, statements), repeat=repeat
            )
        return page

    def bench_api(self) -> list[Result]:
        from rest_framework.authtoken.models import Token
        from rest_framework.test import APIClient

        from characters.selectors import character_cache_invalidate
        from config.permissions import ADMINISTRATORS

        character = self.ids["character"]
        user = self._bench_user("bench-api", group=ADMINISTRATORS)
        token, _ = Token.objects.get_or_create(user=user)
        client = APIClient(HTTP_HOST=self._http_host())
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        since = (timezone.localdate() - dt.timedelta(days=90)).isoformat()
        cases = [
            (
                "framework floor: authenticated GET of the API root (no model)",
                "/api/v1/",
                None,
            ),
            (
                "character detail, uncached (cache key deleted first)",
                f"/api/v1/characters/{character}/",
                lambda: character_cache_invalidate(character),
            ),
            (
                "character detail, cached (Redis)",
                f"/api/v1/characters/{character}/",
                None,
            ),
            (
                "posts of a character by status, newest published_at, page of 50",
                f"/api/v1/posts/?character={character}&status=published"
                "&ordering=-published_at&page_size=50",
                None,
            ),
            (
                "content by character/type/approved, page of 50",
                f"/api/v1/content/?character={character}&content_type=image"
                "&approval_status=approved&page_size=50",
                None,
            ),
            (
                "analytics series of a character, 90 days",
                f"/api/v1/analytics/series/?character={character}"
                f"&metric_type=follower_count&date_from={since}",
                None,
            ),
        ]
        results = []
        floor_conn = pg_connect(settings.DATABASES["default"])
        try:
            for what, url, before in cases:
                page = self._timed_page(
                    client, url, before=before, floor_conn=floor_conn
                )
                body = page["response"].json()
                if isinstance(body, list):
                    rows = len(body)
                else:
                    rows = len(body["results"]) if "results" in body else 1
                ratio = page["median"] / page["floor"] if page["floor"] else None
                missed = []
                if ratio is not None and ratio > 3:
                    missed.append("over 3x floor")
                if page["p95"] >= 50:
                    missed.append("p95 over 50 ms")
                note = f"{rows} rows, {len(page['response'].content) / 1024:.1f} KiB"
                if "cached (Redis)" in what:
                    note += "; floor: its only SQL, the token lookup (permissions and the answer come from Redis)"
                if missed:
                    note += "; MISSED: " + ", ".join(missed)
                results.append(
                    Result(
                        section="api",
                        what=what,
                        median_ms=page["median"],
                        p95_ms=page["p95"],
                        floor_ms=page["floor"],
                        queries=page["queries"],
                        target="<= 3x floor median, p95 < 50 ms",
                        note=note,
                    )
                )
        finally:
            floor_conn.close()
            character_cache_invalidate(character)
        return results

    def bench_admin(self) -> list[Result]:
        from django.test import Client

        client = Client(HTTP_HOST=self._http_host())
        client.force_login(self._bench_user("bench-admin", superuser=True))
        posts = reverse("admin:platforms_post_changelist")
        analytics = reverse("admin:analytics_analytics_changelist")
        logs = reverse("admin:logs_systemlog_changelist")
        character = reverse(
            "admin:characters_character_change", args=[self.ids["character"]]
        )
        # (what, url, url of the same page deeper in the table: same query count)
        pages = [
            ("posts changelist", posts, posts + "?p=200"),
            ("posts changelist, search 'number 4242'", posts + "?q=number+4242", None),
            ("posts changelist, status failed", posts + "?status__exact=failed", None),
            ("analytics changelist", analytics, analytics + "?p=200"),
            (
                "analytics changelist, search 'persona 42'",
                analytics + "?q=persona+42",
                None,
            ),
            (
                "analytics changelist, metric follower_count",
                analytics + "?metric_type__exact=follower_count",
                None,
            ),
            ("system logs changelist", logs, logs + "?p=200"),
            (
                "system logs changelist, search 'message 4242'",
                logs + "?q=message+4242",
                None,
            ),
            (
                "system logs changelist, level error",
                logs + "?log_level__exact=error",
                None,
            ),
            ("character change page (busiest character)", character, None),
        ]
        results = []
        for what, url, deeper in pages:
            page = self._timed_page(client, url)
            note = f"{len(page['response'].content) / 1024:.0f} KiB"
            if deeper:
                with CaptureQueriesContext(connection) as ctx:
                    client.get(deeper)
                note += f"; page 200: {len(ctx)} queries"
                if len(ctx) != page["queries"]:
                    note += " (NOT constant)"
            if page["median"] >= 300:
                note += "; MISSED: median over 300 ms"
            results.append(
                Result(
                    section="admin",
                    what=what,
                    median_ms=page["median"],
                    p95_ms=page["p95"],
                    queries=page["queries"],
                    target="< 300 ms median, constant queries",
                    note=note,
                )
            )
        return results

    # -- scheduler: claim and publish with the dry-run adapter ----------------------

    # Scratch rows live under characters of this name (deleted with them, by the
    # database's ON DELETE CASCADE: accounts, content, scheduled posts, posts).
    SCRATCH_NAME = "Bench scheduler scratch"
    # Scratch posts are due at this time, long before any seeded row, and the
    # workers publish with now=cutoff: the seeded rows that fall due meanwhile
    # stay out of the run.
    SCRATCH_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)

    def _scratch_drop(self):
        with connection.cursor() as c:
            c.execute("DELETE FROM characters WHERE name = %s", [self.SCRATCH_NAME])
        shutil.rmtree(Path(settings.MEDIA_ROOT) / "bench", ignore_errors=True)
        cache.delete_many(
            [f"dryrun:sent:{pk}" for pk in getattr(self, "scratch_ids", [])]
        )

    def _scratch_make(self, n: int) -> dt.datetime:
        """`n` due scheduled posts spread over 300 connected, auto-posting accounts
        (50 characters x 6 platforms), 3 of 4 with approved content, the rest
        caption only. Returns the cutoff: every scratch post is due by then."""
        from platforms.models import Platform

        self._scratch_drop()
        with transaction.atomic(), connection.cursor() as c:
            c.execute(
                """
                WITH new AS (
                    INSERT INTO characters (name, bio, age, location, timezone, interests)
                    SELECT %(name)s, 'Benchmark scratch', 30, 'Nowhere', 'UTC', ARRAY['bench']
                    FROM generate_series(1, 50)
                    RETURNING id
                )
                INSERT INTO platform_accounts (character_id, platform, account_username,
                    is_connected, connection_status, auto_posting_enabled)
                SELECT new.id, p, 'bench_' || substr(new.id::text, 1, 8) || '_' || p,
                       true, 'connected', true
                FROM new CROSS JOIN unnest(%(platforms)s::text[]) p
                """,
                {"name": self.SCRATCH_NAME, "platforms": list(Platform.values)},
            )
            c.execute(
                """
                CREATE TEMP TABLE bench_accounts ON COMMIT DROP AS
                WITH acc AS (
                    SELECT (row_number() OVER (ORDER BY a.id) - 1)::int AS n,
                           a.id, a.character_id
                    FROM platform_accounts a JOIN characters ch ON ch.id = a.character_id
                    WHERE ch.name = %(name)s
                ), content AS (
                    INSERT INTO content (character_id, content_type, file_path, width,
                        height, mime_type, file_size, prompt, approval_status,
                        is_approved, tags)
                    SELECT character_id, 'image', 'bench/' || id || '.png', 1024, 1280,
                           'image/png', 100000, 'bench prompt', 'approved', true,
                           ARRAY['bench']
                    FROM acc
                    RETURNING id, file_path
                )
                SELECT acc.*, content.id AS content_id
                FROM acc JOIN content ON content.file_path = 'bench/' || acc.id || '.png'
                """,
                {"name": self.SCRATCH_NAME},
            )
            # the publisher reads each post's file (and refuses a missing one)
            c.execute(
                "SELECT file_path FROM content "
                "JOIN bench_accounts a ON a.content_id = content.id"
            )
            for (path,) in c.fetchall():
                target = Path(settings.MEDIA_ROOT) / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(b"bench image")
            c.execute(
                """
                INSERT INTO scheduled_posts (character_id, platform_account_id,
                    scheduled_at, content_id, caption, hashtags, post_type, status,
                    created_at, updated_at)
                SELECT a.character_id, a.id, t.at,
                       CASE WHEN g %% 4 = 0 THEN NULL ELSE a.content_id END,
                       'Bench scheduled post ' || g, ARRAY['bench', 'tag' || g %% 20],
                       'post', 'scheduled', t.at, t.at
                FROM generate_series(0, %(n)s - 1) g
                JOIN bench_accounts a ON a.n = g %% 300
                CROSS JOIN LATERAL (
                    SELECT %(epoch)s::timestamptz + g * interval '1 second' AS at
                ) t
                RETURNING id
                """,
                {"n": n, "epoch": self.SCRATCH_EPOCH},
            )
            self.scratch_ids = [row[0] for row in c.fetchall()]
        return self.SCRATCH_EPOCH + dt.timedelta(seconds=n)

    def _scratch_reset(self):
        """Scratch posts due again, as before a run (their published posts gone)."""
        with transaction.atomic(), connection.cursor() as c:
            c.execute(
                "DELETE FROM posts WHERE character_id IN "
                "(SELECT id FROM characters WHERE name = %s)",
                [self.SCRATCH_NAME],
            )
            c.execute(
                "UPDATE scheduled_posts SET status = 'scheduled', post_id = NULL, "
                "published_at = NULL, locked_until = NULL, error_message = NULL, "
                "retry_count = 0, attempt_started_at = NULL, attempt_count = 0 "
                "WHERE id = ANY(%s)",
                [self.scratch_ids],
            )
        cache.delete_many([f"dryrun:sent:{pk}" for pk in self.scratch_ids])

    def _scratch_outcome(self) -> dict[str, int]:
        with connection.cursor() as c:
            c.execute(
                "SELECT status, count(*) FROM scheduled_posts WHERE id = ANY(%s) "
                "GROUP BY status",
                [self.scratch_ids],
            )
            return dict(c.fetchall())

    def _publish_with_workers(self, workers: int, cutoff: dt.datetime) -> dict:
        """Publish the due scratch posts with `workers` processes started with
        multiprocessing's "spawn" (each its own Django and connection); the
        clock runs from the common start signal to the last worker's end."""
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        go = ctx.Event()
        queue = ctx.Queue()
        log_path = str(Path(tempfile.gettempdir()) / "bench-publish-workers.log")
        Path(log_path).unlink(missing_ok=True)
        connection.close()  # nothing of this process's connection in the children
        procs = [
            ctx.Process(
                target=publish_worker,
                args=(go, queue, cutoff.isoformat(), 50, log_path),
            )
            for _ in range(workers)
        ]
        for proc in procs:
            proc.start()
        time.sleep(3)  # let them import Django and connect before the start
        go.set()
        reports = [queue.get(timeout=1800) for _ in procs]
        for proc in procs:
            proc.join()
            if proc.exitcode:
                raise CommandError(f"a publish worker failed; see {log_path}")
        published = sum(r["published"] for r in reports)
        wall = max(r["end"] for r in reports) - min(r["start"] for r in reports)
        return {
            "published": published,
            "wall_s": wall,
            "rate": published / wall if wall else 0.0,
            "per_worker": [
                round(r["published"] / (r["end"] - r["start"])) for r in reports
            ],
            "outcome": self._scratch_outcome(),
        }

    def _profile_publishing(self, n: int) -> tuple[str, Path]:
        """Publish `n` scratch posts in this process under pyinstrument (log lines
        to /dev/null); a summary, and the full text profile under bench-results/."""
        import logging
        import os

        from pyinstrument import Profiler

        from platforms.publishing import publish_due_posts

        # only the first `n` scratch posts are due by `until`
        until = self.SCRATCH_EPOCH + dt.timedelta(seconds=n - 1)
        handlers = [h for h in logging.getLogger().handlers if hasattr(h, "setStream")]
        with open(os.devnull, "w") as devnull:
            streams = [h.setStream(devnull) for h in handlers]
            profiler = Profiler(interval=0.0005)
            profiler.start()
            try:
                published = publish_due_posts(batch=50, time_budget=600, now=until)
            finally:
                profiler.stop()
                for handler, stream in zip(handlers, streams, strict=True):
                    handler.setStream(stream)
        out = Path(settings.BASE_DIR) / "bench-results" / "scheduler-profile.txt"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(profiler.output_text(unicode=False, color=False, show_all=True))
        session = profiler.last_session
        return (
            f"profile of {published} posts in one process "
            f"({published / session.duration:.0f} posts/s): {profile_summary(session)}",
            out,
        )

    def bench_scheduler(self) -> list[Result]:
        from platforms.publishing import claim_due_posts

        n = self.due_posts
        results = []
        cutoff = self._scratch_make(n)
        try:
            # the claim: the real claim_due_posts next to the plain SELECT, both
            # rolled back so that every repetition sees the same due rows
            def claim():
                with transaction.atomic():
                    claimed = claim_due_posts(limit=50, now=cutoff)
                    transaction.set_rollback(True)
                if len(claimed) != 50:
                    raise CommandError(f"claimed {len(claimed)} due posts, not 50")

            with CaptureQueriesContext(connection) as ctx:
                claim()
            queries = len(
                [q for q in ctx.captured_queries if "SAVEPOINT" not in q["sql"]]
            )
            median, p95 = measure(claim, repeat=self.repeat)
            floor_conn = pg_connect(settings.DATABASES["default"])
            try:

                def plain():
                    with (
                        floor_conn.transaction(force_rollback=True),
                        floor_conn.cursor() as c,
                    ):
                        c.execute(
                            "SELECT id FROM scheduled_posts WHERE status = 'scheduled' "
                            "AND scheduled_at <= now() ORDER BY scheduled_at "
                            "LIMIT 50 FOR UPDATE SKIP LOCKED"
                        )
                        c.fetchall()

                floor, _ = measure(plain, repeat=self.repeat)
            finally:
                floor_conn.close()
            results.append(
                Result(
                    section="scheduler",
                    what="claim 50 due posts (claim_due_posts, rolled back)",
                    median_ms=median,
                    p95_ms=p95,
                    floor_ms=floor,
                    queries=queries,
                    target="close to the plain SELECT ... FOR UPDATE SKIP LOCKED",
                    note="floor: SELECT id ... LIMIT 50 FOR UPDATE SKIP LOCKED, rolled back; "
                    "the claim also joins platform_accounts and sets the lease (UPDATE)",
                )
            )

            runs = {}
            for workers in (1, 2):
                self._scratch_reset()
                run = self._publish_with_workers(workers, cutoff)
                runs[workers] = run
                self.stdout.write(
                    f"  {workers} worker(s): {run['published']} published in "
                    f"{run['wall_s']:.1f} s, {run['rate']:.0f} posts/s, {run['outcome']}"
                )
            profile_note = ""
            if min(min(r["per_worker"]) for r in runs.values()) < 500:
                self._scratch_reset()
                profile_note, path = self._profile_publishing(min(n, 1000))
                self.stdout.write(f"  {profile_note} (full profile: {path})")
            for workers, run in runs.items():
                per = run["rate"] / workers
                note = (
                    f"{run['rate']:.0f} posts/s in all, per worker "
                    f"{', '.join(str(r) for r in run['per_worker'])} posts/s; "
                    f"outcome {run['outcome']}"
                )
                if workers == 2:
                    note += f"; {run['rate'] / runs[1]['rate']:.2f}x one worker"
                if per < 500:
                    note += "; MISSED: under 500 posts/s per worker"
                    if profile_note:
                        note += f"; {profile_note}"
                results.append(
                    Result(
                        section="scheduler",
                        what=f"publish {n} due posts, {workers} worker process"
                        + ("es" if workers > 1 else "")
                        + " (dry-run adapter)",
                        median_ms=round(run["wall_s"] * 1000, 3),
                        p95_ms=round(run["wall_s"] * 1000, 3),
                        target=">= 500 posts/s per worker, 2 workers ~2x one",
                        note=note,
                        extra={
                            "posts_per_second": round(run["rate"], 1),
                            "per_worker": run["per_worker"],
                        },
                    )
                )
        finally:
            self._scratch_drop()
        return results

    def bench_snapshot(self) -> list[Result]:
        from config.bench_snapshot import snapshot_section

        return snapshot_section(self.repeat)

    def bench_partitions(self) -> list[Result]:
        from config.bench_partitions import retention_section

        return retention_section()

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
                subprocess.run(
                    ["dropdb", "--if-exists", "--force", scratch], env=env, check=True
                )
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
            alias = "bench_restore"

            def django_restore():
                subprocess.run(
                    ["dropdb", "--if-exists", "--force", scratch], env=env, check=True
                )
                subprocess.run(["createdb", scratch], env=env, check=True)
                target = {**connections.settings["default"], "NAME": scratch}
                settings.DATABASES[alias] = target
                connections.settings[alias] = target
                try:
                    # the backup dbbackup just made (named after "default")
                    from dbbackup.storage import get_storage

                    name = get_storage().get_latest_backup(
                        database="default", content_type="db"
                    )
                    call_command(
                        "dbrestore",
                        "--database",
                        alias,
                        "--input-filename",
                        name,
                        "--noinput",
                        verbosity=0,
                    )
                finally:
                    connections[alias].close()

            d_median, d_p95 = measure(django_restore, repeat=1, warmup=0)
            subprocess.run(
                ["dropdb", "--if-exists", "--force", scratch], env=env, check=True
            )
            settings.DATABASES.pop(alias, None)
            results.append(
                Result(
                    section="backup",
                    what="dbrestore of that backup into a new database",
                    median_ms=d_median,
                    p95_ms=d_p95,
                    floor_ms=r_median,
                    target="next to plain pg_restore",
                    note=(
                        "dbrestore first verifies the whole archive (pg_restore "
                        "--list, then every data block into /dev/null) and checks "
                        "the migration state: the guard reads the file twice"
                    ),
                )
            )
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        return results
