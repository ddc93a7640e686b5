"""What the platform queues (publishing, engagement) share.

- The gate: a row is taken only when its account can take work now (not
  rate-limited inside its window, credentials not failed), in the claim query
  for waiting and expired rows alike.
- The account's answers: a rate limit or refused credentials change the
  account (in the database and in the batch's copy, so the next rows of the
  same account in the batch wait too).
- The batch's adapters: one per account; reading the credentials (decrypting
  `auth_data`) happens here, before any attempt begins, so a key problem
  keeps the work waiting instead of putting it in doubt.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db.models import Q
from django.utils import timezone

from platforms.adapters import (
    CredentialsRejected,
    PlatformAdapter,
    RateLimited,
    get_adapter,
)
from platforms.models import PlatformAccount

logger = logging.getLogger(__name__)
CS = PlatformAccount.ConnectionStatus

# Credential failures: the account's work waits (no retries burned) until
# staff reconnect it and resume (platforms.services.platform_accounts_resume).
WAITING_STATUSES = (CS.ERROR, CS.SUSPENDED)
WAITING_MESSAGE = (
    "Waiting: the account's credentials failed ({status}). Reconnect the account, "
    "then use 'Resume publishing' on it."
)
# How long work waits when the credentials cannot even be read (a key problem).
UNREADABLE_CREDENTIALS_WAIT = dt.timedelta(minutes=5)


def account_ready_q(now: dt.datetime, *, prefix: str = "platform_account__") -> Q:
    """Rows whose account can take work now: not rate-limited, not waiting."""
    return ~Q(**{f"{prefix}connection_status__in": WAITING_STATUSES}) & ~Q(
        **{
            f"{prefix}connection_status": CS.RATE_LIMITED,
            f"{prefix}rate_limit_reset_at__gt": now,
        }
    )


def why_account_waits(account: PlatformAccount, now: dt.datetime) -> str | None:
    """Why the account cannot take work now (the batch's copy), or None."""
    if account.connection_status in WAITING_STATUSES:
        return WAITING_MESSAGE.format(status=account.connection_status)
    reset = account.rate_limit_reset_at
    if account.connection_status == CS.RATE_LIMITED and reset and reset > now:
        return f"Rate limited by {account.platform} until {reset:%H:%M:%S} UTC."
    return None


def account_rate_limited(account: PlatformAccount, exc: RateLimited) -> str:
    now = timezone.now()
    reset = now + dt.timedelta(seconds=exc.retry_after)
    changes = {
        "connection_status": CS.RATE_LIMITED,
        "rate_limit_reset_at": reset,
        "last_rate_limit_hit_at": now,
        "rate_limit_remaining": 0,
    }
    PlatformAccount.objects.filter(pk=account.pk).update(**changes)
    for name, value in changes.items():
        setattr(account, name, value)
    return f"Rate limited by {account.platform} until {reset:%H:%M:%S} UTC."


def account_credentials_failed(
    account: PlatformAccount, exc: CredentialsRejected
) -> str:
    PlatformAccount.objects.filter(pk=account.pk).update(
        connection_status=CS.ERROR, is_connected=False
    )
    account.connection_status, account.is_connected = CS.ERROR, False
    logger.warning(
        "credentials of platform account %s were refused: %s", account.pk, exc.message
    )
    return WAITING_MESSAGE.format(status=CS.ERROR) + f" ({exc.message})"


def clear_expired_rate_limits(*, now: dt.datetime | None = None) -> int:
    """Accounts whose rate-limit window has passed are connected again."""
    now = now or timezone.now()
    return PlatformAccount.objects.filter(
        connection_status=CS.RATE_LIMITED, rate_limit_reset_at__lte=now
    ).update(connection_status=CS.CONNECTED, rate_limit_remaining=None)


class CredentialsUnreadable(Exception):
    """The account's stored credentials cannot be decrypted (a key problem)."""


class BatchAccounts:
    """One account object and one adapter per account for a batch."""

    def __init__(self) -> None:
        self.accounts: dict = {}
        self.adapters: dict = {}
        self.timeouts: dict = {}

    def call_timeout(self, account: PlatformAccount) -> float:
        """The account's adapter's call timeout (no credentials read)."""
        if account.pk not in self.timeouts:
            self.timeouts[account.pk] = float(get_adapter(account).call_timeout)
        return self.timeouts[account.pk]

    def account(self, account: PlatformAccount) -> PlatformAccount:
        return self.accounts.setdefault(account.pk, account)

    def adapter(self, account: PlatformAccount) -> PlatformAdapter:
        """The account's adapter, its credentials read (CredentialsUnreadable)."""
        adapter = self.adapters.get(account.pk)
        if adapter is None:
            try:
                # auth_data is deferred by the batch query: reading it here
                # decrypts it, so a wrong key fails this account only
                account.auth_data  # noqa: B018
            except Exception as exc:  # noqa: BLE001 - any decryption failure
                raise CredentialsUnreadable(
                    "The account's credentials cannot be decrypted "
                    f"({type(exc).__name__}): check CRYPTOGRAPHY_KEY and SECRET_KEY."
                ) from None
            adapter = self.adapters[account.pk] = get_adapter(account)
        return adapter
