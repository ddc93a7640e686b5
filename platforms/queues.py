"""What the platform queues (publishing, engagement) share.

- `AccountWork`: one row's sequence (reconcile, check, journal, call,
  record) with the platform's answers mapped the same way for both queues.

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

import abc
import copy
import datetime as dt
import functools
import logging
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from config.workqueue import INTERRUPTS, Claimed, Drain, Worker, WorkQueue
from logs.events import emit
from platforms.adapters import (
    AdapterError,
    CredentialsRejected,
    OutcomeUnknown,
    PlatformAdapter,
    RateLimited,
    get_adapter,
)
from platforms.models import PlatformAccount, PublishingHold
from platforms.modes import assisted_platforms

logger = logging.getLogger(__name__)
CS = PlatformAccount.ConnectionStatus
AUTH_DATA = PlatformAccount._meta.get_field("auth_data")

# Credential failures: the account's work waits (no retries burned) until
# staff reconnect it and resume (platforms.services.platform_accounts_resume).
WAITING_STATUSES = (CS.ERROR, CS.SUSPENDED)
WAITING_MESSAGE = (
    "Waiting: the account's credentials failed ({status}). Reconnect the account, "
    "then use 'Resume publishing' on it."
)
# How long work waits when the credentials cannot even be read (a key problem).
UNREADABLE_CREDENTIALS_WAIT = dt.timedelta(minutes=5)
# How long an attempt in doubt waits when looking it up failed (5xx, a bug).
LOOK_UP_AGAIN = dt.timedelta(minutes=1)
# how the error message of a post or action nobody can settle begins: a person
# decides (platforms.services.scheduled_post_mark_published, or a retry)
OUTCOME_UNKNOWN = "Outcome unknown"


def account_ready_q(now: dt.datetime, *, prefix: str = "platform_account__") -> Q:
    """Rows whose account can take work now: not rate-limited, not waiting, and
    on a platform with an adapter (the others are worked by hand: assisted)."""
    return (
        ~Q(**{f"{prefix}connection_status__in": WAITING_STATUSES})
        & ~Q(
            **{
                f"{prefix}connection_status": CS.RATE_LIMITED,
                f"{prefix}rate_limit_reset_at__gt": now,
            }
        )
        & ~Q(**{f"{prefix}platform__in": assisted_platforms()})
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


def credentials_failed(
    account_id: uuid.UUID, *, character_id: uuid.UUID, platform: str, reason: str
) -> bool:
    """The account's credentials were refused: it waits for a person. The
    'account_needs_attention' event goes out once, when the status changes."""
    with transaction.atomic():
        changed = (
            PlatformAccount.objects.filter(pk=account_id)
            .exclude(connection_status=CS.ERROR, is_connected=False)
            .update(connection_status=CS.ERROR, is_connected=False)
        )
        if changed:
            emit(
                "account_needs_attention",
                {
                    "platform_account_id": str(account_id),
                    "platform": platform,
                    "reason": reason[:2000],
                },
                character_id=character_id,
            )
    return bool(changed)


def account_credentials_failed(
    account: PlatformAccount, exc: CredentialsRejected
) -> str:
    credentials_failed(
        account.pk,
        character_id=account.character_id,
        platform=account.platform,
        reason=exc.message,
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


def opened(sealed: bytes | None) -> Any:
    """Stored credentials, decrypted (about 0.7 ms each: a batch meets each
    account once, a worker meets it again in every batch). Decrypted once per
    process for the same stored bytes: new credentials are new bytes; each
    caller gets its own copy."""
    return copy.deepcopy(_decrypted(None if sealed is None else bytes(sealed)))


@functools.lru_cache(maxsize=1024)
def _decrypted(sealed: bytes | None) -> Any:
    # a failure is not cached: it is raised again on the next try
    return AUTH_DATA.from_db_value(sealed, None, connection)  # type: ignore[arg-type]


class BatchAccounts:
    """One account object and one adapter per account for a batch.

    `rows` (the batch's rows, their accounts loaded without `auth_data`):
    the credentials of all their accounts are read in one query, still
    encrypted, and each is decrypted when its account's adapter is made, so
    a key problem stays with that account (without `rows`, each account
    reads its own when its adapter is made)."""

    def __init__(self, rows: Iterable[Any] = ()) -> None:
        self.accounts: dict = {}
        self.adapters: dict = {}
        self.timeouts: dict = {}
        self.sealed: dict = self._read_sealed({r.platform_account_id for r in rows})

    @staticmethod
    def _read_sealed(ids: set) -> dict:
        """{account id: its auth_data as stored (encrypted bytes or None)}."""
        if not ids:
            return {}
        table = PlatformAccount._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f'SELECT id, "{AUTH_DATA.column}" FROM "{table}" WHERE id = ANY(%s)',
                [list(ids)],
            )
            return dict(cursor.fetchall())

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
                # auth_data is deferred by the batch query: decrypting it here
                # fails this account only when the key is wrong
                if account.pk in self.sealed:
                    account.auth_data = opened(self.sealed[account.pk])
                else:
                    account.auth_data  # noqa: B018 - read (and decrypted) now
            except Exception as exc:  # noqa: BLE001 - any decryption failure
                raise CredentialsUnreadable(
                    "The account's credentials cannot be decrypted "
                    f"({type(exc).__name__}): check CRYPTOGRAPHY_KEY and SECRET_KEY."
                ) from None
            adapter = self.adapters[account.pk] = get_adapter(account)
        return adapter


class Refused(Exception):
    """This row must not be worked at all (fail fast, no retry)."""


class AccountWork(abc.ABC):
    """One row of a platform queue: reconcile, check, journal, call, record.

    The order is the promise: an attempt in doubt is reconciled before
    anything else is decided; the journal is committed before the call; the
    result is recorded right after it. Subclasses say how to prepare the call
    (raising Refused), make it, look an earlier attempt up, and record success
    and retries.
    """

    queue: WorkQueue
    noun = "item"
    # what a person can do about an item whose outcome is unknown
    settle_hint = "Check the account, then retry or cancel."

    def __init__(self, accounts: BatchAccounts, row: Any, item: Claimed) -> None:
        self.accounts, self.row, self.item = accounts, row, item
        self.account = row.platform_account
        self.adapter: PlatformAdapter | None = None
        self.prepared: Any = None
        # the call was made (its result, if any, is recorded after the call)
        self.sent = False

    # --- what a queue says ----------------------------------------------------

    def prepare(self) -> Any:
        """What the call needs; raise Refused when the row must not go out."""
        return None

    @abc.abstractmethod
    def call(self, adapter: PlatformAdapter, prepared: Any) -> Any:
        """The platform call; returns what `record` takes."""

    @abc.abstractmethod
    def look_up(
        self, adapter: PlatformAdapter, since: dt.datetime, prepared: Any
    ) -> Any:
        """Did the attempt begun at `since` happen: a result, False or None."""

    @abc.abstractmethod
    def record(self, result: Any) -> str:
        """Record the success (durably); returns the outcome."""

    @abc.abstractmethod
    def retry(self, message: str) -> str:
        """Back off and try again later, or give up."""

    # --- the sequence ---------------------------------------------------------

    def run(self) -> str:
        outcome = self.before_call()
        if outcome is not None:
            return outcome
        if not self.queue.begin(self.item):
            return "skipped"
        return self.call_and_settle()

    def ready(self) -> bool:
        """Whether the call could begin now, found without writing anything:
        the account can take it, its credentials open, the row is not in
        doubt and `prepare` accepts it. The adapter and the prepared call are
        kept for `call_and_settle`; when False, `run` decides what to write."""
        if self.item.in_doubt_since is not None or why_account_waits(
            self.account, timezone.now()
        ):
            return False
        try:
            self.adapter = self.accounts.adapter(self.account)
            self.prepared = self.prepare()
        except Exception:  # noqa: BLE001 - `run` meets it again and settles it
            return False
        return True

    def before_call(self) -> str | None:
        """Everything before the journal: None when the call may begin (the
        adapter and the prepared call kept), else the row's outcome."""
        waits = why_account_waits(self.account, timezone.now())
        if waits:
            # the batch met a rate limit or a credential failure on this
            # account after the claim: wait; an attempt in doubt stays so
            return self.wait(waits, settled=False)
        try:
            adapter = self.accounts.adapter(self.account)
        except CredentialsUnreadable as exc:
            logger.error("%s %s waits: %s", self.noun, self.row.pk, exc)
            return self.wait(
                f"Waiting: {exc}",
                settled=False,
                not_before=timezone.now() + UNREADABLE_CREDENTIALS_WAIT,
            )
        if self.item.in_doubt_since is not None:
            outcome = self.reconcile(
                adapter, self.item.in_doubt_since, self.item.attempts
            )
            if outcome is not None:
                return outcome
        try:
            self.prepared = self.prepare()
        except Refused as exc:
            return self.fail(str(exc))
        self.adapter = adapter
        return None

    def call_and_settle(self) -> str:
        """The call, its journal entry committed already, and its outcome."""
        adapter, prepared = self.adapter, self.prepared
        assert adapter is not None, "before_call or ready comes first"
        started, attempt = timezone.now(), self.row.attempt_count + 1
        self.sent = True
        try:
            result = self.call(adapter, prepared)
        except RateLimited as exc:
            return self.wait(account_rate_limited(self.account, exc))
        except CredentialsRejected as exc:
            return self.wait(account_credentials_failed(self.account, exc))
        except OutcomeUnknown as exc:
            return self.reconcile(
                adapter, started, attempt, exc.message, prepared
            ) or self.retry(exc.message)
        except AdapterError as exc:
            return self.retry(exc.message) if exc.retryable else self.fail(exc.message)
        except INTERRUPTS:
            raise  # the drain gives the row back, still in doubt
        except Exception as exc:  # noqa: BLE001 - raised mid-call: it may have happened
            logger.exception("%s %s raised", self.noun, self.row.pk)
            cause = f"{type(exc).__name__}: {exc}"
            return self.reconcile(adapter, started, attempt, cause, prepared) or (
                self.retry(cause)
            )
        return self.record(result)

    def reconcile(
        self,
        adapter: PlatformAdapter,
        started: dt.datetime,
        attempt: int,
        cause: str | None = None,
        prepared: Any = None,
    ) -> str | None:
        """Did the attempt begun at `started` happen? Records it if it did;
        None when it did not (the caller goes on); "outcome unknown" when the
        platform cannot tell."""
        try:
            found = self.look_up(adapter, started, prepared)
        except RateLimited as exc:
            return self.wait(account_rate_limited(self.account, exc), settled=False)
        except CredentialsRejected as exc:
            return self.wait(
                account_credentials_failed(self.account, exc), settled=False
            )
        except AdapterError as exc:
            return self.wait(
                f"In doubt: looking the {self.noun} up failed ({exc.message}); "
                "tried again later.",
                settled=False,
                not_before=timezone.now() + LOOK_UP_AGAIN,
            )
        if found is False:
            return None
        if found is None:
            why = (
                f"{cause}. Attempt {attempt} began at {started:%Y-%m-%d %H:%M:%S} UTC"
                if cause
                else f"attempt {attempt} began at {started:%Y-%m-%d %H:%M:%S} UTC "
                "and its worker stopped before recording the answer"
            )
            return self.fail(
                f"{OUTCOME_UNKNOWN}: {why}; the platform cannot tell whether the "
                f"{self.noun} went out. {self.settle_hint}"
            )
        return self.record(found)

    def wait(
        self,
        message: str,
        *,
        settled: bool = True,
        not_before: dt.datetime | None = None,
    ) -> str:
        """Back in the queue as it was: no retry used."""
        self.queue.put_back(
            self.item,
            settled=settled,
            not_before=not_before,
            error_message=message[:2000],
        )
        return "waiting"

    def fail(self, message: str) -> str:
        self.queue.finish(self.item, status="failed", error_message=message[:2000])
        logger.warning("%s %s failed: %s", self.noun, self.row.pk, message)
        return "failed"


def publish_backoff() -> tuple[int, int]:
    """The retry backoff of both platform queues (base, most seconds)."""
    return settings.PUBLISH_RETRY_BASE_SECONDS, settings.PUBLISH_RETRY_MAX_SECONDS


def drain_account_queue(
    queue: WorkQueue,
    prepare: Callable[[list[Claimed], Callable[[], float]], Worker],
    retry: Callable[[Any, Claimed, str], str],
    *,
    batch: int,
    time_budget: float | None,
    now: dt.datetime | None,
    stop: threading.Event | None = None,
) -> Counter[str]:
    """One drain of a platform queue, none while publishing is on hold:
    `prepare(items, left)` builds the batch's worker (`left()`: the seconds
    left of the drain's budget), `retry` decides a failed row's next try."""
    if PublishingHold.active():
        return Counter(held=1)
    drain = Drain(
        queue,
        # the task's budget by default: HTTP adapters' calls need room
        budget=time_budget or settings.QUEUE_TASK_BUDGET,
        batch=batch,
        prepare=lambda items: prepare(items, drain.left),
        on_error=on_error(queue, retry),
        now=now,
        stop=stop,
    )
    return drain.run()


def on_error(
    queue: WorkQueue, retry: Callable[[Any, Claimed, str], str]
) -> Callable[[Claimed, BaseException], str]:
    """The drain's handler for an unexpected exception outside the call: the
    row keeps its doubt if its attempt began, or retries with the real cause."""

    def handle(item: Claimed, exc: BaseException) -> str:
        row = queue.objects.filter(pk=item.id).first()
        if row is None:
            return "skipped"
        cause = f"{type(exc).__name__}: {exc}"
        if row.attempt_started_at is not None:
            queue.put_back(
                item,
                settled=False,
                not_before=timezone.now() + LOOK_UP_AGAIN,
                error_message=f"Interrupted: {cause}"[:2000],
            )
            return "waiting"
        return retry(row, item, cause)

    return handle
