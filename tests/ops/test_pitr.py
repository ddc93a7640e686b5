"""Point-in-time recovery with pgBackRest (issue 17): the drill, the archive checks.

One throwaway cluster for the module, made by scripts/services.sh itself
(tests/ops/pitr_cluster.py): backups, restores and the damaged archive never
touch the cluster the tests run on. Each test takes the backup it needs and
looks only at its own rows, so it passes alone too; the one that damages the
archive runs last. The durations are printed (pytest -s) for docs/operations.md.
"""

import io
import re
import time

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from config.ops.pitr import PitrError, Repository, pg_bindir, pg_ctl, restore_to_time
from tests.ops.pitr_cluster import ScratchCluster

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def cluster(django_db_setup, django_db_blocker):
    scratch = ScratchCluster()
    try:
        scratch.start()
        with django_db_blocker.unblock():
            scratch.load_project_schema()
        yield scratch
    finally:
        scratch.remove()


def names(conn, prefix: str) -> list[str]:
    return [
        row[0]
        for row in conn.execute(
            "SELECT name FROM characters WHERE name LIKE %s ORDER BY name",
            [prefix + "%"],
        )
    ]


def add(conn, *new: str) -> None:
    for name in new:
        conn.execute("INSERT INTO characters (name) VALUES (%s)", [name])


def server_now(conn):
    return conn.execute("SELECT clock_timestamp()").fetchone()[0]


def test_the_local_cluster_archives_its_wal_with_pgbackrest():
    """`make run`/`make test`'s own cluster (scripts/services.sh) archives from its
    first start: pgBackRest's check pushes a fresh segment and finds it archived."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW archive_mode")
        assert cursor.fetchone()[0] == "on"
        cursor.execute("SHOW archive_command")
        command = cursor.fetchone()[0]
    repository = Repository.from_settings()
    assert repository.config, "no pgbackrest.conf from scripts/services.sh"
    assert f"--config={repository.config}" in command
    assert "archive-push %p" in command
    repository.check()


def test_services_sh_switches_archiving_on_for_a_cluster_made_before_it(cluster):
    """A cluster initialised before WAL archiving existed (no pitr.conf include)
    is reconfigured and restarted by the next `services.sh start`."""
    conf = cluster.data_dir / "postgresql.conf"
    conf.write_text(conf.read_text().replace("include_if_exists = 'pitr.conf'", ""))
    (cluster.data_dir / "pitr.conf").unlink()
    cluster.stop()
    cluster.start_plain()
    with cluster.connect(user="postgres") as conn:
        assert conn.execute("SHOW archive_mode").fetchone()[0] == "off"
    cluster.start()
    with cluster.connect(user="postgres") as conn:
        assert conn.execute("SHOW archive_mode").fetchone()[0] == "on"
    cluster.repository.check()


def test_nightly_backup_takes_a_base_backup_next_to_the_dump(
    cluster, settings, backup_dir, media_root
):
    """Full when there is no recent full backup, differential otherwise; logged
    with the dump, and verify_backup then checks the archive too."""
    from config.tasks import nightly_backup
    from logs.models import SystemLog

    settings.PITR_ENABLED = True
    settings.PITR_PGBACKREST_CONFIG = cluster.repository.config
    first = nightly_backup.run()
    assert first["verified"] is True
    assert first["base_backup_type"] == "full"
    second = nightly_backup.run()
    assert second["base_backup_type"] == "diff"
    labels = [b["label"] for b in cluster.repository.backups()]
    assert labels[-2:] == [first["base_backup"], second["base_backup"]]
    rows = SystemLog.objects.filter(component="backup").order_by("created_at")
    assert [r.metadata["base_backup"] for r in rows] == labels[-2:]
    assert "base backup" in rows[0].message and rows[0].log_level == "info"

    out = io.StringIO()
    call_command("verify_backup", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("OK      default-")
    assert lines[1].startswith("OK      WAL archive ainfluencer: ")
    assert "without a gap, archiving works" in lines[1]


def test_drill_restores_exactly_the_rows_of_the_noted_time(cluster, settings):
    """GIVEN a base backup and rows written after it
    WHEN more rows are written, changed and deleted after a noted time
    THEN `restore_to_time` makes a copy holding exactly the rows of that moment,
    on publishing hold, and the running cluster is untouched."""
    settings.PITR_PGBACKREST_CONFIG = cluster.repository.config
    repository = cluster.repository
    began = time.monotonic()
    backup = repository.backup("incr")
    backup_seconds = time.monotonic() - began
    with cluster.connect() as conn:
        add(conn, "drill Ada", "drill Bo", "drill Cy")
        noted = server_now(conn)
        at_noted_time = names(conn, "drill")
        time.sleep(0.05)
        add(conn, "drill Dee", "drill Eve")
        conn.execute(
            "UPDATE characters SET name = 'drill Ada 2' WHERE name = 'drill Ada'"
        )
        conn.execute("DELETE FROM characters WHERE name = 'drill Bo'")
        later = names(conn, "drill")
    repository.check()  # the segment with the later writes reaches the archive

    data_dir = cluster.root / "drill-copy"
    out = io.StringIO()
    began = time.monotonic()
    call_command(
        "restore_to_time", noted.isoformat(), "--data-dir", str(data_dir), stdout=out
    )
    restore_seconds = time.monotonic() - began
    text = out.getvalue()
    port = int(re.search(r"Port: (\d+) on 127.0.0.1", text).group(1))
    try:
        assert f"base backup {backup['label']}" in text
        assert "Replay stopped before/after: commit of transaction" in text
        with cluster.connect(port=port) as restored:
            assert names(restored, "drill") == at_noted_time
            assert at_noted_time == ["drill Ada", "drill Bo", "drill Cy"]
            # a promoted, writable copy, on hold until staff have looked
            assert not restored.execute("SELECT pg_is_in_recovery()").fetchone()[0]
            add(restored, "drill written to the copy")
            assert restored.execute(
                "SELECT kind FROM publishing_holds WHERE lifted_at IS NULL"
            ).fetchall() == [("restore",)]
    finally:
        pg_ctl(repository, pg_bindir(), "-D", str(data_dir), "-m", "fast", "-w", "stop")
    with cluster.connect() as conn:
        assert names(conn, "drill") == later
        assert later == ["drill Ada 2", "drill Cy", "drill Dee", "drill Eve"]
    print(
        f"\nPITR drill: base backup ({backup['type']}) {backup_seconds:.1f} s, "
        f"restore_to_time (restore, replay, start, hold) {restore_seconds:.1f} s"
    )


def test_restore_goes_beside_the_running_cluster_unless_asked(cluster, settings):
    settings.PITR_PGBACKREST_CONFIG = cluster.repository.config
    repository = cluster.repository
    repository.backup("incr")
    with cluster.connect() as conn:
        add(conn, "rewind kept")
        noted = server_now(conn)
        time.sleep(0.05)
        add(conn, "rewind written after the time")
    repository.check()

    with pytest.raises(PitrError, match="needs the explicit in-place option"):
        restore_to_time(repository, noted, data_dir=cluster.data_dir)
    busy = cluster.root / "busy"
    busy.mkdir()
    (busy / "file").write_text("x")
    with pytest.raises(PitrError, match="is not empty"):
        restore_to_time(repository, noted, data_dir=busy)
    with cluster.connect() as conn:
        assert names(conn, "rewind") == ["rewind kept", "rewind written after the time"]

    out = io.StringIO()
    call_command(
        "restore_to_time", noted.isoformat(), "--in-place", "--noinput", stdout=out
    )
    assert f"The cluster is back at {noted.isoformat()}" in out.getvalue()
    assert "Publishing is on hold in the restored database" in out.getvalue()
    with cluster.connect() as conn:
        assert names(conn, "rewind") == ["rewind kept"]
        # posts published after the time are due again: nothing goes out unreviewed
        (hold,) = conn.execute(
            "SELECT kind, backup_taken_at FROM publishing_holds WHERE lifted_at IS NULL"
        ).fetchall()
        assert hold == ("restore", noted)
        add(conn, "rewind after the rewind")
    # the rewound cluster archives again (a new timeline in the same stanza)
    repository.check()


def test_base_backup_command(cluster, settings):
    settings.PITR_ENABLED = True
    settings.PITR_PGBACKREST_CONFIG = cluster.repository.config
    out = io.StringIO()
    call_command("base_backup", "--type", "incr", stdout=out)
    newest = cluster.repository.backups()[-1]
    assert f"Base backup {newest['label']} (" in out.getvalue()
    call_command("base_backup", "--if-none", stdout=out)
    assert "A base backup exists already: none taken." in out.getvalue()
    assert cluster.repository.backups()[-1]["label"] == newest["label"]
    settings.PITR_ENABLED = False
    with pytest.raises(CommandError, match="PITR_ENABLED is off"):
        call_command("base_backup")


def test_archive_retention_follows_the_base_backups(cluster):
    """Two full backups are kept (pgbackrest.conf from services.sh): after two
    more, the older ones are expired with the WAL only they needed, and the
    archive starts where the oldest kept backup starts."""
    repository = cluster.repository
    if not repository.backups():  # this test alone
        repository.backup("full")
    before = repository.backups()
    first = repository.backup("full")
    with cluster.connect() as conn:
        add(conn, "retention row")
    repository.check()
    second = repository.backup("full")
    info = repository.info()
    assert [b["label"] for b in info["backup"]] == [first["label"], second["label"]]
    assert info["archive"][0]["min"] == first["archive"]["start"]
    assert before[0]["archive"]["start"] < first["archive"]["start"]


def test_a_missing_wal_segment_is_reported_not_skipped(cluster, settings, backup_dir):
    """GIVEN a segment between the base backup and the noted time lost from the
    archive, THEN the restore fails naming it (no copy silently stopping short),
    and verify_backup reports the gap. (Damages the archive: runs last.)"""
    repository = cluster.repository
    repository.backup("incr")
    with cluster.connect() as conn:
        add(conn, "gap in the lost segment")
        repository.check()
        lost = conn.execute(
            "SELECT last_archived_wal FROM pg_stat_archiver"
        ).fetchone()[0]
        add(conn, "gap after it")
        noted = server_now(conn)
        time.sleep(0.05)
        add(conn, "gap later")
    repository.check()
    segment = next((cluster.root / "pgbackrest" / "repo").rglob(f"{lost}-*"))
    segment.unlink()

    with pytest.raises(PitrError) as raised:
        restore_to_time(repository, noted, data_dir=cluster.root / "gap-copy")
    message = str(raised.value)
    assert "cannot reach" in message
    assert f"The segment after {previous(lost)} is missing" in message

    settings.PITR_ENABLED = True
    settings.PITR_PGBACKREST_CONFIG = repository.config
    call_command("dbbackup", "--noinput", stdout=io.StringIO(), stderr=io.StringIO())
    out = io.StringIO()
    with pytest.raises(CommandError, match="WAL archive: WAL missing from the archive"):
        call_command("verify_backup", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("OK      default-")  # the logical dump is fine
    assert lines[1].startswith(
        "FAILED  WAL archive ainfluencer: WAL missing from the archive after "
        f"{previous(lost)} up to "
    )


def previous(segment: str) -> str:
    """The WAL segment before `segment` (16 MB segments)."""
    timeline, log, seg = segment[:8], int(segment[8:16], 16), int(segment[16:], 16)
    log, seg = (log, seg - 1) if seg else (log - 1, 0xFF)
    return f"{timeline}{log:08X}{seg:08X}"


def test_nightly_backup_reports_a_failing_base_backup(settings, backup_dir, media_root):
    from config.tasks import nightly_backup
    from logs.models import SystemLog

    settings.PITR_ENABLED = True
    settings.PITR_STANZA = "no_such_stanza"
    with pytest.raises(CommandError, match="base backup FAILED"):
        nightly_backup.run()
    row = SystemLog.objects.get(component="backup")
    assert row.log_level == "error"
    assert row.metadata["database_backup"]  # the dump itself was made
    assert row.metadata["base_backup"] is None
    assert row.metadata["base_backup_error"].startswith("pgbackrest ")


def test_restore_to_time_command_refuses_bad_times():
    with pytest.raises(CommandError, match="Cannot read the time"):
        call_command("restore_to_time", "yesterday at eleven")
    with pytest.raises(CommandError, match="in the future"):
        call_command("restore_to_time", "2999-01-01T00:00Z", "--noinput")
    with pytest.raises(CommandError, match="--port must be between"):
        call_command("restore_to_time", "2020-01-01T00:00Z", "--port", "80")
