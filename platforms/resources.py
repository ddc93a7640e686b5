"""CSV import and export of scheduled posts (django-import-export).

The library reads the file, shows the admin's dry-run preview with each
row's errors and writes the export; the rows are made here and scheduled
through `platforms.services.scheduled_posts_create` (its rules per row in
the preview, then all rows in one INSERT), never saved one by one.

Columns (import): character (name or id), platform, scheduled_at, timezone,
content (an id, optional), caption, hashtags, post_type. `scheduled_at` is
ISO 8601 with an offset (2026-12-24T19:00:00+01:00, ...Z: that instant) or
a wall-clock time without one (2026-12-24 19:00), read in the row's
`timezone` (default: the character's). The export writes the same columns,
plus id, account and status; an exported row imported again is refused (its
id exists) unless its id is left empty.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import DatabaseError
from django.db.models import Q
from import_export import fields, resources

from config.csv_io import column_uuids, uuid_or_none
from config.timezones import is_known_zone, localize, zone
from content.models import Content
from platforms.models import Platform, PlatformAccount, PostType, ScheduledPost
from platforms.services import scheduled_post_problems, scheduled_posts_create
from platforms.views import split_hashtags

MAX_ROWS = 2000
ISO_WALL = (
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
)


def parse_time(text: str, zone_name: str) -> dt.datetime:
    """ISO with an offset: that instant; without one: on `zone_name`'s clock
    (a time the clocks skip is refused, a repeated one is the first)."""
    text = (text or "").strip()
    if not text:
        raise ValidationError("Give the planned time.")
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        value = None
        for fmt in ISO_WALL:
            try:
                value = dt.datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
    if value is None:
        raise ValidationError(
            f"'{text}' is not a time: write 2026-12-24T19:00:00+01:00 (with an "
            "offset) or 2026-12-24 19:00 (on the row's timezone)."
        )
    return localize(value, zone_name)


class ScheduledPostResource(resources.ModelResource):
    # the library's pending rows (filled per row, written by bulk_create)
    create_instances: list[ScheduledPost]

    id = fields.Field(attribute="id", column_name="id", readonly=True)
    character = fields.Field(column_name="character", readonly=True)
    platform = fields.Field(column_name="platform", readonly=True)
    account = fields.Field(column_name="account", readonly=True)
    scheduled_at = fields.Field(column_name="scheduled_at", readonly=True)
    timezone = fields.Field(attribute="timezone", column_name="timezone", readonly=True)
    content = fields.Field(column_name="content", readonly=True)
    caption = fields.Field(attribute="caption", column_name="caption", readonly=True)
    hashtags = fields.Field(column_name="hashtags", readonly=True)
    post_type = fields.Field(
        attribute="post_type", column_name="post_type", readonly=True
    )
    status = fields.Field(attribute="status", column_name="status", readonly=True)

    class Meta:
        model = ScheduledPost
        fields = (
            "id",
            "character",
            "platform",
            "account",
            "scheduled_at",
            "timezone",
            "content",
            "caption",
            "hashtags",
            "post_type",
            "status",
        )
        import_id_fields: tuple[str, ...] = ()
        # every row is a new post; its fields are set by import_instance
        force_init_instance = True
        # the rules are the scheduling service's (scheduled_post_problems),
        # checked per row below; full_clean would add a query per CHECK
        clean_model_instances = False
        # all rows in one INSERT through scheduled_posts_create (bulk_create)
        use_bulk = True
        batch_size = None

    # --- export -------------------------------------------------------------------

    # (also the preview's columns, from rows not saved yet: no query, no
    # related row that is not there)

    def dehydrate_character(self, post: ScheduledPost) -> str:
        return post.character.name if post.character_id else ""

    def dehydrate_platform(self, post: ScheduledPost) -> str:
        return post.platform_account.platform if post.platform_account_id else ""

    def dehydrate_account(self, post: ScheduledPost) -> str:
        return str(post.platform_account_id or "")

    def dehydrate_scheduled_at(self, post: ScheduledPost) -> str:
        if post.scheduled_at is None:
            return ""
        return post.scheduled_at.astimezone(zone(post.timezone)).isoformat()

    def dehydrate_content(self, post: ScheduledPost) -> str:
        return str(post.content_id or "")

    def dehydrate_hashtags(self, post: ScheduledPost) -> str:
        return " ".join(f"#{t.lstrip('#')}" for t in post.hashtags or [] if t)

    @staticmethod
    def export_queryset(queryset: Any) -> Any:
        """What the export reads: two joins, no credentials (one query)."""
        return queryset.select_related("character", "platform_account").defer(
            "platform_account__auth_data"
        )

    # --- import -------------------------------------------------------------------

    def before_import(self, dataset: Any, **kwargs: Any) -> None:
        """Everything the rows refer to, read once (three queries for any
        number of rows): accounts by character and platform, content, ids
        already scheduled."""
        self.accounts: dict[tuple[str, str], PlatformAccount] = {}
        self.contents: dict[Any, Content] = {}
        self.existing: set[Any] = set()
        self.file_problem = ""
        missing = {"character", "platform", "scheduled_at"} - set(dataset.headers or [])
        if len(dataset) > MAX_ROWS:
            self.file_problem = f"Import at most {MAX_ROWS} rows at once."
        elif missing:
            self.file_problem = (
                f"The file needs the columns {', '.join(sorted(missing))}."
            )
        if self.file_problem:
            raise ValidationError(self.file_problem)
        column = dataset.headers.index
        names, ids = set(), set()
        for row in dataset:
            value = str(row[column("character")] or "").strip()
            (ids.add(uuid_or_none(value)) if uuid_or_none(value) else names.add(value))
        for account in (
            PlatformAccount.objects.filter(
                Q(character__name__in=names) | Q(character_id__in=ids),
                character__deleted_at__isnull=True,
            )
            .select_related("character")
            .defer("auth_data")
        ):
            self.accounts[(account.character.name, account.platform)] = account
            self.accounts[(str(account.character_id), account.platform)] = account
        self.contents = {
            c.pk: c
            for c in Content.objects.filter(pk__in=column_uuids(dataset, "content"))
        }
        self.existing = set(
            ScheduledPost.objects.filter(
                pk__in=column_uuids(dataset, "id")
            ).values_list("pk", flat=True)
        )

    def import_instance(
        self, instance: ScheduledPost, row: dict, **kwargs: Any
    ) -> None:
        """Fill the new post from the row; every problem, by column."""
        if self.file_problem:
            raise ValidationError(f"Not read: {self.file_problem}")
        errors: dict[str, list[str]] = {}

        def fail(column: str, message: str) -> None:
            errors.setdefault(column, []).append(message)

        if uuid_or_none(row.get("id")) in self.existing:
            fail(
                "id",
                "This post is scheduled already; leave id empty to schedule a copy.",
            )
        who = str(row.get("character") or "").strip()
        platform = str(row.get("platform") or "").strip().lower()
        account = self.accounts.get(
            (str(uuid_or_none(who)) if uuid_or_none(who) else who, platform)
        )
        if platform not in Platform.values:
            fail(
                "platform", f"'{platform}' is not one of {', '.join(Platform.values)}."
            )
        elif account is None:
            fail("character", f"No character '{who}' with a {platform} account.")
        zone_name = str(row.get("timezone") or "").strip() or (
            account.character.timezone if account else "UTC"
        )
        if not is_known_zone(zone_name):
            fail("timezone", f"{zone_name} is not a known IANA time zone.")
        else:
            try:
                instance.scheduled_at = parse_time(
                    str(row.get("scheduled_at") or ""), zone_name
                )
            except ValidationError as exc:
                fail("scheduled_at", " ".join(exc.messages))
        content_id = uuid_or_none(row.get("content")) if row.get("content") else None
        if row.get("content") and content_id not in self.contents:
            fail("content", f"No content {row.get('content')}.")
        post_type = str(row.get("post_type") or "").strip() or None
        if post_type and post_type not in PostType.values:
            fail(
                "post_type",
                f"'{post_type}' is not one of {', '.join(PostType.values)}.",
            )
        if errors:
            raise ValidationError(errors)
        assert account is not None
        instance.character = account.character
        instance.platform_account = account
        instance.timezone = zone_name
        instance.content = self.contents.get(content_id) if content_id else None
        instance.caption = str(row.get("caption") or "").strip() or None
        instance.hashtags = list(split_hashtags(str(row.get("hashtags") or ""))) or None
        instance.post_type = post_type
        [problems] = scheduled_post_problems([instance])
        if problems:
            raise ValidationError(problems)

    def bulk_create(
        self,
        using_transactions: bool,
        dry_run: bool,
        raise_errors: bool,
        batch_size: int | None = None,
        result: Any = None,
    ) -> None:
        """All the rows through the scheduling service, in one INSERT; none
        when a row is invalid (all or none)."""
        posts: list[ScheduledPost] = list(self.create_instances)
        self.create_instances.clear()
        if not posts or (result is not None and result.has_validation_errors()):
            return
        if dry_run and not using_transactions:
            return
        try:
            scheduled_posts_create(posts=posts)
        except (ValidationError, DatabaseError) as exc:  # the import's error
            self.handle_import_error(result, exc, raise_errors)
