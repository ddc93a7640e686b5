"""Social accounts, published posts, the publishing queue and engagement actions."""

import zoneinfo

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, URLValidator
from django.db import models
from django.db.models.functions import Upper
from django_cryptography.fields import encrypt

from characters.models import Character
from config.fields import (
    attempt_journal,
    choices_check,
    created_at,
    defaulted,
    min_check,
    non_negative,
    range_check,
    updated_at,
    uuid_pk,
    validate_timezone,
)
from content.models import Content, TextGeneration
from platforms.adapters import post_problems
from platforms.adapters.rules import MediaInfo, PostDraft
from platforms.slots import WEEKDAYS


class Platform(models.TextChoices):
    """The social platforms a character can post to."""

    INSTAGRAM = "instagram", "Instagram"
    TWITTER = "twitter", "Twitter / X"
    FACEBOOK = "facebook", "Facebook"
    TELEGRAM = "telegram", "Telegram"
    ONLYFANS = "onlyfans", "OnlyFans"
    YOUTUBE = "youtube", "YouTube"


class PostType(models.TextChoices):
    POST = "post"
    STORY = "story"
    REEL = "reel"
    SHORT = "short"
    TWEET = "tweet"
    MESSAGE = "message"
    VIDEO = "video"


def account_consistency_clean(obj, *, check_platform: bool) -> None:
    """A row's character (and platform) must be those of its platform account.

    The database enforces the same with a composite foreign key
    (see the `*_account_consistency_fk` constraints and docs/schema-deviations.md).
    """
    account_id = getattr(obj, "platform_account_id", None)
    if account_id is None:
        return
    try:
        account = obj.platform_account
    except PlatformAccount.DoesNotExist:
        return  # deleted meanwhile: the field's own validation says so
    errors = {}
    if obj.character_id and account.character_id != obj.character_id:
        errors["platform_account"] = "This account belongs to another character."
    if check_platform and obj.platform and account.platform != obj.platform:
        errors["platform"] = (
            f"The account is on {account.platform}, not on {obj.platform}."
        )
    if errors:
        raise ValidationError(errors)


class PlatformAccountAuthType(models.TextChoices):
    API_KEY = "api_key", "API key"
    OAUTH = "oauth", "OAuth"
    BROWSER_SESSION = "browser_session", "Browser session"
    COOKIE = "cookie", "Cookie"


class PlatformAccountConnectionStatus(models.TextChoices):
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    ERROR = "error"
    RATE_LIMITED = "rate_limited", "Rate limited"
    SUSPENDED = "suspended"


class PlatformAccount(models.Model):
    """A character's account on one social platform, with its credentials."""

    AuthType = PlatformAccountAuthType

    ConnectionStatus = PlatformAccountConnectionStatus

    id = uuid_pk()
    character = models.ForeignKey(
        Character,
        on_delete=models.CASCADE,
        related_name="platform_accounts",
        db_index=False,
    )
    platform = models.CharField(max_length=50, choices=Platform.choices)
    account_username = models.CharField(max_length=255, null=True, blank=True)
    account_id = models.CharField(max_length=255, null=True, blank=True)
    account_url = models.TextField(null=True, blank=True, validators=[URLValidator()])
    auth_type = models.CharField(
        max_length=50, choices=AuthType.choices, null=True, blank=True
    )
    # Deviation: bytea holding django-cryptography's token of the JSON value,
    # never plaintext (the document's JSONB column would hold it in clear).
    auth_data = encrypt(models.JSONField(null=True, blank=True, editable=False))
    is_connected = models.BooleanField(**defaulted(False))
    connection_status = models.CharField(
        max_length=20,
        choices=ConnectionStatus.choices,
        **defaulted(ConnectionStatus.DISCONNECTED),
    )
    # Deviation: why the account needs a person (a failed token refresh, ...),
    # shown on the dashboard; cleared when it connects again. Never a secret.
    connection_error = models.TextField(null=True, blank=True, editable=False)
    # Deviation: when the stored access token expires, in clear (auth_data is
    # encrypted and cannot be queried): the periodic refresh finds the tokens
    # to renew with one indexed query.
    token_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    follower_count = non_negative(editable=False)
    following_count = non_negative(editable=False)
    post_count = non_negative(editable=False)
    last_synced_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Deviation: a metrics-sync worker's lease on this account (platforms/sync.py).
    sync_locked_until = models.DateTimeField(null=True, blank=True, editable=False)
    auto_posting_enabled = models.BooleanField(**defaulted(True))
    auto_engagement_enabled = models.BooleanField(**defaulted(True))
    posting_frequency = models.CharField(max_length=50, null=True, blank=True)
    engagement_frequency = models.CharField(max_length=50, null=True, blank=True)
    rate_limit_remaining = models.IntegerField(
        null=True, blank=True, validators=[MinValueValidator(0)], editable=False
    )
    rate_limit_reset_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_rate_limit_hit_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = created_at()
    updated_at = updated_at()
    last_activity_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        db_table = "platform_accounts"
        ordering = ["character_id", "platform"]
        permissions = [
            ("manage_credentials", "Can replace a platform account's credentials"),
        ]
        constraints = [
            choices_check(
                "platform", Platform, name="platform_accounts_platform_check"
            ),
            choices_check(
                "connection_status",
                PlatformAccountConnectionStatus,
                name="connection_status_check",
            ),
            choices_check(
                "auth_type",
                PlatformAccountAuthType,
                name="auth_type_check",
                nullable=True,
            ),
            min_check("follower_count", 0, table="platform_accounts"),
            min_check("following_count", 0, table="platform_accounts"),
            min_check("post_count", 0, table="platform_accounts"),
            min_check(
                "rate_limit_remaining", 0, table="platform_accounts", nullable=True
            ),
            models.UniqueConstraint(
                fields=["character", "platform"],
                name="unique_character_platform",
                violation_error_message="This character already has an account on this platform.",
            ),
            # Target of the composite foreign keys that keep a post's (and a
            # scheduled post's, an engagement action's, an analytics row's)
            # character and platform equal to its account's.
            models.UniqueConstraint(
                fields=["id", "character", "platform"],
                name="platform_accounts_identity_key",
            ),
            models.UniqueConstraint(
                fields=["id", "character"], name="platform_accounts_character_key"
            ),
        ]
        indexes = [
            models.Index(fields=["character"], name="idx_plat_accounts_character"),
            models.Index(fields=["platform"], name="idx_platform_accounts_platform"),
            models.Index(
                fields=["is_connected"],
                name="idx_plat_accounts_connected",
                condition=models.Q(is_connected=True),
            ),
            models.Index(
                fields=["connection_status"], name="idx_platform_accounts_status"
            ),
            models.Index(
                fields=["account_username"],
                name="idx_platform_accounts_username",
                condition=models.Q(account_username__isnull=False),
            ),
            GinIndex(
                OpClass(Upper("account_username"), name="gin_trgm_ops"),
                name="trgm_accounts_username",
            ),
            # Polled by the token refresh (platforms.tasks.refresh_platform_tokens).
            models.Index(
                fields=["token_expires_at"],
                name="idx_plat_accounts_token_exp",
                condition=models.Q(token_expires_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_platform_display()} @{self.account_username or '?'}"


class PostStatus(models.TextChoices):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    PUBLISHED = "published"
    FAILED = "failed"
    DELETED = "deleted"


class Post(models.Model):
    """A post published (or being published) on a platform."""

    Status = PostStatus
    # what went out (or was taken down) is a record, not a draft: the admin and
    # the API refuse to edit it (config.edits.edit_refusal); its numbers come
    # from the metrics sync, its take-down from `services.post_take_down`
    RECORD_STATUSES = {
        PostStatus.PUBLISHED: "published",
        PostStatus.DELETED: "taken down",
    }

    id = uuid_pk()
    character = models.ForeignKey(
        Character, on_delete=models.CASCADE, related_name="posts", db_index=False
    )
    platform_account = models.ForeignKey(
        PlatformAccount, on_delete=models.CASCADE, related_name="posts", db_index=False
    )
    platform = models.CharField(max_length=50, choices=Platform.choices)
    post_type = models.CharField(
        max_length=50, choices=PostType.choices, null=True, blank=True
    )
    platform_post_id = models.CharField(max_length=255, null=True, blank=True)
    platform_post_url = models.TextField(null=True, blank=True)
    content = models.ForeignKey(
        Content,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="posts",
        db_index=False,
    )
    additional_content_ids = ArrayField(models.UUIDField(), null=True, blank=True)
    caption = models.TextField(null=True, blank=True)
    hashtags = ArrayField(models.TextField(), null=True, blank=True)
    mentions = ArrayField(models.TextField(), null=True, blank=True)
    likes_count = non_negative(editable=False)
    comments_count = non_negative(editable=False)
    shares_count = non_negative(editable=False)
    views_count = non_negative(editable=False)
    last_engagement_sync_at = models.DateTimeField(
        null=True, blank=True, editable=False
    )
    status = models.CharField(
        max_length=20, choices=Status.choices, **defaulted(Status.DRAFT)
    )
    published_at = models.DateTimeField(null=True, blank=True)
    error_message = models.TextField(null=True, blank=True)
    retry_count = non_negative(editable=False)
    created_at = created_at()
    updated_at = updated_at()

    class Meta:
        db_table = "posts"
        ordering = ["-published_at"]
        constraints = [
            choices_check("platform", Platform, name="posts_platform_check"),
            choices_check("status", PostStatus, name="posts_status_check"),
            choices_check("post_type", PostType, name="post_type_check", nullable=True),
            *(
                min_check(f, 0, table="posts")
                for f in (
                    "likes_count",
                    "comments_count",
                    "shares_count",
                    "views_count",
                    "retry_count",
                )
            ),
            # The document's `UNIQUE (...) WHERE ...` is not valid SQL: a partial
            # unique index it is. Also what makes publishing idempotent.
            models.UniqueConstraint(
                fields=["platform", "platform_post_id"],
                condition=models.Q(platform_post_id__isnull=False),
                name="platform_post_id_unique",
                violation_error_message="This platform post id is already recorded.",
            ),
            # Added: a published post says when.
            models.CheckConstraint(
                condition=~models.Q(status="published")
                | models.Q(published_at__isnull=False),
                name="posts_published_at_check",
                violation_error_message="A published post needs published_at.",
            ),
        ]
        indexes = [
            models.Index(fields=["character"], name="idx_posts_character"),
            models.Index(
                fields=["platform_account"], name="idx_posts_platform_account"
            ),
            models.Index(fields=["platform"], name="idx_posts_platform"),
            models.Index(fields=["status"], name="idx_posts_status"),
            models.Index(fields=["-published_at"], name="idx_posts_published"),
            models.Index(
                fields=["platform", "platform_post_id"],
                name="idx_posts_platform_post_id",
                condition=models.Q(platform_post_id__isnull=False),
            ),
            models.Index(
                fields=["content"],
                name="idx_posts_content",
                condition=models.Q(content__isnull=False),
            ),
            GinIndex(fields=["hashtags"], name="idx_posts_hashtags"),
            models.Index(
                fields=["-likes_count", "-comments_count"],
                name="idx_posts_engagement",
                condition=models.Q(status="published"),
            ),
            # Added: the admin sorts published posts by each engagement column.
            *(
                models.Index(
                    fields=[f"-{column}_count"],
                    name=f"idx_posts_{column}",
                    condition=models.Q(status="published"),
                )
                for column in ("comments", "shares", "views")
            ),
            # Added: the API's cursor pagination walks posts by created_at.
            models.Index(fields=["-created_at"], name="idx_posts_created"),
            # Added: a character's posts by status, newest first (API post list).
            models.Index(
                fields=["character", "status", "-published_at"],
                name="idx_posts_char_status_pub",
            ),
            GinIndex(
                OpClass(Upper("caption"), name="gin_trgm_ops"),
                name="trgm_posts_caption",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_platform_display()} post {self.platform_post_id or self.id}"

    def clean(self):
        super().clean()
        account_consistency_clean(self, check_platform=True)
        if self.status == self.Status.PUBLISHED and self.published_at is None:
            raise ValidationError(
                {"published_at": "A published post needs published_at."}
            )


class PostMetrics(models.Model):
    """The latest numbers a platform reported for one of its posts.

    The metrics sync writes here (platforms/sync.py), not into posts: a narrow
    row without indexes on its numbers, so each sync is a HOT update of one
    small row instead of a new posts row version that every index of posts
    (two GIN among them) must take in. `post_metrics_fold` copies the numbers
    that changed into the posts' cached columns, which keep the engagement
    sorts' indexes (docs/schema-deviations.md).
    """

    post = models.OneToOneField(
        Post,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="metrics",
        db_column="post_id",
    )
    likes_count = non_negative()
    comments_count = non_negative()
    shares_count = non_negative()
    views_count = non_negative()
    synced_at = models.DateTimeField()
    # synced since the last fold: the fold reads only these rows (not indexed:
    # it scans the narrow table in heap order)
    fold_pending = models.BooleanField(**defaulted(True))

    class Meta:
        db_table = "post_metrics"
        verbose_name_plural = "post metrics"
        constraints = [
            min_check(f, 0, table="post_metrics")
            for f in ("likes_count", "comments_count", "shares_count", "views_count")
        ]

    def __str__(self) -> str:
        return f"metrics of post {self.post_id}"


class ScheduledPostStatus(models.TextChoices):
    SCHEDULED = "scheduled"
    PROCESSING = "processing"
    PUBLISHED = "published"
    FAILED = "failed"
    CANCELLED = "cancelled"


class ScheduledPostCaptionStatus(models.TextChoices):
    """Whether the post's own caption may go out (issue 15)."""

    # written by staff (admin, API) or approved by a person
    APPROVED = "approved"
    # the persona's text is being written for it (the queue waits for it)
    WRITING = "writing", "Being written"
    # the written text was held by moderation: a person reviews it
    FLAGGED = "flagged", "Held by moderation"


class ScheduledPost(models.Model):
    """A post waiting in the publishing queue for its time."""

    Status = ScheduledPostStatus
    # being published or published: a record of what went out, not a draft
    # (config.edits.edit_refusal: the admin and the API refuse to edit it)
    RECORD_STATUSES = {
        ScheduledPostStatus.PROCESSING: "being published",
        ScheduledPostStatus.PUBLISHED: "published",
    }

    CaptionStatus = ScheduledPostCaptionStatus

    id = uuid_pk()
    character = models.ForeignKey(
        Character,
        on_delete=models.CASCADE,
        related_name="scheduled_posts",
        db_index=False,
    )
    platform_account = models.ForeignKey(
        PlatformAccount,
        on_delete=models.CASCADE,
        related_name="scheduled_posts",
        db_index=False,
    )
    scheduled_at = models.DateTimeField()
    timezone = models.CharField(
        max_length=50, validators=[validate_timezone], **defaulted("UTC")
    )
    content = models.ForeignKey(
        Content,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="scheduled_posts",
        db_index=False,
    )
    additional_content_ids = ArrayField(models.UUIDField(), null=True, blank=True)
    caption = models.TextField(null=True, blank=True)
    hashtags = ArrayField(models.TextField(), null=True, blank=True)
    # Deviation: the review of the post's own caption; a post without one
    # publishes its content's caption, which must be approved on the content.
    caption_status = models.CharField(
        max_length=20,
        choices=CaptionStatus.choices,
        **defaulted(CaptionStatus.APPROVED),
        editable=False,
    )
    # Deviation: the text job writing this post's caption ({ai_caption}).
    caption_job = models.ForeignKey(
        TextGeneration,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        db_index=False,
    )
    post_type = models.CharField(
        max_length=50, choices=PostType.choices, null=True, blank=True
    )
    status = models.CharField(
        max_length=20, choices=Status.choices, **defaulted(Status.SCHEDULED)
    )
    # Deviation: the document leaves this a bare UUID; it is a real foreign key.
    automation_rule = models.ForeignKey(
        "automation.AutomationRule",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="scheduled_posts",
        db_index=False,
    )
    error_message = models.TextField(null=True, blank=True)
    retry_count = non_negative(editable=False)
    max_retries = models.IntegerField(
        validators=[MinValueValidator(0), MaxValueValidator(10)], **defaulted(3)
    )
    # Deviation: a publishing worker's lease on a 'processing' row; on a
    # 'scheduled' row, "not before" (a retry's backoff).
    locked_until = models.DateTimeField(null=True, blank=True, editable=False)
    # Deviation: the attempt journal (config/workqueue.py): set before the
    # platform is called, cleared with the result.
    attempt_started_at, attempt_count = attempt_journal()
    # Deviation: the posts row this scheduled post became (idempotent publishing).
    post = models.ForeignKey(
        Post,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        db_index=False,
    )
    created_at = created_at()
    updated_at = updated_at()
    published_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        db_table = "scheduled_posts"
        ordering = ["scheduled_at"]
        constraints = [
            choices_check(
                "status", ScheduledPostStatus, name="scheduled_posts_status_check"
            ),
            # Added: the same post types as posts, or publishing would fail later.
            choices_check(
                "post_type",
                PostType,
                name="scheduled_posts_post_type_check",
                nullable=True,
            ),
            min_check("retry_count", 0, table="scheduled_posts"),
            range_check("max_retries", 0, 10, table="scheduled_posts"),
            models.CheckConstraint(
                condition=models.Q(scheduled_at__gte=models.F("created_at")),
                name="scheduled_at_future",
                violation_error_message="scheduled_at cannot be before the row was created.",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="published")
                | models.Q(published_at__isnull=False),
                name="scheduled_posts_published_at_check",
                violation_error_message="A published scheduled post needs published_at.",
            ),
            choices_check(
                "caption_status",
                ScheduledPostCaptionStatus,
                name="scheduled_posts_caption_status_check",
            ),
        ]
        indexes = [
            models.Index(fields=["character"], name="idx_scheduled_posts_character"),
            # Polled every minute by the publisher (platforms.tasks.publish_due_posts).
            models.Index(
                fields=["scheduled_at"],
                name="idx_sched_posts_scheduled_at",
                condition=models.Q(status="scheduled"),
            ),
            models.Index(fields=["status"], name="idx_scheduled_posts_status"),
            models.Index(
                fields=["platform_account"], name="idx_scheduled_posts_platform"
            ),
            models.Index(
                fields=["automation_rule"],
                name="idx_scheduled_posts_rule",
                condition=models.Q(automation_rule__isnull=False),
            ),
            # Added: the SET NULL on content deletion looks rows up by content_id.
            models.Index(
                fields=["content"],
                name="idx_scheduled_posts_content",
                condition=models.Q(content__isnull=False),
            ),
            models.Index(
                fields=["post"],
                name="idx_scheduled_posts_post",
                condition=models.Q(post__isnull=False),
            ),
            # ON DELETE SET NULL from text_generations.
            models.Index(
                fields=["caption_job"],
                name="idx_sched_posts_caption_job",
                condition=models.Q(caption_job__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"Scheduled post {self.id} at {self.scheduled_at:%Y-%m-%d %H:%M}"

    def clean(self) -> None:
        super().clean()
        account_consistency_clean(self, check_platform=False)
        self.content_clean()
        self.platform_rules_clean()

    def content_clean(self) -> None:
        """A waiting post's content is its character's own, and approved."""
        if self.content_id is None or self.status not in (
            ScheduledPostStatus.SCHEDULED,
            None,
        ):
            return
        content = self.content
        assert content is not None
        if self.character_id and content.character_id != self.character_id:
            raise ValidationError(
                {"content": "This content belongs to another character."}
            )
        if not (
            content.is_approved
            and content.approval_status == Content.ApprovalStatus.APPROVED
        ):
            raise ValidationError(
                {"content": "Only approved content can be scheduled."}
            )

    def platform_rules_clean(self) -> None:
        """The platform's own rules (caption length, hashtags, media type, size,
        duration, aspect ratio), checked when the post is scheduled instead of
        failing at publish time. They live in each platform's adapter."""
        if self.platform_account_id is None or self.status not in (
            ScheduledPostStatus.SCHEDULED,
            None,
        ):
            return
        files: list[Content] = [self.content] if self.content else []
        if self.additional_content_ids:
            rows = {
                c.pk: c
                for c in Content.objects.filter(pk__in=self.additional_content_ids)
            }
            missing = [str(pk) for pk in self.additional_content_ids if pk not in rows]
            if missing:
                raise ValidationError(
                    {
                        "additional_content_ids": f"No such content: {', '.join(missing)}."
                    }
                )
            files += [rows[pk] for pk in self.additional_content_ids]
        caption, hashtags = self.published_text()
        draft = PostDraft(
            post_type=self.post_type,
            caption=caption,
            hashtags=tuple(hashtags),
            media=tuple(
                MediaInfo.of(c) for c in files if c.content_type in Content.VISUAL_TYPES
            ),
        )
        problems = post_problems(self.platform_account.platform, draft)
        if problems:
            raise ValidationError(problems)

    def published_text(self) -> tuple[str, list[str]]:
        """The caption and hashtags that go out: the post's own, or (a post
        without a caption) its content's, whose approval the publish step
        checks."""
        if (self.caption or "").strip() or self.content is None:
            return self.caption or "", list(self.hashtags or [])
        return self.content.caption or "", list(
            self.hashtags or self.content.hashtags or []
        )

    @property
    def local_scheduled_at(self):
        return self.scheduled_at.astimezone(zoneinfo.ZoneInfo(self.timezone or "UTC"))


class EngagementActionActionType(models.TextChoices):
    LIKE = "like"
    COMMENT = "comment"
    SHARE = "share"
    FOLLOW = "follow"
    UNFOLLOW = "unfollow"
    MESSAGE = "message"
    REPLY = "reply"


class EngagementActionStatus(models.TextChoices):
    PENDING = "pending"
    # Deviation: a claimed action, under a worker's lease.
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class EngagementAction(models.Model):
    """A like, comment, follow or message a character performs (or will)."""

    ActionType = EngagementActionActionType

    Status = EngagementActionStatus
    # being performed or done: a record of what was done on the platform
    RECORD_STATUSES = {
        EngagementActionStatus.PROCESSING: "being performed",
        EngagementActionStatus.COMPLETED: "done",
    }

    # Actions whose comment_text the persona writes when none is given; they
    # are not performed before it exists (platforms.engagement's claim).
    TEXT_ACTIONS = (ActionType.COMMENT.value, ActionType.REPLY.value)

    id = uuid_pk()
    character = models.ForeignKey(
        Character,
        on_delete=models.CASCADE,
        related_name="engagement_actions",
        db_index=False,
    )
    platform_account = models.ForeignKey(
        PlatformAccount,
        on_delete=models.CASCADE,
        related_name="engagement_actions",
        db_index=False,
    )
    platform = models.CharField(max_length=50, choices=Platform.choices)
    action_type = models.CharField(max_length=50, choices=ActionType.choices)
    target_type = models.CharField(max_length=50, null=True, blank=True)
    target_id = models.CharField(max_length=255, null=True, blank=True)
    target_url = models.TextField(null=True, blank=True, validators=[URLValidator()])
    comment_text = models.TextField(null=True, blank=True)
    message_text = models.TextField(null=True, blank=True)
    # Deviation: the text of the post or comment this action answers (the
    # persona's reply is written with it in the prompt).
    target_text = models.TextField(null=True, blank=True)
    # Deviation: the text job writing comment_text (comment and reply actions
    # without text wait for it; content.textgen).
    text_job = models.ForeignKey(
        TextGeneration,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        db_index=False,
    )
    status = models.CharField(
        max_length=20, choices=Status.choices, **defaulted(Status.PENDING)
    )
    completed_at = models.DateTimeField(null=True, blank=True, editable=False)
    error_message = models.TextField(null=True, blank=True)
    retry_count = non_negative(editable=False)
    locked_until = models.DateTimeField(null=True, blank=True, editable=False)
    # Deviation: the attempt journal (config/workqueue.py).
    attempt_started_at, attempt_count = attempt_journal()
    created_at = created_at()

    class Meta:
        db_table = "engagement_actions"
        ordering = ["-created_at"]
        constraints = [
            choices_check(
                "platform", Platform, name="engagement_actions_platform_check"
            ),
            choices_check(
                "action_type", EngagementActionActionType, name="action_type_check"
            ),
            choices_check(
                "status", EngagementActionStatus, name="engagement_actions_status_check"
            ),
            min_check("retry_count", 0, table="engagement_actions"),
            models.CheckConstraint(
                condition=~models.Q(status="completed")
                | models.Q(completed_at__isnull=False),
                name="engagement_actions_completed_at_check",
                violation_error_message="A completed action needs completed_at.",
            ),
        ]
        indexes = [
            models.Index(fields=["character"], name="idx_engagement_character"),
            models.Index(
                fields=["platform_account"], name="idx_engagement_plat_account"
            ),
            models.Index(fields=["status"], name="idx_engagement_status"),
            models.Index(fields=["-created_at"], name="idx_engagement_created"),
            models.Index(fields=["action_type"], name="idx_engagement_type"),
            models.Index(fields=["platform"], name="idx_engagement_platform"),
            # Polled by the engagement queue (platforms.tasks.process_engagement_queue).
            models.Index(
                fields=["created_at"],
                name="idx_engagement_pending",
                condition=models.Q(status="pending"),
            ),
            # ON DELETE SET NULL from text_generations.
            models.Index(
                fields=["text_job"],
                name="idx_engagement_text_job",
                condition=models.Q(text_job__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_type_display()} on {self.platform} ({self.status})"

    def clean(self):
        super().clean()
        account_consistency_clean(self, check_platform=True)


class PublishingHoldKind(models.TextChoices):
    RESTORE = "restore", "After a restore"
    MANUAL = "manual", "Paused by staff"


class PublishingHold(models.Model):
    """A stop on everything that sends (posts and engagement) until staff lift it.

    Placed by a restore (posts sent between the backup and the restore would
    come back as due and go out again) or by staff. While one is active,
    nothing is claimed; lifting a restore hold asks what to do with the posts
    that were due when it was placed.
    """

    Kind = PublishingHoldKind

    id = uuid_pk()
    kind = models.CharField(max_length=20, choices=Kind.choices)
    reason = models.TextField()
    # the restored backup's time (restore holds)
    backup_taken_at = models.DateTimeField(null=True, blank=True)
    created_at = created_at()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    lifted_at = models.DateTimeField(null=True, blank=True, editable=False)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        db_index=False,
    )
    lift_note = models.TextField(null=True, blank=True, editable=False)

    class Meta:
        db_table = "publishing_holds"
        ordering = ["-created_at"]
        constraints = [
            choices_check(
                "kind", PublishingHoldKind, name="publishing_holds_kind_check"
            ),
        ]
        indexes = [
            # Read by every publishing and engagement drain (active()).
            models.Index(
                fields=["created_at"],
                name="idx_publishing_holds_active",
                condition=models.Q(lifted_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        state = "lifted" if self.lifted_at else "active"
        return (
            f"{self.get_kind_display()} ({state}, {self.created_at:%Y-%m-%d %H:%M} UTC)"
        )

    @classmethod
    def active(cls) -> bool:
        return cls.objects.filter(lifted_at__isnull=True).exists()


class PostingSlot(models.Model):
    """One weekly time an account posts at (a weekday and a wall-clock time on
    its character's clock); bulk scheduling fills the free ones."""

    id = uuid_pk()
    platform_account = models.ForeignKey(
        PlatformAccount,
        on_delete=models.CASCADE,
        related_name="posting_slots",
        db_index=False,  # the unique key below leads with it
    )
    # 0 = Monday ... 6 = Sunday (Python's date.weekday())
    weekday = models.SmallIntegerField(
        choices=[(i, name) for i, name in enumerate(WEEKDAYS)],
        validators=[MinValueValidator(0), MaxValueValidator(6)],
    )
    # on the wall clock of the account's character's time zone
    time = models.TimeField()
    created_at = created_at()

    class Meta:
        db_table = "posting_slots"
        ordering = ["platform_account_id", "weekday", "time"]
        constraints = [
            range_check("weekday", 0, 6, table="posting_slots"),
            # also the index of "an account's slots" (the spread, the
            # composer's next free slot, the slot editor)
            models.UniqueConstraint(
                fields=["platform_account", "weekday", "time"],
                name="posting_slots_unique",
                violation_error_message="This account has this slot already.",
            ),
        ]

    def __str__(self) -> str:
        return f"{WEEKDAYS[self.weekday]} {self.time:%H:%M}"
