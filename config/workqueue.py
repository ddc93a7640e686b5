"""One queue machine for every work queue: publishing, engagement, generation.

A queue is a table whose rows wait (a "waiting" status), are taken by a worker
(a "processing" status under a lease) and end. Three columns carry it:

- `locked_until`: on a processing row, the lease of the worker that took it
  (also the fencing token: every write of that worker matches it); on a
  waiting row, "not before" (a retry's backoff, a wait for the account).
- `attempt_started_at` and `attempt_count`: the attempt journal. Before an
  irreversible call (a post sent, a comment made, a paid image drawn) the
  worker commits `attempt_started_at` (`WorkQueue.begin`); the result is
  committed right after the call and clears it. A row taken while
  `attempt_started_at` is set is *in doubt*: its earlier attempt may have had
  its effect, so the owner reconciles it before anything else. A row that was
  taken but never begun is simply worked again: nothing was sent.

`drain` runs the loop: claim a batch, work each item within the time budget
(an item is not started when the rest of the budget cannot fit one more call),
give back what was not started, and keep one item's failure to that item.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from celery.exceptions import SoftTimeLimitExceeded
from django.db import (
    InterfaceError,
    OperationalError,
    close_old_connections,
    connection,
    transaction,
)
from django.db.models import F, Model, Q, QuerySet
from django.utils import timezone

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Seconds kept free at the end of a budget for recording the last result.
RECORD_MARGIN = 2.0
# Raised into a worker from outside (the task's soft time limit): never an
# item's own failure; the drain gives back what is not done and stops.
INTERRUPTS = (SoftTimeLimitExceeded,)


@dataclass(frozen=True)
class Claimed:
    """A row this worker took: its id, its lease and whether it is in doubt."""

    id: uuid.UUID
    lease: dt.datetime
    # when an earlier attempt began whose result was never recorded
    in_doubt_since: dt.datetime | None = None
    attempts: int = 0

    def doubt(self, lost: str) -> str:
        """Why this item is in doubt, for its row's error message."""
        return (
            f"attempt {self.attempts} began at "
            f"{self.in_doubt_since:%Y-%m-%d %H:%M:%S} UTC and its worker stopped "
            f"before saving {lost}"
        )


class WorkQueue:
    """Claims, leases and the attempt journal of one table.

    `ready(now)` narrows the waiting rows that may be taken (due, for
    instance); `gate(now)` is the "this account can take work now" rule and
    applies to waiting and expired rows alike: an in-doubt row of a
    rate-limited account stays where it is until the account can answer.
    """

    def __init__(
        self,
        model: type[Model],
        *,
        waiting: str,
        processing: str,
        order_by: Sequence[str],
        lease_seconds: Callable[[], float],
        ready: Callable[[dt.datetime], Q] | None = None,
        gate: Callable[[dt.datetime], Q] | None = None,
        backoff: Callable[[], tuple[int, int]] | None = None,
    ) -> None:
        self.model = model
        self.waiting = waiting
        self.processing = processing
        self.order_by = tuple(order_by)
        self.lease_seconds = lease_seconds
        self.ready = ready or (lambda now: Q())
        self.gate = gate or (lambda now: Q())
        # (base, most) seconds of the retry backoff (settings are read late)
        self.backoff = backoff

    @property
    def objects(self) -> QuerySet:
        return self.model._default_manager.all()

    def waiting_q(self, now: dt.datetime) -> Q:
        not_before = Q(locked_until__isnull=True) | Q(locked_until__lte=now)
        return Q(status=self.waiting) & not_before & self.ready(now)

    def waiting_rows(self, now: dt.datetime) -> QuerySet:
        """The claim's first query: waiting rows, in queue order, locked."""
        return (
            self.objects.filter(self.waiting_q(now) & self.gate(now))
            .order_by(*self.order_by)
            .select_for_update(skip_locked=True, of=("self",))
        )

    def expired_rows(self, now: dt.datetime) -> QuerySet:
        """The claim's second query: a worker died (or stalled) holding these."""
        return (
            self.objects.filter(
                Q(status=self.processing, locked_until__lt=now) & self.gate(now)
            )
            .order_by("locked_until")
            .select_for_update(skip_locked=True, of=("self",))
        )

    def claim(self, *, limit: int, now: dt.datetime | None = None) -> list[Claimed]:
        """Take up to `limit` rows: waiting ones first, then expired leases."""
        now = now or timezone.now()
        lease = now + dt.timedelta(seconds=self.lease_seconds())
        columns = ("id", "attempt_started_at", "attempt_count")
        with transaction.atomic():
            rows = list(self.waiting_rows(now).values_list(*columns)[:limit])
            if len(rows) < limit:
                rows += list(
                    self.expired_rows(now).values_list(*columns)[: limit - len(rows)]
                )
            if rows:
                self.objects.filter(pk__in=[r[0] for r in rows]).update(
                    status=self.processing, locked_until=lease
                )
        return [Claimed(pk, lease, started, count) for pk, started, count in rows]

    def mine(self, item: Claimed) -> QuerySet:
        """The row, if this worker still holds it."""
        return self.objects.filter(
            pk=item.id, status=self.processing, locked_until=item.lease
        )

    def begin(
        self, item: Claimed, *, now: dt.datetime | None = None, **changes: Any
    ) -> bool:
        """Journal: commit that an attempt starts now. False: no longer ours.

        One UPDATE in autocommit: committed when it returns (callers never
        hold a transaction open across the call that follows)."""
        return (
            self.mine(item).update(
                attempt_started_at=now or timezone.now(),
                attempt_count=F("attempt_count") + 1,
                **changes,
            )
            == 1
        )

    def finish(self, item: Claimed, **changes: Any) -> bool:
        """Write the outcome of the attempt (the journal entry is closed)."""
        return (
            self.mine(item).update(
                locked_until=None, attempt_started_at=None, **changes
            )
            == 1
        )

    def put_back(
        self,
        item: Claimed,
        *,
        not_before: dt.datetime | None = None,
        settled: bool = True,
        **changes: Any,
    ) -> bool:
        """Return the row to the waiting status. `settled=False` keeps it in
        doubt: the next worker reconciles its attempt before anything else."""
        if settled:
            changes["attempt_started_at"] = None
        return (
            self.mine(item).update(
                status=self.waiting, locked_until=not_before, **changes
            )
            == 1
        )

    def retry_later(
        self,
        item: Claimed,
        *,
        attempt: int,
        message: str,
        at_least: float = 0,
        **changes: Any,
    ) -> int:
        """Put the row back to wait out attempt `attempt`'s backoff (and at
        least `at_least` seconds: a platform's Retry-After), one more retry
        counted and why in error_message. Returns the delay in seconds."""
        if self.backoff is None:
            raise TypeError(f"The {self.model.__name__} queue has no backoff.")
        base, most = self.backoff()
        delay = max(backoff_seconds(attempt, base=base, most=most), int(at_least))
        self.put_back(
            item,
            not_before=timezone.now() + dt.timedelta(seconds=delay),
            retry_count=F("retry_count") + 1,
            error_message=(
                f"Attempt {attempt} failed, retrying in {delay} s: {message}"[:2000]
            ),
            **changes,
        )
        return delay

    def release(self, items: Iterable[Claimed]) -> int:
        """Give back rows not worked on: waiting again at once, doubt kept."""
        items = list(items)
        if not items:
            return 0
        done = 0
        for lease in {i.lease for i in items}:
            done += self.objects.filter(
                pk__in=[i.id for i in items if i.lease == lease],
                status=self.processing,
                locked_until=lease,
            ).update(status=self.waiting, locked_until=None)
        return done


def backoff_seconds(attempt: int, *, base: int, most: int) -> int:
    """Exponential backoff: base, 2*base, 4*base ... capped at `most`."""
    return min(most, base * 2 ** (attempt - 1))


def fail_on_error(
    queue: WorkQueue, failed: Callable[..., str]
) -> Callable[[Claimed, BaseException], str]:
    """The drain's handler for a job queue whose calls leave nothing in doubt
    (generation, text): an unexpected exception (a bug, a full disk) is this
    job's own failure, retried with its cause: `failed(row, item, cause,
    retryable=True)`."""

    def handle(item: Claimed, exc: BaseException) -> str:
        row = queue.objects.filter(pk=item.id).first()
        if row is None:
            return "skipped"
        return failed(row, item, f"{type(exc).__name__}: {exc}", retryable=True)

    return handle


def durably(write: Callable[[], T], *, patience: float = 60.0) -> T:
    """Run a database write, waiting out a short database outage.

    Used for the record of an attempt whose effect already happened (a post
    that went out): giving up would leave it in doubt. The writes it wraps are
    conditional, so running one twice is harmless.
    """
    deadline = time.monotonic() + patience
    delay = 0.5
    while True:
        try:
            return write()
        except (OperationalError, InterfaceError):
            if connection.in_atomic_block or time.monotonic() + delay > deadline:
                raise
            logger.warning("database unreachable; retrying a record in %.1f s", delay)
            time.sleep(delay)
            delay = min(delay * 2, 8.0)
            close_old_connections()
            try:
                connection.close()
            except Exception:  # noqa: BLE001 - the next attempt reconnects
                logger.debug("closing a broken connection failed", exc_info=True)


class Worker(Protocol):
    """Works the items of one claimed batch (made by `Drain.prepare`)."""

    def __call__(self, item: Claimed) -> str:
        """Work one item; returns its outcome (published, retry, failed ...)."""

    def call_timeout(self, item: Claimed) -> float:
        """The longest the item's work may take (its adapter's timeouts)."""


def begun_already(worker: Worker, item: Claimed) -> bool:
    """Whether the worker committed the item's attempt already (a journal
    entry that rode on the previous item's record: `begun(item)`, optional):
    its call must go out, never be given back in doubt for the budget."""
    begun = getattr(worker, "begun", None)
    return bool(begun and begun(item))


class Drain:
    """Work a queue until it is empty or the time budget is spent.

    `prepare(items)` is given the claimed items of one batch (to load their
    rows together) and returns the batch's Worker. Between items the loop
    checks the budget: an item starts only if its call timeout (plus a small
    margin) still fits, and items not started are given back at once. An
    exception from one item is the item's own: it goes to `on_error(item,
    exc)`, which settles that row and names the outcome; the batch goes on.
    """

    def __init__(
        self,
        queue: WorkQueue,
        *,
        budget: float,
        batch: int,
        prepare: Callable[[list[Claimed]], Worker],
        on_error: Callable[[Claimed, BaseException], str],
        now: dt.datetime | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.queue = queue
        self.deadline = time.monotonic() + budget
        # set from outside (the other lanes of `in_lanes`): no more items
        self.stop = stop
        self.batch = batch
        self.prepare = prepare
        self.on_error = on_error
        self.now = now
        self.outcomes: Counter = Counter()

    def left(self) -> float:
        """Seconds left of the budget (none once `stop` is set)."""
        if self.stop is not None and self.stop.is_set():
            return 0.0
        return self.deadline - time.monotonic()

    def run(self) -> Counter:
        while self.left() > RECORD_MARGIN:
            items = self.queue.claim(limit=self.batch, now=self.now)
            if not items:
                break
            if not self._work(items):
                break
        return self.outcomes

    def _work(self, items: list[Claimed]) -> bool:
        """Work one batch; False when the budget ran out inside it."""
        try:
            worker = self.prepare(items)
        except BaseException:
            self.queue.release(items)
            raise
        for n, item in enumerate(items):
            if (
                not begun_already(worker, item)
                and self.left() < worker.call_timeout(item) + RECORD_MARGIN
            ):
                self.outcomes["released"] += self.queue.release(items[n:])
                return False
            try:
                outcome = worker(item)
            except (OperationalError, InterfaceError):
                # the database is gone: nothing can be recorded now; the
                # leases run out and the journal says what was in flight
                raise
            except INTERRUPTS:
                self.queue.release(items[n:])
                raise
            except Exception as exc:  # noqa: BLE001 - one item's failure is its own
                logger.exception(
                    "work on %s %s failed", self.queue.model.__name__, item.id
                )
                outcome = self.on_error(item, exc)
            except BaseException:
                # the task's soft time limit (or a shutdown): give back what is
                # not done; a row whose attempt began keeps its doubt
                self.queue.release(items[n:])
                raise
            self.outcomes[outcome] += 1
        return True


def in_lanes(lanes: int, drain: Callable[[threading.Event], Counter]) -> Counter:
    """Run `lanes` drains of one queue side by side, each in a thread of its
    own with its own database connection, as that many workers would: each
    claims its own batches (a claim skips rows another holds), each item keeps
    its own journal entry, call and record. Calls that wait on the network
    and commits that wait on the disk overlap (PostgreSQL flushes concurrent
    commits together). `drain(stop)` is one lane's drain.

    One lane's error (the database gone) stops the others after their current
    item and is raised here; an exception raised into this thread (the task's
    soft time limit) does the same. The outcomes are added up."""
    stop = threading.Event()
    outcomes: list[Counter] = []
    errors: list[BaseException] = []

    def lane() -> None:
        try:
            outcomes.append(drain(stop))
        except BaseException as exc:  # noqa: BLE001 - raised in the caller's thread
            errors.append(exc)
            stop.set()
        finally:
            connection.close()  # this thread's own connection

    threads = [
        threading.Thread(target=lane, name=f"lane-{n}", daemon=True)
        for n in range(lanes)
    ]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join()
    except BaseException:
        # the lanes finish the item in hand (its record), then stop
        stop.set()
        for thread in threads:
            thread.join()
        raise
    if errors:
        raise errors[0]
    total: Counter = Counter()
    for counted in outcomes:
        total.update(counted)
    return total
