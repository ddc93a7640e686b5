"""The project's backend: timestamptz parsed by psycopg's C loader with
Django's answer, and a pool check that costs no round trip on a quiet
connection but replaces a connection the server has closed."""

import datetime as dt

import pytest
from django.db import connection
from django.db.backends.postgresql.psycopg_any import BaseTzLoader
from psycopg.pq import Format
from psycopg_pool import ConnectionPool

from config.db_backend.base import (
    TIMESTAMPTZ_OID,
    FastTzLoader,
    quiet_connection_check,
)

pytestmark = pytest.mark.django_db

VALUES = [
    "2026-11-30 12:34:56.123456+00",
    "2026-03-29 01:30:00+00",
    "1999-12-31 23:59:59.999999+00",
    "0001-01-01 00:00:00+00",
    "9999-12-31 23:59:59+00",
]


def test_timestamptz_values_load_as_django_loads_them():
    with connection.cursor() as cursor:
        loader = cursor.cursor.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)
        assert issubclass(loader, FastTzLoader)
        cursor.execute("SELECT v::timestamptz FROM unnest(%s::text[]) AS v", [VALUES])
        loaded = [row[0] for row in cursor.fetchall()]

    class DjangoLoader(BaseTzLoader):
        timezone = dt.UTC

    django_loader = DjangoLoader(TIMESTAMPTZ_OID, connection.connection)
    expected = [django_loader.load(v.encode()) for v in VALUES]
    assert loaded == expected
    assert [v.tzinfo for v in loaded] == [dt.UTC] * len(VALUES)


def _spy(monkeypatch):
    calls = []
    real = ConnectionPool.check_connection

    def spying(conn):
        calls.append(conn)
        return real(conn)

    monkeypatch.setattr(ConnectionPool, "check_connection", staticmethod(spying))
    return calls


def test_the_pool_checks_with_its_own_quiet_check():
    assert connection.pool._check is quiet_connection_check


def test_a_quiet_connection_is_handed_out_without_a_query(monkeypatch):
    calls = _spy(monkeypatch)
    with connection.pool.connection() as first:
        assert first.execute("SELECT 1").fetchone() == (1,)
    with connection.pool.connection() as again:
        assert again.execute("SELECT 1").fetchone() == (1,)
    assert calls == []  # both checks: no round trip


def test_a_connection_the_server_closed_is_replaced(monkeypatch):
    calls = _spy(monkeypatch)
    pool = connection.pool
    with pool.connection() as conn:
        pid = conn.info.backend_pid
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])
    # the terminated connection went back to the pool before; its socket now
    # holds the server's goodbye: the real check runs and fails, and the pool
    # hands out another one
    for _ in range(pool.get_stats()["pool_available"] + 1):
        with pool.connection() as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
            assert conn.info.backend_pid != pid
    assert calls  # the real check ran on the closed one
