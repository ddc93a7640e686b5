"""Scratch scheduled posts for the scheduler section: due long before any
seeded row, spread over connected accounts, reset between runs, dropped after."""

from __future__ import annotations

import datetime as dt
import shutil
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction

from platforms.models import Platform, PlatformAccount


class ScratchPosts:
    """`n` due scheduled posts under characters of their own (see `make`)."""

    # Scratch rows live under characters of this name (deleted with them, by the
    # database's ON DELETE CASCADE: accounts, content, scheduled posts, posts).
    NAME = "Bench scheduler scratch"
    # Scratch posts are due at this time, long before any seeded row, and the
    # workers publish with now=cutoff: the seeded rows that fall due meanwhile
    # stay out of the run.
    EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)

    # Their content's files (publishing refuses content whose file is missing),
    # under MEDIA_ROOT: a small PNG each.
    MEDIA_FOLDER = "bench"
    PNG = bytes.fromhex(  # 1x1, black
        "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
        "0000000c49444154789c63606060000000040001f61738550000000049454e44ae426082"
    )

    # The content rows' facts (what the platforms' rules read) per kind: an
    # Instagram feed image of 4:5, a vertical video of 20 s (a YouTube Short).
    # The files are stand-ins (the fakes take their bytes, they do not decode them).
    MP4 = b"\x00\x00\x00\x18ftypmp42" * 341  # 4 KiB: one upload request
    KINDS: dict[str, dict[str, Any]] = {
        "image": {
            "type": "image",
            "ext": ".png",
            "width": 1024,
            "height": 1280,
            "duration": None,
            "mime": "image/png",
            "size": 100_000,
        },
        "video": {
            "type": "video",
            "ext": ".mp4",
            "width": 1080,
            "height": 1920,
            "duration": 20,
            "mime": "video/mp4",
            "size": len(MP4),
        },
    }

    def __init__(self) -> None:
        self.ids: list[uuid.UUID] = []

    # What the scratch characters leave outside their cascade: the events they
    # emitted (no foreign key, so an event outlives a purge) and the audit
    # trail's rows of them and of their rows. Left, every full run added
    # 50,000 events and 150,000 audit rows to the bench database.
    LEFT_BEHIND = (
        "events",
        "audit_scheduled_posts",
        "audit_platform_accounts",
        "audit_content_approvals",
        "audit_automation_rules",
        "audit_character_personalities",
        "audit_character_appearances",
    )

    def drop(self) -> None:
        with transaction.atomic(), connection.cursor() as c:
            c.execute(
                "DELETE FROM characters WHERE name = %s RETURNING id", [self.NAME]
            )
            gone = [row[0] for row in c.fetchall()]
            if gone:
                for table in self.LEFT_BEHIND:
                    c.execute(
                        f"DELETE FROM {table} WHERE character_id = ANY(%s)", [gone]
                    )
                c.execute(
                    "DELETE FROM audit_characters WHERE pgh_obj_id = ANY(%s)", [gone]
                )
        shutil.rmtree(self._media(), ignore_errors=True)
        cache.delete_many([f"dryrun:sent:{pk}" for pk in self.ids])

    def make(
        self,
        n: int,
        *,
        platforms: list[str] | None = None,
        text_only: bool = False,
        media: str | None = None,
        post_type: str = "post",
        account_id: str | None = None,
        auth_data: dict | None = None,
    ) -> dt.datetime:
        """`n` due scheduled posts spread over 50 characters' connected,
        auto-posting accounts (one per platform: all six by default), 3 of 4
        with approved content, the rest caption only (all of them with
        `text_only`; none with `media`, "image" or "video": every post then
        carries content of that kind, as Instagram and YouTube require);
        `account_id` and `auth_data` set on every account (the credentials a
        fake platform takes). Returns the cutoff: every scratch post is due by
        then. `post_type`: every post's."""
        if text_only and media:
            raise ValueError("text_only and media exclude each other")
        kind = self.KINDS[media or "image"]
        self.drop()
        platforms = platforms or list(Platform.values)
        accounts = 50 * len(platforms)
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
                {"name": self.NAME, "platforms": platforms},
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
                        height, duration, mime_type, file_size, prompt,
                        approval_status, is_approved, tags)
                    SELECT character_id, %(type)s, 'bench/' || id || %(ext)s,
                           %(width)s, %(height)s, %(duration)s, %(mime)s,
                           %(size)s, 'bench prompt', 'approved', true,
                           ARRAY['bench']
                    FROM acc
                    RETURNING id, file_path
                )
                SELECT acc.*, content.id AS content_id
                FROM acc JOIN content ON content.file_path = 'bench/' || acc.id || %(ext)s
                """,
                {"name": self.NAME, **kind},
            )
            c.execute(
                """
                INSERT INTO scheduled_posts (character_id, platform_account_id,
                    scheduled_at, content_id, caption, hashtags, post_type, status,
                    created_at, updated_at)
                SELECT a.character_id, a.id, t.at,
                       CASE WHEN %(text_only)s OR (g %% 4 = 0 AND NOT %(media)s)
                            THEN NULL ELSE a.content_id END,
                       'Bench scheduled post ' || g, ARRAY['bench', 'tag' || g %% 20],
                       %(post_type)s, 'scheduled', t.at, t.at
                FROM generate_series(0, %(n)s - 1) g
                JOIN bench_accounts a ON a.n = g %% %(accounts)s
                CROSS JOIN LATERAL (
                    SELECT %(epoch)s::timestamptz + g * interval '1 second' AS at
                ) t
                RETURNING id
                """,
                {
                    "n": n,
                    "epoch": self.EPOCH,
                    "text_only": text_only,
                    "media": media is not None,
                    "post_type": post_type,
                    "accounts": accounts,
                },
            )
            self.ids = [row[0] for row in c.fetchall()]
            c.execute(
                "SELECT file_path FROM content WHERE id IN "
                "(SELECT content_id FROM bench_accounts)"
            )
            paths = [row[0] for row in c.fetchall()]
        if account_id is not None or auth_data is not None:
            # encrypted by the model field: through the ORM, 50 to 300 rows
            for account in PlatformAccount.objects.filter(character__name=self.NAME):
                account.account_id = account_id or account.account_id
                account.auth_data = auth_data
                account.save(update_fields=["account_id", "auth_data"])
        root = Path(settings.MEDIA_ROOT)
        for path in paths:
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_bytes(self.PNG if media != "video" else self.MP4)
        return self.EPOCH + dt.timedelta(seconds=n)

    def _media(self) -> Path:
        return Path(settings.MEDIA_ROOT) / self.MEDIA_FOLDER

    def reset(self) -> None:
        """Scratch posts due again, as before a run (their published posts gone)."""
        with transaction.atomic(), connection.cursor() as c:
            c.execute(
                "DELETE FROM posts WHERE character_id IN "
                "(SELECT id FROM characters WHERE name = %s)",
                [self.NAME],
            )
            c.execute(
                "UPDATE scheduled_posts SET status = 'scheduled', post_id = NULL, "
                "published_at = NULL, locked_until = NULL, error_message = NULL, "
                "retry_count = 0, attempt_count = 0, attempt_started_at = NULL "
                "WHERE id = ANY(%s)",
                [self.ids],
            )
        cache.delete_many([f"dryrun:sent:{pk}" for pk in self.ids])

    def outcome(self) -> dict[str, int]:
        with connection.cursor() as c:
            c.execute(
                "SELECT status, count(*) FROM scheduled_posts WHERE id = ANY(%s) "
                "GROUP BY status",
                [self.ids],
            )
            return dict(c.fetchall())
