"""Keep credentials out of log text and log metadata."""

import re

REDACTED = "[redacted]"
SECRET_WORDS = (
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "authorization",
    "auth_data",
    "cookie",
    "session",
    "private_key",
    "credential",
)
# (pattern, replacement, needles): a pattern can only match ASCII text that
# holds one of its needles (lower-cased), so ASCII text without them skips it
_PATTERNS = [
    # Telegram bot tokens (also inside /bot<token>/ URLs)
    (re.compile(r"(?<!\d)\d{5,12}:[A-Za-z0-9_-]{30,}"), REDACTED, (":",)),
    # Authorization: Bearer/Token/Basic <value>
    (
        re.compile(r"(?i)\b(bearer|token|basic)\s+[A-Za-z0-9._~+/=-]{8,}"),
        rf"\1 {REDACTED}",
        ("bearer", "token", "basic"),
    ),
    # key=value, key: value, "key": "value" for secret-looking keys
    (
        re.compile(
            r"(?i)([\"']?\b[\w-]*(?:" + "|".join(SECRET_WORDS) + r")[\w-]*[\"']?"
            r"\s*[:=]\s*[\"']?)([^\s\"',;&}]+)"
        ),
        rf"\1{REDACTED}",
        SECRET_WORDS,
    ),
    # user:password@ in URLs (database, Redis)
    (
        re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^:/\s@]*:)[^@\s/]+@"),
        rf"\1{REDACTED}@",
        ("://",),
    ),
]


def scrub_text(text: str) -> str:
    # Every log line passes here (about 60 us for four expressions): ASCII
    # text is only searched by the expressions whose needles it holds. Other
    # text goes through all of them: case-insensitive matching lets a few
    # non-ASCII letters stand for ASCII ones (the long s for s), which
    # a lower-cased needle would miss.
    lowered = text.lower() if text.isascii() else None
    for pattern, replacement, needles in _PATTERNS:
        if lowered is None or any(needle in lowered for needle in needles):
            text = pattern.sub(replacement, text)
    return text


def _secret_key(key: object) -> bool:
    lowered = str(key).lower()
    return any(word in lowered for word in SECRET_WORDS)


def scrub_data(value: object, depth: int = 0) -> object:
    """A JSON-safe copy of `value` with secret-looking keys and texts redacted."""
    if depth > 6:
        return REDACTED
    if isinstance(value, dict):
        return {
            str(k): REDACTED if _secret_key(k) else scrub_data(v, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple, set)):
        return [scrub_data(v, depth + 1) for v in value]
    if isinstance(value, str):
        return scrub_text(value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return scrub_text(str(value))
