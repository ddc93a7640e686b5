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


PLATFORMS: dict[str, ChaosPlatform] = {
    "telegram": ChaosPlatform(
        name="telegram",
        fake_module="tests.fakes.telegram",
        adapter_env=_telegram_env,
        account=_telegram_account,
    ),
}
