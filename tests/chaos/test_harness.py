"""The chaos suite's parts: the faulty fake, the timeline, the analysis, the report."""

import json
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
import requests

from tests.chaos import report
from tests.chaos.harness import Event, Harness, Plan, Run
from tests.fakes.loopback import Faults
from tests.fakes.telegram import FakeTelegram

ROOT = Path(__file__).resolve().parents[2]


def send(url: str, text: str, timeout: float = 5.0) -> requests.Response:
    return requests.post(
        f"{url}/bot1:token/sendMessage",
        data={"chat_id": "-1001", "text": text},
        timeout=timeout,
    )


def test_injected_faults_come_in_their_proportions(tmp_path):
    faults = Faults(hang=0.0, error500=0.3, error429=0.2, seed=7)
    with FakeTelegram(faults=faults, journal=tmp_path / "j.jsonl") as fake:
        answers = Counter(send(fake.url, f"m{n}").status_code for n in range(300))
    assert 60 <= answers[502] <= 120 and 35 <= answers[429] <= 85
    assert answers[200] == 300 - answers[502] - answers[429]
    lines = [json.loads(x) for x in (tmp_path / "j.jsonl").read_text().splitlines()]
    assert len(lines) == 300
    assert Counter(line["fault"] for line in lines)["500"] == answers[502]
    accepted = [line for line in lines if line["status"] == 200]
    assert len({line["message_id"] for line in accepted}) == len(accepted)
    assert {line["text"] for line in lines} == {f"m{n}" for n in range(300)}


def test_a_hung_call_is_accepted_and_answered_too_late(tmp_path):
    faults = Faults(hang=1.0, hang_seconds=1.5)
    with FakeTelegram(faults=faults, journal=tmp_path / "j.jsonl") as fake:
        with pytest.raises(requests.ReadTimeout):
            send(fake.url, "slow one", timeout=0.5)
        time.sleep(1.2)
    (line,) = [json.loads(x) for x in (tmp_path / "j.jsonl").read_text().splitlines()]
    assert (line["status"], line["fault"], line["text"]) == (200, "hang", "slow one")


def test_fault_rates_beyond_one_are_refused():
    with pytest.raises(ValueError, match="add up to at most 1"):
        Faults(hang=0.5, error500=0.6)


def test_the_fake_runs_as_a_process_of_its_own(tmp_path):
    journal = tmp_path / "calls.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.telegram", "--journal", str(journal)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("listening http://127.0.0.1:")
        assert send(line.split(" ", 1)[1], "from a process").json()["ok"] is True
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
    assert json.loads(journal.read_text())["text"] == "from a process"


def test_the_timeline_keeps_kills_and_outages_inside_the_chaos_window(tmp_path):
    plan = Plan(fault_seconds=200, chaos_window=0.5, kill_every=5, seed=3)
    harness = Harness(plan)
    try:
        actions = harness.timeline()
    finally:
        harness.teardown()
    assert all(2 < t < 100 for t, _ in actions)
    kinds = Counter(kind for _, kind in actions)
    assert kinds["redis"] == 2 and kinds["postgres"] == 2
    assert kinds["kill-child"] + kinds["kill-worker"] >= 8
    outages = [kind for _, kind in actions if kind in ("redis", "postgres")]
    assert outages == ["redis", "postgres", "redis", "postgres"]


def _run(journal, posts, calls_in_flight=1, **kills) -> Run:
    run = Run(
        plan=Plan(
            concurrency=2,
            calls_in_flight=calls_in_flight,
            redis_outages=0,
            pg_outages=0,
        )
    )
    run.journal = journal
    run.posts = posts
    run.kills.update(kills)
    run.events = [Event(1.0, "kill-child")]
    return run


def _call(pid, status=200, fault=None, t=1_700_000_000.0):
    return {"t": t, "status": status, "fault": fault, "text": f"chaos:{pid} post 1"}


def _post(pid, status, message=None):
    return {"id": pid, "status": status, "error_message": message}


def test_the_analysis_finds_double_sends_losses_and_unexplained_unknowns():
    ids = [str(uuid.uuid4()) for _ in range(8)]
    unknown = "Outcome unknown: a worker stopped while publishing."
    journal = [
        _call(ids[0]),  # published once: fine
        _call(ids[1]),
        _call(ids[1], t=1_700_000_060.0),  # sent twice
        _call(ids[3], fault="hang"),  # outcome unknown after a hang, delivered
        _call(ids[5], status=502, fault="500"),  # gave up after a real 500
        _call(ids[6]),  # delivered, recorded failed: wrong
    ]
    posts = [
        _post(ids[0], "published"),
        _post(ids[1], "published"),
        _post(ids[2], "published"),  # never delivered: lost
        _post(ids[3], "failed", unknown),
        _post(ids[4], "failed", unknown),  # no hang: needs a kill
        _post(ids[5], "failed", "Gave up after 3 retries: Telegram server error"),
        _post(ids[6], "failed", "Gave up after 3 retries"),
        _post(ids[7], "processing"),  # stuck: lost
    ]
    result = report.analyse(_run(journal, posts))
    r = result["results"]
    assert (r["sent_twice"], r["delivered_distinct"], r["delivered_total"]) == (1, 4, 5)
    assert r["lost"] == 2 and r["lost_by_kind"] == {
        "published, never delivered": 1,
        "still processing": 1,
    }
    assert r["recorded_wrong"] == 1
    assert (r["outcome_unknown"], r["outcome_unknown_after_hang"]) == (2, 1)
    assert (r["outcome_unknown_delivered"], r["outcome_unknown_never_sent"]) == (1, 1)
    targets = result["targets"]
    # no kill: the one unknown without a hang is unexplained
    assert not targets[
        "every outcome unknown explained (hang, or a killed in-flight call)"
    ]["met"]
    assert not result["targets_met"]
    assert not result["sanity"]["workers were killed"]
    assert ids[1] in report.text(result)


def test_a_killed_in_flight_call_explains_one_unknown_per_pool_process():
    pid = str(uuid.uuid4())
    posts = [_post(pid, "failed", "Outcome unknown: a worker stopped")]
    explained = report.analyse(_run([], posts, children=1))
    assert explained["targets_met"]
    assert explained["results"]["kills"]["in_flight_budget"] == 1
    # a whole worker cuts off one call per pool process (concurrency 2)
    two = [_post(str(uuid.uuid4()), "failed", "outcome unknown") for _ in range(3)]
    assert not report.analyse(_run([], two, workers=1))["targets_met"]


def test_a_killed_process_explains_one_unknown_per_call_it_had_in_flight():
    unknown = [_post(str(uuid.uuid4()), "failed", "outcome unknown") for _ in range(5)]
    four = report.analyse(_run([], unknown[:4], calls_in_flight=4, children=1))
    assert four["results"]["kills"]["in_flight_budget"] == 4
    assert four["targets_met"]
    assert not report.analyse(_run([], unknown, calls_in_flight=4, children=1))[
        "targets_met"
    ]


def test_the_chaos_section_replaces_only_itself_and_keeps_other_runs(tmp_path):
    markdown = tmp_path / "BENCHMARKS.md"
    markdown.write_text("# Benchmarks\n\n| api | row |\n\n## Findings\n\nkept\n")
    pid = str(uuid.uuid4())
    result = report.analyse(_run([_call(pid)], [_post(pid, "published")], children=1))
    result["meta"]["engine_commit"] = "aaaa"
    report.write_markdown(result, markdown, label="before", json_name="x.json")
    result["meta"]["engine_commit"] = "bbbb"
    report.write_markdown(result, markdown, label="after", json_name="x.json")
    report.write_markdown(result, markdown, label="after", json_name="x.json")
    text = markdown.read_text()
    assert text.startswith("# Benchmarks\n\n| api | row |\n\n## Findings\n\nkept\n")
    assert text.count("## Chaos") == 1
    rows = [line for line in text.splitlines() if line.startswith("| after |")]
    assert len(rows) == 1 and "| before | aaaa |" in text
    assert text.index("| after |") < text.index("| before |")


def test_the_x_fake_takes_faults_and_journals_each_tweet(tmp_path):
    """The chaos suite drives the X adapter too (--platform twitter)."""
    from tests.chaos.platforms import PLATFORMS
    from tests.fakes.x import TOKEN, FakeX

    faults = Faults(hang=0.0, error500=0.3, error429=0.2, seed=3, retry_after=2)
    with FakeX(faults=faults, journal=tmp_path / "j.jsonl") as fake:
        answers = Counter(
            requests.post(
                f"{fake.url}/2/tweets",
                json={"text": f"chaos:{n} tweet"},
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=5,
            ).status_code
            for n in range(200)
        )
    assert answers[201] + answers[503] + answers[429] == 200
    assert 40 <= answers[503] <= 80 and 20 <= answers[429] <= 60
    lines = [json.loads(x) for x in (tmp_path / "j.jsonl").read_text().splitlines()]
    accepted = [line for line in lines if line["status"] == 201]
    assert len(accepted) == answers[201] == len({line["tweet_id"] for line in accepted})
    assert {line["text"] for line in lines} == {f"chaos:{n} tweet" for n in range(200)}
    x = PLATFORMS["twitter"]
    assert x.adapter_env("http://f", 1.0, 2.0)["X_API_BASE"] == "http://f"
    assert x.account(3)[1]["access_token"] == TOKEN
