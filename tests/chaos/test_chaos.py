"""The short chaos run (issue 11): 800 posts, 2 real workers, kills, one Redis
and one PostgreSQL outage, a Telegram fake that hangs and answers 500 and 429.

It asserts the exactly-once targets; a failure prints the run's report.
`make chaos` is the full run (docs/operations.md, "Chaos suite").
"""

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 420  # seconds; the run takes about two minutes


@pytest.mark.slow
def test_no_post_is_sent_twice_or_lost_under_kills_outages_and_platform_faults(
    tmp_path,
):
    out = tmp_path / "chaos.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.chaos", "--short", "--json", str(out)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        log, _ = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)  # the harness tears its servers down
        log, _ = proc.communicate(timeout=60)
        pytest.fail(f"the chaos run took over {TIMEOUT} s:\n{log[-8000:]}")
    assert out.exists(), f"the chaos run failed before its report:\n{log[-8000:]}"
    result = json.loads(out.read_text())
    from tests.chaos.report import text

    summary = f"\n{text(result)}\n\nevents: {result['events']}"
    assert result["sane"], f"the run itself did not do what it claims:{summary}"
    r = result["results"]
    assert r["sent_twice"] == 0, f"posts sent twice:{summary}"
    assert r["lost"] == 0, f"posts lost:{summary}"
    assert r["recorded_wrong"] == 0, f"delivered posts recorded failed:{summary}"
    assert r["outcome_unknown_other"] <= r["kills"]["in_flight_budget"], (
        f"'outcome unknown' beyond the hangs and the in-flight calls of kills:{summary}"
    )
    assert result["targets_met"], summary
