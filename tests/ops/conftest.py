"""Fixtures for the operations tests: a private backup folder and MEDIA_ROOT."""

from pathlib import Path

import pytest
from django.db import connection


@pytest.fixture
def backup_dir(tmp_path, monkeypatch) -> Path:
    """dbbackup's storage in a temporary folder.

    dbbackup copies STORAGES["dbbackup"] into its own settings module at import
    time, so override_settings cannot move it: patch that module instead.
    """
    from dbbackup import settings as dbbackup_settings

    folder = tmp_path / "backups"
    folder.mkdir()
    # the other options (file permissions) stay as the settings have them
    monkeypatch.setattr(
        dbbackup_settings,
        "STORAGE_OPTIONS",
        {**dbbackup_settings.STORAGE_OPTIONS, "location": str(folder)},
    )
    return folder


@pytest.fixture
def media_root(tmp_path, settings) -> Path:
    folder = tmp_path / "media"
    folder.mkdir()
    settings.MEDIA_ROOT = folder
    return folder


def table_checksums() -> dict[str, tuple[int, str]]:
    """Per table of schema public: row count and md5 of all rows in a fixed order.

    A partitioned table is summed once, through its parent (its partitions'
    rows are the parent's)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace "
            "AND relkind IN ('r', 'p') AND NOT relispartition ORDER BY 1"
        )
        tables = [row[0] for row in cursor.fetchall()]
        sums = {}
        for table in tables:
            quoted = connection.ops.quote_name(table)
            cursor.execute(
                f"SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' "
                f"ORDER BY t::text), '')) FROM public.{quoted} t"
            )
            sums[table] = tuple(cursor.fetchone())
    return sums


@pytest.fixture(autouse=True)
def _static_root(tmp_path, settings):
    """WhiteNoise warns when STATIC_ROOT does not exist (no collectstatic in tests)."""
    folder = tmp_path / "static"
    folder.mkdir()
    settings.STATIC_ROOT = folder


@pytest.fixture(autouse=True)
def _no_pitr_by_default(settings):
    """The logical-dump tests leave the WAL archive alone: verify_backup and the
    nightly task would otherwise back up and check the cluster the tests run on.
    tests/ops/test_pitr.py switches PITR on against throwaway clusters."""
    settings.PITR_ENABLED = False
