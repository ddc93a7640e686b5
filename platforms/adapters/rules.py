"""What a platform accepts, checked before a post is scheduled.

Each adapter declares its `rules` (a PlatformRules) next to the code that
publishes; `PlatformRules.problems(draft)` answers {field: [messages]} for a
PostDraft built from a scheduled post (platforms.models.ScheduledPost.clean)
or from an API/admin form. The limits are the platforms' documented ones; a
value the content row does not know (no duration, no size) is not checked.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

HASHTAG = re.compile(r"(?:^|(?<=\s))#\w+", re.UNICODE)
MB = 1024 * 1024


@dataclass(frozen=True)
class MediaInfo:
    """The facts about one file that platform limits are about."""

    content_type: str  # image, video, text, audio
    mime_type: str | None = None
    file_size: int | None = None  # bytes
    width: int | None = None
    height: int | None = None
    duration: int | None = None  # seconds

    @classmethod
    def of(cls, content: Any) -> MediaInfo:
        """The media facts of a content.models.Content row (not imported: this
        module is a leaf the models lean on)."""
        return cls(
            content_type=content.content_type,
            mime_type=content.mime_type,
            file_size=content.file_size,
            width=content.width,
            height=content.height,
            duration=content.duration,
        )


@dataclass(frozen=True)
class PostDraft:
    """A post as it would be published: its type, text and media (first = main)."""

    post_type: str | None
    caption: str = ""
    hashtags: tuple[str, ...] = ()
    media: tuple[MediaInfo, ...] = ()

    @property
    def text(self) -> str:
        # the same text PublishRequest.text sends
        tags = " ".join(f"#{t.lstrip('#')}" for t in self.hashtags if t)
        return f"{self.caption}\n\n{tags}".strip() if tags else self.caption

    @property
    def hashtag_count(self) -> int:
        return len(HASHTAG.findall(self.text))


def _size(n: int) -> str:
    return f"{n / MB:g} MB" if n >= MB else f"{n / 1024:g} KB"


@dataclass(frozen=True)
class MediaLimits:
    """Limits on one kind of file (images, or videos) for one post type."""

    mime_types: tuple[str, ...] = ()  # empty: any
    max_bytes: int | None = None
    min_seconds: float | None = None
    max_seconds: float | None = None
    # width / height
    min_ratio: float | None = None
    max_ratio: float | None = None
    ratio_label: str = ""

    def problems(self, media: MediaInfo, *, what: str) -> list[str]:
        found = []
        if (
            self.mime_types
            and media.mime_type
            and media.mime_type not in self.mime_types
        ):
            found.append(
                f"{what} must be {' or '.join(self.mime_types)}, not {media.mime_type}."
            )
        if self.max_bytes and media.file_size and media.file_size > self.max_bytes:
            found.append(
                f"{what} is {_size(media.file_size)}; the limit is {_size(self.max_bytes)}."
            )
        if media.duration is not None:
            if self.min_seconds is not None and media.duration < self.min_seconds:
                found.append(
                    f"{what} lasts {media.duration} s; the minimum is {self.min_seconds:g} s."
                )
            if self.max_seconds is not None and media.duration > self.max_seconds:
                found.append(
                    f"{what} lasts {media.duration} s; the maximum is {self.max_seconds:g} s."
                )
        if media.width and media.height and (self.min_ratio or self.max_ratio):
            ratio = media.width / media.height
            low = self.min_ratio or 0
            high = self.max_ratio or float("inf")
            # a pixel of rounding is not a different aspect ratio
            if not (low * 0.99 <= ratio <= high * 1.01):
                found.append(
                    f"{what} is {media.width}x{media.height} (aspect ratio "
                    f"{ratio:.2f}:1); it must be between {self.ratio_label}."
                )
        return found


@dataclass(frozen=True)
class PostTypeRule:
    """What one post type takes: which content types, how many files, text only."""

    media: dict[str, MediaLimits] = field(
        default_factory=dict
    )  # content type -> limits
    text_only: bool = False
    max_items: int = 1
    # the platform refuses files of these types for this post type, with reason
    note: str = ""


@dataclass(frozen=True)
class PlatformRules:
    label: str
    post_types: dict[str, PostTypeRule]
    default_post_type: str
    aliases: dict[str, str] = field(default_factory=dict)  # our post type -> theirs
    caption_max: int | None = None
    caption_max_with_media: int | None = None
    hashtags_max: int | None = None
    caption_length: Callable[[str], int] = len
    caption_unit: str = "characters"
    # a platform's own checks beyond these: {field: [messages]}
    check: Callable[[PostDraft], dict[str, list[str]]] | None = None

    def post_type_of(self, post_type: str | None) -> str:
        post_type = post_type or self.default_post_type
        return self.aliases.get(post_type, post_type)

    def problems(self, draft: PostDraft) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = defaultdict(list)
        post_type = self.post_type_of(draft.post_type)
        rule = self.post_types.get(post_type)
        if rule is None:
            accepted = sorted(
                {
                    *self.post_types,
                    *(k for k, v in self.aliases.items() if v in self.post_types),
                }
            )
            errors["post_type"].append(
                f"{self.label} does not publish '{draft.post_type}' posts; "
                f"it takes: {', '.join(accepted)}."
            )
            return dict(errors)
        limit = (
            self.caption_max_with_media
            if draft.media and self.caption_max_with_media
            else self.caption_max
        )
        length = self.caption_length(draft.text)
        if limit is not None and length > limit:
            errors["caption"].append(
                f"{self.label} allows {limit} {self.caption_unit}; caption and "
                f"hashtags make {length}."
            )
        if self.hashtags_max is not None and draft.hashtag_count > self.hashtags_max:
            errors["hashtags"].append(
                f"{self.label} allows {self.hashtags_max} hashtags; caption and "
                f"hashtags hold {draft.hashtag_count}."
            )
        if self.check is not None:
            for name, messages in self.check(draft).items():
                errors[name].extend(messages)
        if not draft.media:
            if not rule.text_only:
                kinds = " or ".join(f"a {kind}" for kind in rule.media) or "media"
                errors["content"].append(
                    f"A {self.label} {post_type} needs {kinds}: text-only posts "
                    "are refused." + (f" {rule.note}" if rule.note else "")
                )
            return dict(errors)
        if len(draft.media) > rule.max_items:
            errors["additional_content_ids"].append(
                f"A {self.label} {post_type} takes at most {rule.max_items} "
                f"file{'s' if rule.max_items > 1 else ''}; this one has {len(draft.media)}."
            )
        for index, media in enumerate(draft.media):
            name = "content" if index == 0 else "additional_content_ids"
            limits = rule.media.get(media.content_type)
            if limits is None:
                kinds = " or ".join(rule.media) or "no files"
                errors[name].append(
                    f"A {self.label} {post_type} takes {kinds}, not {media.content_type}."
                    + (f" {rule.note}" if rule.note else "")
                )
                continue
            what = "The file" if index == 0 else f"Additional file {index}"
            errors[name].extend(limits.problems(media, what=what))
        return {k: v for k, v in errors.items() if v}
