"""Fill the database with millions of valid rows, set-based, for benchmarks.

Rows are generated inside PostgreSQL (`INSERT ... SELECT ... generate_series`)
in batches, so nothing travels through Python row by row: a million posts load
in well under a minute on a laptop.
"""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone
from tqdm import tqdm

PLATFORMS = ["instagram", "twitter", "telegram", "youtube", "facebook", "onlyfans"]
METRICS = ["follower_count", "engagement_rate", "likes_count", "views_count", "reach"]
PROJECT_TABLES = [
    "system_logs",
    "analytics",
    "engagement_actions",
    "scheduled_posts",
    "post_metrics",
    "posts",
    "automation_rules",
    "platform_accounts",
    "content_generations",
    "content",
    "character_appearances",
    "character_personalities",
    "characters",
]


class Command(BaseCommand):
    help = "Load a large synthetic data set (characters, posts, schedules, analytics, logs)."

    def add_arguments(self, parser):
        parser.add_argument("--characters", type=int, default=1000)
        parser.add_argument("--accounts-per-character", type=int, default=3)
        parser.add_argument("--content-per-character", type=int, default=50)
        parser.add_argument("--posts", type=int, default=1_000_000)
        parser.add_argument("--scheduled", type=int, default=200_000)
        parser.add_argument("--analytics", type=int, default=5_000_000)
        parser.add_argument("--logs", type=int, default=2_000_000)
        parser.add_argument("--engagement", type=int, default=200_000)
        parser.add_argument("--batch", type=int, default=200_000)
        parser.add_argument(
            "--truncate", action="store_true", help="Empty the project's tables first."
        )

    def handle(self, *args, **o):
        for name in (
            "characters",
            "posts",
            "scheduled",
            "analytics",
            "logs",
            "engagement",
            "batch",
        ):
            if o[name] < 0:
                raise CommandError(f"--{name} cannot be negative")
        if o["characters"] < 1 and any(
            o[n] for n in ("posts", "scheduled", "analytics")
        ):
            raise CommandError(
                "--characters must be at least 1 to hold posts and analytics"
            )
        if not 1 <= o["accounts_per_character"] <= len(PLATFORMS):
            raise CommandError(
                f"--accounts-per-character must be 1 to {len(PLATFORMS)}"
            )
        self.quiet = o["verbosity"] < 1
        self.batch = max(1, o["batch"])
        if o["truncate"]:
            with connection.cursor() as c:
                c.execute(f"TRUNCATE {', '.join(PROJECT_TABLES)} CASCADE")
        self._characters(o["characters"], o["accounts_per_character"])
        with transaction.atomic():
            self._content(o["content_per_character"])
        self._posts(o["posts"])
        self._scheduled(o["scheduled"])
        self._analytics(o["analytics"])
        self._logs(o["logs"])
        self._engagement(o["engagement"])
        with connection.cursor() as c:
            for table in PROJECT_TABLES:
                c.execute(f"ANALYZE {table}")
        self.stdout.write(self.style.SUCCESS("Scale data loaded and analyzed."))

    # -- helpers ---------------------------------------------------------------

    def _run(self, label: str, total: int, sql: str, params=()):
        """Run `sql` once per batch with %(lo)s/%(hi)s bounds, 1-based inclusive."""
        if total <= 0:
            return
        bar = tqdm(total=total, desc=label, unit="rows", disable=self.quiet)
        for lo in range(1, total + 1, self.batch):
            hi = min(total, lo + self.batch - 1)
            with transaction.atomic(), connection.cursor() as c:
                c.execute(sql, {"lo": lo, "hi": hi, **dict(params)})
            bar.update(hi - lo + 1)
        bar.close()

    def _characters(self, n: int, per: int):
        self._run(
            "characters",
            n,
            """
            WITH new AS (
                INSERT INTO characters (name, bio, age, location, timezone, interests)
                SELECT 'Scale persona ' || g, 'Synthetic character ' || g, 18 + g %% 30,
                       'City ' || g %% 100,
                       (ARRAY['UTC','Europe/Paris','America/New_York','Asia/Tokyo'])[1 + g %% 4],
                       ARRAY['fitness','travel']
                FROM generate_series(%(lo)s, %(hi)s) g
                RETURNING id
            ), p AS (
                INSERT INTO character_personalities (character_id) SELECT id FROM new
            ), a AS (
                INSERT INTO character_appearances (character_id) SELECT id FROM new
            )
            INSERT INTO platform_accounts
                (character_id, platform, account_username, is_connected, connection_status,
                 follower_count, following_count)
            SELECT new.id, (%(platforms)s::text[])[k], 'user_' || substr(new.id::text, 1, 8) || k,
                   true, 'connected', (random() * 100000)::int, (random() * 900)::int
            FROM new CROSS JOIN generate_series(1, %(per)s) k
            """,
            {"platforms": PLATFORMS, "per": per},
        )

    def _content(self, per: int):
        with connection.cursor() as c:
            c.execute(
                """
                INSERT INTO content (character_id, content_type, file_path, width, height,
                    mime_type, file_size, prompt, quality_score, approval_status, is_approved,
                    tags)
                SELECT ch.id, (ARRAY['image','video'])[1 + k %% 2],
                       'scale/' || ch.id || '/' || k || '.png', 1024, 1280, 'image/png',
                       100000 + k, 'scale prompt ' || k, round((random())::numeric, 2),
                       CASE WHEN k %% 4 = 0 THEN 'pending' ELSE 'approved' END, k %% 4 <> 0,
                       ARRAY['scale']
                FROM characters ch
                CROSS JOIN generate_series(1, %s) k
                WHERE NOT EXISTS (SELECT 1 FROM content WHERE character_id = ch.id)
                """,
                [per],
            )

    def _accounts_table(self):
        """Accounts numbered 0..n-1 (with one approved content row each), so
        generated rows pick an account by `g % n` in a hash join."""
        with connection.cursor() as c:
            # made afresh each time: a temporary table outlives the command on
            # a connection that stays open (a second seed in the same process
            # would join stale accounts)
            c.execute("DROP TABLE IF EXISTS seed_acc2")
            c.execute(
                "CREATE TEMP TABLE seed_acc2 AS "
                "SELECT (row_number() OVER (ORDER BY a.id) - 1)::int AS n, a.id, "
                "a.character_id, a.platform, sc.id AS content_id "
                "FROM platform_accounts a LEFT JOIN LATERAL (SELECT id FROM content "
                "WHERE character_id = a.character_id AND is_approved LIMIT 1) sc ON true"
            )
            c.execute("CREATE INDEX seed_acc2_n ON seed_acc2 (n)")
            c.execute("SELECT count(*) FROM seed_acc2")
            return c.fetchone()[0]

    def _posts(self, n: int):
        if n <= 0:
            return
        accounts = self._accounts_table()
        self._run(
            "posts",
            n,
            """
            WITH new AS (
                INSERT INTO posts (character_id, platform_account_id, platform,
                    post_type, platform_post_id, content_id, caption, hashtags,
                    likes_count, comments_count, shares_count, views_count, status,
                    published_at, last_engagement_sync_at)
                SELECT a.character_id, a.id, a.platform, 'post', 'scale-' || g,
                       a.content_id, 'Scale caption number ' || g,
                       ARRAY['ai', 'tag' || g %% 50],
                       (random() * 5000)::int, (random() * 300)::int,
                       (random() * 100)::int, (random() * 50000)::int,
                       CASE WHEN g %% 20 = 0 THEN 'failed' ELSE 'published' END,
                       now() - (g %% 525600 || ' minutes')::interval, now()
                FROM generate_series(%(lo)s, %(hi)s) g
                JOIN seed_acc2 a ON a.n = g %% %(accounts)s
                RETURNING id, likes_count, comments_count, shares_count,
                          views_count, last_engagement_sync_at
            )
            -- every post with a platform id has been synced once, as in a
            -- running installation: the metrics sync updates these rows
            INSERT INTO post_metrics (post_id, likes_count, comments_count,
                shares_count, views_count, synced_at, fold_pending)
            SELECT *, false FROM new
            """,
            {"accounts": accounts},
        )

    def _scheduled(self, n: int):
        if n <= 0:
            return
        accounts = self._accounts_table()
        self._run(
            "scheduled posts",
            n,
            """
            INSERT INTO scheduled_posts (character_id, platform_account_id, scheduled_at,
                content_id, caption, post_type, status, published_at, created_at, updated_at)
            SELECT a.character_id, a.id, t.at, a.content_id, 'Scheduled ' || g, 'post',
                   t.status, CASE WHEN t.status = 'published' THEN t.at END,
                   t.at - interval '1 day', t.at - interval '1 day'
            FROM generate_series(%(lo)s, %(hi)s) g
            JOIN seed_acc2 a ON a.n = g %% %(accounts)s
            CROSS JOIN LATERAL (
                SELECT CASE WHEN g %% 10 = 0 THEN 'scheduled'
                            WHEN g %% 10 = 1 THEN 'failed' ELSE 'published' END AS status,
                       CASE WHEN g %% 10 = 0 THEN now() + (g %% 43200 || ' minutes')::interval
                            ELSE now() - (g %% 525600 || ' minutes')::interval END AS at
            ) t
            """,
            {"accounts": accounts},
        )

    def _months(self, table: str, days: int) -> None:
        """The monthly partitions of the history about to be loaded: rows of a
        month without its partition would pile up in DEFAULT."""
        from config.ops.partitions import TABLES, add_months, ensure_months, month_start

        today = timezone.now().date()
        first = month_start(today - dt.timedelta(days=days))
        months, month = [], first
        while month <= today:
            months.append(month)
            month = add_months(month, 1)
        with transaction.atomic(), connection.cursor() as c:
            ensure_months(c, TABLES[table], months)

    def _analytics(self, n: int):
        if n <= 0:
            return
        accounts = self._accounts_table()
        metrics = len(METRICS)
        self._months("analytics", n // max(1, accounts) // metrics + 1)
        self._run(
            "analytics",
            n,
            """
            INSERT INTO analytics (character_id, platform_account_id, platform, metric_date,
                metric_type, metric_value)
            SELECT a.character_id, a.id, a.platform,
                   current_date - ((g / %(accounts)s) / %(metrics)s)::int,
                   (%(names)s::text[])[1 + (g / %(accounts)s) %% %(metrics)s],
                   round((random() * 100000)::numeric, 2)
            FROM generate_series(%(lo)s - 1, %(hi)s - 1) g
            JOIN seed_acc2 a ON a.n = g %% %(accounts)s
            """,
            {"accounts": accounts, "metrics": metrics, "names": METRICS},
        )

    def _logs(self, n: int):
        if n > 0:
            self._months("system_logs", 31)
        self._run(
            "system logs",
            n,
            """
            INSERT INTO system_logs (log_level, component, message, character_id, created_at)
            SELECT (ARRAY['debug','info','info','info','warning','error','critical'])[1 + g %% 7],
                   (ARRAY['publisher','generator','engagement','api','scheduler'])[1 + g %% 5],
                   'Scale log message ' || g,
                   CASE WHEN g %% 3 = 0 THEN NULL ELSE (
                       SELECT character_id FROM seed_acc2 WHERE n = g %% %(accounts)s) END,
                   now() - (g %% 43200 || ' minutes')::interval
            FROM generate_series(%(lo)s, %(hi)s) g
            """,
            {"accounts": max(1, self._accounts_table())},
        )

    def _engagement(self, n: int):
        if n <= 0:
            return
        accounts = self._accounts_table()
        self._run(
            "engagement actions",
            n,
            """
            INSERT INTO engagement_actions (character_id, platform_account_id, platform,
                action_type, target_type, target_id, status, completed_at, created_at)
            SELECT a.character_id, a.id, a.platform,
                   (ARRAY['like','comment','follow','reply','share'])[1 + g %% 5], 'post',
                   'target-' || g,
                   CASE WHEN g %% 20 = 0 THEN 'pending' WHEN g %% 20 = 1 THEN 'failed'
                        ELSE 'completed' END,
                   CASE WHEN g %% 20 > 1 THEN now() - (g %% 43200 || ' minutes')::interval END,
                   now() - (g %% 43200 || ' minutes')::interval - interval '1 minute'
            FROM generate_series(%(lo)s, %(hi)s) g
            JOIN seed_acc2 a ON a.n = g %% %(accounts)s
            """,
            {"accounts": accounts},
        )
