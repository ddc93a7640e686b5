"""Credentials kept out of log text (logs.scrub): ASCII text skips the
expressions whose needles it does not hold, and is scrubbed exactly as by
all of them."""

import random

from logs.scrub import _PATTERNS, scrub_text

PIECES = (
    "published scheduled post ",
    "0b6c2a0e-3c1b-4f7e-9a55",
    " as ",
    "-1001:12345",
    "123456789:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef012",
    "/bot",
    "/sendMessage",
    "Authorization: ",
    "Bearer ",
    "token ",
    "Basic ",
    "abcdefghijkl",
    "=",
    ":",
    " ",
    "'",
    '"',
    "password",
    "PASSWORD",
    "api_key",
    "X-Api-Key",
    "session",
    "Cookie",
    "auth_data",
    "{",
    "}",
    ",",
    ";",
    "&",
    "redis://",
    "postgres://",
    "user",
    "@",
    "host",
    "/",
    "private_key",
    "credential",
    "hunter2",
    "\n",
)


def everywhere(text: str) -> str:
    for pattern, replacement, _needles in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def test_ascii_text_is_scrubbed_as_by_every_expression():
    rnd = random.Random(14)
    for _ in range(5000):
        text = "".join(rnd.choice(PIECES) for _ in range(rnd.randint(1, 12)))
        assert scrub_text(text) == everywhere(text), text


def test_a_secret_is_redacted_whichever_pattern_finds_it():
    text = (
        "POST /bot123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef0123/sendMessage "
        "Authorization: Bearer abcdefghijkl password=hunter2 redis://u:pw@h"
    )
    assert scrub_text(text) == (
        "POST /bot[redacted]/sendMessage Authorization: [redacted] [redacted] "
        "password=[redacted] redis://u:[redacted]@h"
    )


def test_non_ascii_text_goes_through_every_expression():
    """The long s matches s case-insensitively: 'paſſword' is a password key
    though its lower-cased text holds no 'password'."""
    assert scrub_text("pa\u017f\u017fword=abc") == "pa\u017f\u017fword=[redacted]"
