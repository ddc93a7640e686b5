"""scripts/supervise.sh keeps make run's worker and beat alive: honcho ends
every process when one exits, and a Celery worker can exit on a broker error."""

import signal
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_process_that_exits_is_started_again_and_sigterm_stops_both(tmp_path):
    runs = tmp_path / "runs"
    child = f"echo started >> {runs}; sleep 0.2; exit 3"
    proc = subprocess.Popen(
        [str(ROOT / "scripts" / "supervise.sh"), "sh", "-c", child],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if runs.exists() and len(runs.read_text().splitlines()) >= 2:
                break
            time.sleep(0.2)
        assert len(runs.read_text().splitlines()) >= 2  # restarted after exit 3
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert "exited with status 3; restarting" in err


def test_make_runs_worker_and_beat_under_the_supervisor():
    procfile = dict(
        line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines()
    )
    for name in ("worker", "beat"):
        assert "scripts/supervise.sh .venv/bin/celery" in procfile[name], name
