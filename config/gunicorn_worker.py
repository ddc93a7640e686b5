"""gunicorn's gthread worker, with new connections spread evenly over the
worker processes (config/gunicorn.conf.py selects it when a worker has threads).

All workers accept on the one listening socket the master opened. gthread's
main loop accepts whatever arrives as soon as it wakes, and a client that
keeps its connection alive stays on the worker that accepted it: measured with
8 clients opening their connections at once on 2 workers, one worker took 7 or
all 8 of them in most runs, so one process (one GIL, one core) served nearly
everything while the other idled (BENCHMARKS.md, "Load").

Here each worker publishes how many connections it holds in a small table of
shared memory that the master creates before it forks. A worker about to
accept while a live sibling holds fewer leaves the connection to that sibling:
it takes its socket off its poller for a millisecond and looks again. It
accepts anyway after ACCEPT_GRACE seconds of leaving, so a sibling that is
stuck, overloaded or gone never keeps a client waiting longer than that; a
sibling that has not beaten for STALE_AFTER seconds does not count.

Accepting evenly is not enough once the connections are open: when a worker
is replaced (max_requests, the memory bound), its clients reconnect at once,
while its successor is still starting, and the sibling that is up takes them
all; kept alive, they never leave. Measured with 32 clients on 2 workers,
both replaced in the same second: from then on one worker held all 32 and the
cached character detail served 670 requests/s with a p95 of 73 ms, against
1,580 and 29 ms without the replacement. So a worker that holds more than
SHED_MARGIN connections over its least-loaded live sibling answers its next
request with `Connection: close` (at most one every SHED_EVERY seconds): the
client reconnects, and the accept above gives it to the sibling.

It relies on gthread's event loop as gunicorn 27 has it (`set_accept_enabled`,
`wait_for_and_dispatch_events`, `accept`, the poller); pyproject.toml pins
gunicorn to 27.x and tests/ops/test_production_profile.py runs it for real.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import selectors
import time

from gunicorn.workers.gthread import ThreadWorker

SLOTS = 64  # worker processes that can take part (more accept as gthread does)
PAUSE = 0.001  # seconds a worker stays off the socket before it looks again
ACCEPT_GRACE = 0.025  # then it accepts whatever the siblings hold
STALE_AFTER = 3.0  # gthread's loop beats at least every second
SHED_MARGIN = 1  # connections over the least-loaded sibling's that are kept
SHED_EVERY = 0.005  # seconds between two connections a worker closes

# Per slot: the worker's pid, its open connections, its last beat (monotonic
# seconds, which every process on the host reads from the same clock). Created
# when gunicorn imports the worker class, in the master, before any fork: the
# workers inherit the same shared pages.
_FIELDS = 3
_table = multiprocessing.RawArray(ctypes.c_double, SLOTS * _FIELDS)
_claim = multiprocessing.Lock()


def _claim_slot(pid: int, now: float) -> int | None:
    """A slot of this table for `pid`: a never used one, or one whose worker
    stopped beating (it exited or was killed). None when all are taken."""
    with _claim:
        for slot in range(SLOTS):
            base = slot * _FIELDS
            if not _table[base] or now - _table[base + 2] > STALE_AFTER:
                _table[base] = pid
                _table[base + 1] = 0
                _table[base + 2] = now
                return slot
    return None


def fewest_elsewhere(slot: int, now: float) -> float | None:
    """The fewest connections a live sibling of `slot` holds (None: no
    live sibling)."""
    fewest = None
    for other in range(SLOTS):
        base = other * _FIELDS
        if other == slot or not _table[base]:
            continue
        if now - _table[base + 2] > STALE_AFTER:
            continue
        held = _table[base + 1]
        if fewest is None or held < fewest:
            fewest = held
    return fewest


class BalancedThreadWorker(ThreadWorker):
    """gthread, leaving a new connection to a sibling that holds fewer."""

    def init_process(self) -> None:
        self._slot = _claim_slot(os.getpid(), time.monotonic())
        self._paused_until = 0.0  # listeners are off the poller until then
        self._leaving_since = 0.0  # when this worker began leaving connections
        self._last_left = 0.0  # and when it last left one
        self._last_shed = 0.0  # when it last closed a connection to rebalance
        try:
            super().init_process()  # runs the worker's loop until it stops
        finally:
            if self._slot is not None:  # free for the next worker at once
                _table[self._slot * _FIELDS] = 0

    def _beat(self, now: float) -> None:
        if self._slot is not None:
            base = self._slot * _FIELDS
            _table[base + 1] = self.nr_conns
            _table[base + 2] = now

    def accept(self, listener) -> None:
        now = time.monotonic()
        self._beat(now)
        if self._slot is not None:
            fewest = fewest_elsewhere(self._slot, now)
            if fewest is not None and fewest < self.nr_conns:
                if now - self._last_left > 5 * PAUSE:  # a new connection
                    self._leaving_since = now
                self._last_left = now
                if now - self._leaving_since < ACCEPT_GRACE:
                    self._pause(now)
                    return
        super().accept(listener)
        self._beat(now)

    def handle_request(self, req, conn):
        # in a thread of the pool; the counters it reads are the loop's
        now = time.monotonic()
        if self._should_shed(now):
            self._last_shed = now
            req.must_close = True  # answered with Connection: close
        return super().handle_request(req, conn)

    def _should_shed(self, now: float) -> bool:
        """Whether to close this request's connection after the answer, so
        that the client reconnects to a sibling that holds fewer."""
        if self._slot is None or now - self._last_shed < SHED_EVERY:
            return False
        fewest = fewest_elsewhere(self._slot, now)
        return fewest is not None and self.nr_conns > fewest + SHED_MARGIN

    def _pause(self, now: float) -> None:
        for listener in self.sockets:
            self.poller.unregister(listener)
        self._paused_until = now + PAUSE

    def _resume(self) -> None:
        self._paused_until = 0.0
        if self._accepting:
            for listener in self.sockets:
                self.poller.register(listener, selectors.EVENT_READ, self.accept)

    def set_accept_enabled(self, enabled: bool) -> None:
        if self._paused_until:  # put the listeners back first: gthread's state
            self._resume()
        super().set_accept_enabled(enabled)

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        if self._paused_until:
            timeout = max(0.0, min(timeout, self._paused_until - time.monotonic()))
        super().wait_for_and_dispatch_events(timeout)
        now = time.monotonic()
        if self._paused_until and now >= self._paused_until:
            self._resume()
        self._beat(now)
