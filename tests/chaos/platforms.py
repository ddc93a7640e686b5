"""The platforms the chaos suite can drive: adapter, loopback fake and accounts.

To drive a new adapter (issue 14: Instagram, X, YouTube, Facebook), give its
fake a `serve_main` entry point (tests/fakes/loopback.py: `--journal`,
`--hang`, `--error500`, `--error429`, `--hang-seconds`, `--retry-after`,
`--seed`; each journal line has `status`, `fault` and the posted `text`), then
add a `ChaosPlatform` here: the environment that points the real adapter at
the fake with the run's timeouts, and the credentials of a seeded account.
The harness finds each post in the journal by the marker in its caption.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ChaosPlatform:
    name: str  # platforms.models.Platform value
    fake_module: str  # `python -m <fake_module>` serves the fake (serve_main)
    # (fake url, connect timeout, read timeout) -> environment of the workers
    adapter_env: Callable[[str, float, float], dict[str, str]]
    # account number -> (account_id, auth_data) of a seeded account
    account: Callable[[int], tuple[str, dict]]


def _telegram_env(url: str, connect: float, read: float) -> dict[str, str]:
    return {
        # settings.PLATFORM_ADAPTERS: telegram -> TelegramAdapter
        "PLATFORM_DRY_RUN": "false",
        "TELEGRAM_API_BASE": url,
        "TELEGRAM_CONNECT_TIMEOUT": str(connect),
        "TELEGRAM_READ_TIMEOUT": str(read),
    }


def _telegram_account(n: int) -> tuple[str, dict]:
    chat = f"-100{n:06d}"
    return chat, {"bot_token": f"{n}:chaos-bot-token", "chat_id": chat}


def _x_env(url: str, connect: float, read: float) -> dict[str, str]:
    return {
        "PLATFORM_DRY_RUN": "false",
        "X_API_BASE": url,
        "PLATFORM_CONNECT_TIMEOUT": str(connect),
        "PLATFORM_READ_TIMEOUT": str(read),
        # text posts upload nothing: a short media wait keeps the adapter's
        # call_timeout (4 requests + this) inside the run's small task budget
        "X_PROCESSING_WAIT": "2",
    }


def _x_account(n: int) -> tuple[str, dict]:
    from tests.fakes.x import TOKEN, USER_ID

    # one user on the fake (its timeline is what reconciliation lists); the
    # markers keep every post's text unique, as X requires
    return USER_ID, {"access_token": TOKEN, "refresh_token": f"chaos-{n}"}


PLATFORMS: dict[str, ChaosPlatform] = {
    "telegram": ChaosPlatform(
        name="telegram",
        fake_module="tests.fakes.telegram",
        adapter_env=_telegram_env,
        account=_telegram_account,
    ),
    "twitter": ChaosPlatform(
        name="twitter",
        fake_module="tests.fakes.x",
        adapter_env=_x_env,
        account=_x_account,
    ),
}
