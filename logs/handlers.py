"""Logging into system_logs: WARNING and above from the project's loggers.

Attached in settings.LOGGING to the project's own loggers (characters,
content, platforms, automation, analytics, logs, config). Context ids come from
`extra={"character_id": ..., "platform_account_id": ..., "content_id": ...,
"post_id": ...}`; any other `extra={"context": {...}}` lands in metadata.

It never fails the caller: a row that cannot be written (no database yet, a
broken transaction, a missing referenced row) is dropped and the record still
reaches the console. Inside the caller's transaction the row is written in a
savepoint, so it commits (or rolls back) with the caller's work. Text and
metadata pass through logs.scrub, so credentials never land in the table.
Referenced rows are looked up in the INSERT itself: an id that does not exist
(any more) stays in metadata and the column is NULL, instead of a foreign-key
error at the caller's COMMIT.
"""

import json
import logging
import threading
import traceback
import uuid

from logs.scrub import scrub_data, scrub_text

_state = threading.local()
CONTEXT_COLUMNS = {
    "character_id": "characters",
    "platform_account_id": "platform_accounts",
    "content_id": "content",
    "post_id": "posts",
}
INSERT = """
INSERT INTO system_logs (log_level, component, message, metadata, {columns})
VALUES (%s, %s, %s, %s::jsonb, {lookups})
"""
_SQL = INSERT.format(
    columns=", ".join(CONTEXT_COLUMNS),
    lookups=", ".join(
        f"(SELECT id FROM {table} WHERE id = %s::uuid)"
        for table in CONTEXT_COLUMNS.values()
    ),
)


def _level(levelno: int) -> str:
    if levelno >= logging.CRITICAL:
        return "critical"
    if levelno >= logging.ERROR:
        return "error"
    return "warning"


class SystemLogHandler(logging.Handler):
    def __init__(self, level=logging.WARNING):
        super().__init__(level)

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(_state, "busy", False):
            return  # a log written while writing a log: drop, never recurse
        _state.busy = True
        try:
            self._write(record)
        except Exception:  # noqa: BLE001 - logging must never fail the caller
            # the console handler still has the record; say why it is not in
            # the table without a traceback storm
            logging.getLogger("logs.handlers.fallback").debug(
                "system_logs row dropped", exc_info=True
            )
        finally:
            _state.busy = False

    def _write(self, record: logging.LogRecord) -> None:
        from django.apps import apps

        if not apps.ready:
            return
        from django.db import connection, transaction

        if connection.in_atomic_block and connection.needs_rollback:
            return  # the caller's transaction is already broken
        ids = {name: _as_id(getattr(record, name, None)) for name in CONTEXT_COLUMNS}
        metadata = {
            "logger": record.name,
            "function": record.funcName,
            "line": record.lineno,
            **{k: v for k, v in ids.items() if v},
        }
        context = getattr(record, "context", None)
        if isinstance(context, dict):
            metadata["context"] = context
        message = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            metadata["exception"] = f"{type(exc).__name__}: {exc}"
            metadata["traceback"] = "".join(
                traceback.format_exception(*record.exc_info)[-6:]
            )[-4000:]
        params = [
            _level(record.levelno),
            record.name[:100],
            scrub_text(message)[:10000],
            json.dumps(scrub_data(metadata)),
            *ids.values(),
        ]
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_SQL, params)


def _as_id(value):
    if value is None:
        return None
    try:
        return str(uuid.UUID(str(getattr(value, "pk", value))))
    except ValueError:
        return None


class ScrubFilter(logging.Filter):
    """Redacts credentials in a record's text before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is still logged
            return True
        cleaned = scrub_text(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
