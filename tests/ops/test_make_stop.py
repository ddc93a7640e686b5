"""`make stop` stops the processes this checkout started (the pid file `make
run` writes), not every `honcho -f Procfile` on the machine."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _look_alike(*args: str) -> subprocess.Popen:
    """A process whose command line reads like `args` (what ps shows)."""
    return subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)", *args]
    )


def _stop_web(pid_file: Path) -> str:
    done = subprocess.run(
        ["make", "-s", "stop-web", f"HONCHO_PID={pid_file}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


@pytest.fixture
def processes():
    started: list[subprocess.Popen] = []
    yield started
    for proc in started:
        proc.kill()
        proc.wait()


def test_it_stops_the_honcho_of_its_pid_file_and_no_other(tmp_path, processes):
    ours = _look_alike("honcho", "-f", "Procfile", "start")
    theirs = _look_alike("honcho", "-f", "Procfile", "start")  # another checkout's
    processes += [ours, theirs]
    pid_file = tmp_path / "honcho.pid"
    pid_file.write_text(f"{ours.pid}\n")

    out = _stop_web(pid_file)

    assert ours.wait(timeout=10) == -15  # SIGTERM
    assert theirs.poll() is None
    assert f"pid {ours.pid}" in out
    assert not pid_file.exists()


def test_a_pid_file_naming_another_program_leaves_it_alone(tmp_path, processes):
    """The pid was reused by something that is not honcho after a crash."""
    other = _look_alike("not-the-web-processes")
    processes.append(other)
    pid_file = tmp_path / "honcho.pid"
    pid_file.write_text(f"{other.pid}\n")

    assert _stop_web(pid_file) == ""

    assert other.poll() is None
    assert not pid_file.exists()


def test_without_a_pid_file_there_is_nothing_to_stop(tmp_path):
    assert _stop_web(tmp_path / "missing.pid") == ""
