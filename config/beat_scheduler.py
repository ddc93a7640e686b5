"""The beat scheduler: django-celery-beat's DatabaseScheduler that outlives a
database outage (settings.CELERY_BEAT_SCHEDULER).

The stock scheduler catches database errors in its change check and its sync,
but not where it reads the schedule: at start-up and at every reload (after a
change, and at least every 5 minutes). A reload that falls into an outage, or
a beat started while PostgreSQL is still down, ends the process, and honcho
(make run) restarts nothing. This one waits for the database at start-up and,
during an outage, keeps sending what the schedule it has says, retrying the
database at every tick; the first tick after the outage reloads the schedule.

Chosen over a supervisor that restarts beat: it behaves the same under honcho,
docker compose, systemd or Kubernetes, a restarted beat would need the
database at start-up anyway, and beat's due tasks keep going out meanwhile.
The compose file's restart policy stays, for every other way a process dies.
"""

from __future__ import annotations

import datetime as dt
import logging
import time

from django.db import DatabaseError, InterfaceError, connection
from django_celery_beat.schedulers import DatabaseScheduler

logger = logging.getLogger(__name__)
DATABASE_ERRORS = (DatabaseError, InterfaceError)


def _drop_connection() -> None:
    """Forget the broken connection: the next query opens a new one."""
    try:
        connection.close()
    except DATABASE_ERRORS:
        logger.debug("closing the broken database connection failed", exc_info=True)


class ResilientDatabaseScheduler(DatabaseScheduler):
    """DatabaseScheduler that waits out database outages instead of exiting."""

    startup_retry_max_seconds = 10.0

    def setup_schedule(self):
        delay = 1.0
        while True:
            try:
                return super().setup_schedule()
            except DATABASE_ERRORS as exc:
                # the failed first read already cleared the flag: read again
                self._initial_read = True
                logger.warning(
                    "beat: the database is unreachable (%s); retrying in %.0f s",
                    type(exc).__name__,
                    delay,
                )
                _drop_connection()
                time.sleep(delay)
                delay = min(delay * 2, self.startup_retry_max_seconds)

    def tick(self, *args, **kwargs):
        try:
            return super().tick(*args, **kwargs)
        except DATABASE_ERRORS as exc:
            logger.warning(
                "beat: the database is unreachable (%s); keeping the current "
                "schedule and retrying in %.0f s",
                type(exc).__name__,
                self.max_interval,
            )
            _drop_connection()
            # reload the schedule at the next tick that reaches the database
            self._last_full_sync = dt.datetime.min
            return self.max_interval
