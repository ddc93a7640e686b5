"""Bring a copy of the cluster back to a point in time (pgBackRest PITR).

    manage.py restore_to_time "2026-11-29 22:59:00+01:00"
    manage.py restore_to_time "2026-11-29T21:59Z" --data-dir /srv/pitr/copy --port 5499
    manage.py restore_to_time "2026-11-29 22:59+01:00" --in-place   # rewinds the cluster

By default the copy goes to a new folder (PITR_RESTORE_ROOT) and runs on a free
port of 127.0.0.1; the running cluster is not touched. `--in-place` stops the
running cluster and rewinds it: everything written after the time is lost.
"""

import datetime as dt
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connections
from django.db.utils import load_backend
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from config.ops.pitr import PitrError, Repository, restore_to_time


def parse_target(value: str) -> dt.datetime:
    parsed = parse_datetime(value.strip())
    if parsed is None:
        raise CommandError(
            f"Cannot read the time {value!r}: use ISO 8601, e.g. "
            "'2026-11-29 22:59:00+01:00' (a time without offset is taken in "
            "TIME_ZONE)."
        )
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


def hold_publishing(port: int, target: dt.datetime) -> str:
    """Put the restored database on publishing hold (platforms.services): posts
    published after `target` are due again in it, and none may go out before a
    person has reviewed them. Returns a line for the operator."""
    from platforms.models import PublishingHold
    from platforms.services import publishing_hold_place

    # A connection to the restored cluster: the default database's settings on
    # the copy's port, without the pool; registered for this call only.
    alias = "pitr_restored"
    params = {
        **connections["default"].settings_dict,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "CONN_MAX_AGE": 0,
    }
    params["OPTIONS"] = {k: v for k, v in params["OPTIONS"].items() if k != "pool"}
    connections[alias] = load_backend(params["ENGINE"]).DatabaseWrapper(params, alias)
    try:
        publishing_hold_place(
            kind=PublishingHold.Kind.RESTORE,
            reason=(
                f"The database was restored to {target.isoformat()} (point-in-time "
                "recovery). Posts published after that time are due again here: "
                "review them, then lift the hold."
            ),
            backup_taken_at=target,
            using=alias,
        )
    except DatabaseError as err:
        return (
            f"WARNING: no publishing hold could be placed in the restored database "
            f"({err.__class__.__name__}): stop the workers before using it, or "
            "posts published after the time may go out again."
        )
    finally:
        connections[alias].close()
        del connections[alias]
    return "Publishing is on hold in the restored database until staff lift it."


class Command(BaseCommand):
    help = (
        "Restore the cluster as it was at TIME into a new data folder on its own "
        "port (default), or over the running cluster with --in-place."
    )

    def add_arguments(self, parser):
        parser.add_argument("time", help="ISO 8601 time, e.g. '2026-11-29 22:59+01:00'")
        parser.add_argument("--data-dir", type=Path, help="New folder for the copy.")
        parser.add_argument(
            "--port", type=int, help="Port of the copy (default: free)."
        )
        parser.add_argument(
            "--in-place",
            action="store_true",
            help=(
                "Stop the running cluster and rewind it to TIME (data written since "
                "is lost). Asks for confirmation unless --noinput."
            ),
        )
        parser.add_argument(
            "--noinput", "--no-input", action="store_false", dest="interactive"
        )

    def handle(self, *args, time, data_dir, port, in_place, interactive, **options):
        target = parse_target(time)
        if in_place and (data_dir or port):
            raise CommandError(
                "--in-place restores into the cluster's own folder and port."
            )
        if port is not None and not 1024 <= port <= 65535:
            raise CommandError(f"--port must be between 1024 and 65535, not {port}.")
        repository = Repository.from_settings()
        if in_place and interactive:
            answer = input(
                f"This stops the running cluster and rewinds it to {target.isoformat()}: "
                "everything written since is lost. Type 'rewind' to go on: "
            )
            if answer.strip() != "rewind":
                raise CommandError("Cancelled; nothing was changed.")
        try:
            copy = restore_to_time(
                repository, target, data_dir=data_dir, port=port, in_place=in_place
            )
        except PitrError as err:
            raise CommandError(str(err)) from err
        hold = hold_publishing(copy.port, target)
        where = "The cluster" if in_place else "A copy"
        self.stdout.write(
            f"{where} is back at {target.isoformat()} (base backup {copy.backup}, "
            f"{copy.seconds:.1f} s)."
        )
        if copy.stopped_at:
            self.stdout.write(f"Replay stopped before/after: {copy.stopped_at}")
        self.stdout.write(hold)
        self.stdout.write(f"Data folder: {copy.data_dir}\nServer log: {copy.log}")
        if not in_place:
            self.stdout.write(
                f"Port: {copy.port} on 127.0.0.1, e.g.\n"
                f"  psql -h 127.0.0.1 -p {copy.port} -U postgres ainfluencer\n"
                f"  pg_dump -h 127.0.0.1 -p {copy.port} -U postgres -Fc ainfluencer > at-time.psql.bin\n"
                f"Stop it with: {copy.bindir}/pg_ctl -D {copy.data_dir} stop"
            )
