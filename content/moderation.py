"""Optional moderation of generated text, before it becomes content.

MODERATION_BACKEND chooses: empty (off), `content.moderation.WordListModerator`
(development: a local word list, MODERATION_WORDS) or
`content.moderation.ModerationEndpoint` (an OpenAI-compatible /moderations
endpoint: MODERATION_API_BASE_URL, MODERATION_API_KEY, MODERATION_MODEL). A
flagged text is kept for review with the reason (content.textgen holds it),
never published automatically. A moderation call that fails is retried like
the text call: text is never let through unscreened.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings
from django.utils.module_loading import import_string

from content.text_backends import TextError, TextRefused, status_error


@dataclass(frozen=True)
class Verdict:
    flagged: bool
    reason: str = ""


class Moderator:
    name = "base"
    call_timeout: float = 0.0

    def check(self, text: str) -> Verdict:
        raise TextRefused(f"{self.name} cannot moderate text.")


def get_moderator() -> Moderator | None:
    path = settings.MODERATION_BACKEND
    if not path:
        return None
    moderator: Moderator = import_string(path)()
    return moderator


class WordListModerator(Moderator):
    """Development: flags a text that contains one of MODERATION_WORDS
    (whole words or phrases, case-insensitive)."""

    name = "word list"

    def __init__(self, words: list[str] | None = None):
        words = [w.strip() for w in (words or settings.MODERATION_WORDS) if w.strip()]
        self.pattern = (
            re.compile(
                r"(?<!\w)(" + "|".join(re.escape(w) for w in words) + r")(?!\w)",
                re.IGNORECASE,
            )
            if words
            else None
        )

    def check(self, text: str) -> Verdict:
        found = self.pattern.search(text) if self.pattern else None
        if found:
            return Verdict(True, f"contains a blocked word: {found.group(1)!r}")
        return Verdict(False)


class ModerationEndpoint(Moderator):
    """POST {MODERATION_API_BASE_URL}/moderations (OpenAI-compatible)."""

    name = "moderation endpoint"

    def __init__(self, base_url: str | None = None, *, timeout: float | None = None):
        self.base_url = (
            base_url
            or settings.MODERATION_API_BASE_URL
            or settings.TEXT_API_BASE_URL
            or ""
        ).rstrip("/")
        self.timeout = float(timeout or settings.TEXT_TIMEOUT)
        self.call_timeout = self.timeout + 5
        if not self.base_url:
            raise TextRefused(
                "MODERATION_API_BASE_URL (or TEXT_API_BASE_URL) is not set: give "
                "the address of an OpenAI-compatible moderation endpoint."
            )
        from openai import OpenAI

        self.client = OpenAI(
            base_url=self.base_url,
            api_key=settings.MODERATION_API_KEY
            or settings.TEXT_API_KEY
            or "not-needed",
            timeout=self.timeout,
            max_retries=0,
        )

    def check(self, text: str) -> Verdict:
        import openai

        try:
            answer = self.client.moderations.create(
                model=settings.MODERATION_MODEL, input=text
            )
        except openai.APITimeoutError as exc:
            raise TextError(
                f"The moderation endpoint did not answer within {self.timeout:g} s."
            ) from exc
        except openai.APIConnectionError as exc:
            raise TextError("Cannot reach the moderation endpoint.") from exc
        except openai.APIStatusError as exc:
            raise status_error("The moderation endpoint", exc) from exc
        results = getattr(answer, "results", None) or []
        if not results:
            raise TextError("The moderation endpoint answered without a result.")
        result = results[0]
        if not result.flagged:
            return Verdict(False)
        categories = result.categories.model_dump(by_alias=True)
        named = sorted(k for k, v in categories.items() if v)
        return Verdict(
            True,
            "flagged by the moderation endpoint"
            + (f": {', '.join(named)}" if named else ""),
        )
