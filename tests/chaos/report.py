"""What a chaos run shows: counts, the targets, BENCHMARKS.md and JSON.

Definitions (per scheduled post of the run, against the fake's journal):
- delivered: the fake accepted a message carrying the post's marker (a hung
  call counts: a slow server accepts the message and answers late);
- sent twice: delivered more than once;
- lost: published but never delivered; never delivered and failed without a
  cause the fake gave it (no 500/429 for it); or still 'scheduled'/'processing'
  when the run ends;
- recorded wrong: delivered but recorded 'failed' without "outcome unknown"
  (staff would retry it: a duplicate in the making);
- outcome unknown: 'failed' with "outcome unknown" in its message. One whose
  call hung past the client's timeout is explained by that hang; the others
  must fit the in-flight calls that kills cut off: one per killed pool
  process, `concurrency` per killed worker, one per task Celery terminated
  itself when it lost the broker (it logs each).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
from collections import Counter, defaultdict
from pathlib import Path

from tests.chaos.harness import MARKER_RE, Run, plan_dict

OUTCOME_UNKNOWN = "outcome unknown"
SECTION = "## Chaos"


def analyse(run: Run) -> dict:
    plan = run.plan
    delivered: Counter = Counter()
    delivered_at: dict[str, list[float]] = defaultdict(list)
    refused: Counter = Counter()
    hung: set[str] = set()
    faults: Counter = Counter()
    for call in run.journal:
        faults["calls"] += 1
        if call.get("fault"):
            faults[call["fault"]] += 1
        match = MARKER_RE.search(call.get("text") or "")
        marker = match.group(1) if match else None
        if marker is None:
            faults["without marker"] += 1
            continue
        if 200 <= call["status"] < 300:
            delivered[marker] += 1
            delivered_at[marker].append(call["t"])
        else:
            refused[marker] += 1
        if call.get("fault") == "hang":
            hung.add(marker)

    statuses: Counter = Counter()
    lost: Counter = Counter()
    wrong: Counter = Counter()
    unknown: Counter = Counter()
    reasons: Counter = Counter()
    examples: dict[str, list[str]] = defaultdict(list)
    ours = set()
    for post in run.posts:
        pid, status = post["id"], post["status"]
        ours.add(pid)
        statuses[status] += 1
        sent = delivered[pid]
        message = post["error_message"] or ""
        if status == "failed":
            reasons[_reason(message)] += 1
        kind = None
        if status in ("scheduled", "processing"):
            kind = "lost: still " + status
        elif status == "published" and not sent:
            kind = "lost: published, never delivered"
        elif status == "failed" and OUTCOME_UNKNOWN in message.lower():
            unknown["total"] += 1
            unknown["delivered" if sent else "never sent"] += 1
            unknown["after a hang" if pid in hung else "other"] += 1
            if pid not in hung:
                kind = "outcome unknown, no hang"
        elif status == "failed" and sent:
            kind = "wrong: delivered, recorded failed"
        elif status == "failed" and not refused[pid]:
            kind = "lost: failed without an injected fault"
        elif status == "cancelled":
            kind = "lost: cancelled"
        if sent > 1 and len(examples["sent twice"]) < 3:
            times = ", ".join(_clock(t) for t in delivered_at[pid])
            examples["sent twice"].append(f"{pid} delivered at {times} ({status})")
        if kind:
            if kind.startswith(("lost", "wrong")):
                (lost if kind.startswith("lost") else wrong)[
                    kind.split(": ", 1)[1]
                ] += 1
            if len(examples[kind]) < 3:
                examples[kind].append(f"{pid} ({status}: {message[:160]})")

    sent_twice = sum(1 for m, n in delivered.items() if n > 1 and m in ours)
    kills = run.kills
    # each killed pool process cuts off the calls it had in flight
    budget = (
        kills["children"]
        + kills["workers"] * plan.concurrency
        + run.broker_loss_terminations
    ) * plan.calls_in_flight
    counts = {
        "scheduled": len(run.posts),
        "delivered_distinct": sum(1 for m in delivered if m in ours),
        "delivered_total": sum(n for m, n in delivered.items() if m in ours),
        "sent_twice": sent_twice,
        "extra_messages": sum(n - 1 for m, n in delivered.items() if n > 1),
        "recorded_twice": run.recorded_twice,
        "lost": sum(lost.values()),
        "lost_by_kind": dict(lost),
        "recorded_wrong": sum(wrong.values()),
        "recorded_wrong_by_kind": dict(wrong),
        "outcome_unknown": unknown["total"],
        "outcome_unknown_delivered": unknown["delivered"],
        "outcome_unknown_never_sent": unknown["never sent"],
        "outcome_unknown_after_hang": unknown["after a hang"],
        "outcome_unknown_other": unknown["other"],
        "final_status": dict(statuses),
        "failure_reasons": dict(reasons.most_common(10)),
        "examples": {kind: items for kind, items in examples.items() if items},
        "fake": {
            "calls": faults["calls"],
            "hangs": faults["hang"],
            "error500": faults["500"],
            "error429": faults["429"],
            "without_marker": faults["without marker"],
        },
        "kills": {
            "pool_processes": kills["children"],
            "workers": kills["workers"],
            "celery_terminations_on_broker_loss": run.broker_loss_terminations,
            "in_flight_budget": budget,
            "workers_exited_by_themselves": kills["exited_by_itself"],
        },
        "outages": {"redis": run.outages["redis"], "postgres": run.outages["postgres"]},
        "triggers": dict(run.triggers),
        "quiet_phase_finished": run.quiet_finished,
    }
    targets = {
        "nothing sent twice": {"value": sent_twice, "target": 0},
        "nothing lost": {"value": counts["lost"], "target": 0},
        "nothing recorded wrong": {"value": counts["recorded_wrong"], "target": 0},
        "every outcome unknown explained (hang, or a killed in-flight call)": {
            "value": unknown["other"],
            "target": budget,
            "note": f"{unknown['after a hang']} after a hang; the rest at most "
            f"{budget} in-flight calls cut off by kills",
        },
    }
    for t in targets.values():
        t["met"] = t["value"] <= t["target"]
    # the run must have done what it claims, or "0 lost" would prove nothing
    sanity = {
        "posts were delivered": counts["delivered_distinct"] > 0,
        "workers were killed": (kills["children"] + kills["workers"]) > 0
        or plan.kill_every <= 0,
        "Redis was stopped as planned": run.outages["redis"] == plan.redis_outages,
        "PostgreSQL was stopped as planned": run.outages["postgres"] == plan.pg_outages,
        "the fake injected faults": (faults["500"] + faults["429"] + faults["hang"]) > 0
        or not (plan.error500 or plan.error429 or plan.hang),
    }
    return {
        "meta": {
            "started": run.started,
            "duration_s": run.duration_s,
            "phases_s": run.phase_s,
            "engine_commit": run.engine_commit,
            "machine": _machine(),
            "plan": plan_dict(plan),
        },
        "results": counts,
        "targets": targets,
        "targets_met": all(t["met"] for t in targets.values()),
        "sanity": sanity,
        "sane": all(sanity.values()),
        "events": [e.__dict__ for e in run.events],
    }


def _clock(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%H:%M:%S")


def _reason(message: str) -> str:
    """A failure message without its ids, times and numbers, to group by."""
    text = re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}", "<id>", message)
    text = re.sub(r"\d+(\.\d+)?", "N", text)
    return text[:140]


def _machine() -> str:
    memory = ""
    try:
        with open("/proc/meminfo") as meminfo:
            memory = f", {int(meminfo.readline().split()[1]) / 1024**2:.0f} GiB"
    except OSError:
        memory = ""  # not Linux: leave the memory out
    return (
        f"{platform.machine()}, {os.cpu_count()} cores{memory}, "
        f"Python {platform.python_version()}"
    )


def text(report: dict) -> str:
    """The report as plain text (printed at the end of a run, and by a failing test)."""
    r, meta = report["results"], report["meta"]
    plan = meta["plan"]
    lines = [
        f"Chaos run {meta['started']} ({meta['duration_s']:.0f} s; phases "
        f"{meta['phases_s']}), engine {meta['engine_commit']}, {plan['platform']}, "
        f"{plan['workers']} workers x {plan['concurrency']}",
        f"  posts scheduled        {r['scheduled']:,}",
        f"  delivered              {r['delivered_distinct']:,} distinct / "
        f"{r['delivered_total']:,} total",
        f"  sent twice             {r['sent_twice']:,} posts "
        f"({r['extra_messages']:,} extra messages); recorded twice "
        f"{r['recorded_twice']:,}",
        f"  lost                   {r['lost']:,} {r['lost_by_kind'] or ''}",
        f"  recorded wrong         {r['recorded_wrong']:,} "
        f"{r['recorded_wrong_by_kind'] or ''}",
        f"  outcome unknown        {r['outcome_unknown']:,} "
        f"({r['outcome_unknown_delivered']:,} really delivered, "
        f"{r['outcome_unknown_never_sent']:,} never sent; "
        f"{r['outcome_unknown_after_hang']:,} after a hang)",
        f"  kills                  {r['kills']['pool_processes']} pool processes, "
        f"{r['kills']['workers']} whole workers, "
        f"{r['kills']['celery_terminations_on_broker_loss']} tasks Celery "
        f"terminated on broker loss (in-flight budget "
        f"{r['kills']['in_flight_budget']}); "
        f"{r['kills']['workers_exited_by_themselves']} workers exited by themselves",
        f"  outages                Redis {r['outages']['redis']}, PostgreSQL "
        f"{r['outages']['postgres']}",
        f"  fake                   {r['fake']['calls']:,} calls: "
        f"{r['fake']['hangs']} hangs, {r['fake']['error500']} x 500, "
        f"{r['fake']['error429']} x 429",
        f"  final status           {r['final_status']}",
    ]
    if r["failure_reasons"]:
        lines.append("  failure reasons:")
        lines += [f"    {n:6,}  {reason}" for reason, n in r["failure_reasons"].items()]
    if r["examples"]:
        lines.append("  examples:")
        for kind, items in r["examples"].items():
            lines += [f"    {kind}: {item}" for item in items]
    lines.append("  targets:")
    for name, t in report["targets"].items():
        mark = "met   " if t["met"] else "MISSED"
        lines.append(
            f"    {mark} {name}: {t['value']} (at most {t['target']})"
            + (f"; {t['note']}" if t.get("note") else "")
        )
    broken = [name for name, ok in report["sanity"].items() if not ok]
    if broken:
        lines.append(f"  THE RUN ITSELF FAILED: {', '.join(broken)}")
    return "\n".join(lines)


def write_json(report: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")


def _row(report: dict, label: str) -> str:
    r, meta = report["results"], report["meta"]
    plan = meta["plan"]
    met = (
        "all met"
        if report["targets_met"]
        else "missed: "
        + ", ".join(
            name.split(" (")[0] for name, t in report["targets"].items() if not t["met"]
        )
    )
    return (
        f"| {label} | {meta['engine_commit']} | {plan['workers']} x "
        f"{plan['concurrency']} | {r['scheduled']:,} | "
        f"{r['delivered_distinct']:,} / {r['delivered_total']:,} | "
        f"{r['sent_twice']:,} | {r['lost']:,} | {r['recorded_wrong']:,} | "
        f"{r['outcome_unknown']:,} ({r['outcome_unknown_delivered']:,} delivered / "
        f"{r['outcome_unknown_never_sent']:,} never sent) | "
        f"{r['outcome_unknown_after_hang']:,} / {r['outcome_unknown_other']:,} of "
        f"{r['kills']['in_flight_budget']} | "
        f"{r['kills']['pool_processes']} / {r['kills']['workers']} / "
        f"{r['kills']['celery_terminations_on_broker_loss']} | "
        f"{r['outages']['redis']} / {r['outages']['postgres']} | "
        f"{r['fake']['hangs']} / {r['fake']['error500']} / {r['fake']['error429']} | "
        f"{met} |"
    )


HEADER = (
    "| run | engine | workers | scheduled | delivered (distinct / total) | "
    "sent twice | lost | recorded wrong | outcome unknown | OU after a hang / "
    "other, of in-flight budget | kills (pool / workers / Celery on broker loss) | "
    "outages (Redis / PG) | hangs / 500 / 429 | targets |\n"
    "|---|---|---|---:|---:|---:|---:|---:|---|---|---|---|---|---|"
)


def write_markdown(report: dict, path: Path, *, label: str, json_name: str) -> None:
    """Put this run's row into the "Chaos" section of BENCHMARKS.md.

    Rows of earlier runs with other labels stay (a "before" next to an
    "after"); the rest of the file is left as it is.
    """
    old = path.read_text() if path.exists() else "# Benchmarks\n"
    before, section, after = split_section(old)
    # a run replaces the row of the same label on the same engine commit only
    same = f"| {label} | {report['meta']['engine_commit']} |"
    rows = [
        line
        for line in section.splitlines()
        if line.startswith("| ") and not line.startswith(("| run ", same))
    ]
    rows.insert(0, _row(report, label))
    meta = report["meta"]
    body = [
        SECTION,
        "",
        "Generated by `make chaos` (`python -m tests.chaos`, see docs/operations.md, "
        '"Chaos suite"): real Celery workers publish through the real adapter to a '
        "loopback fake that hangs past the read timeout, answers 500 and 429; worker "
        "pool processes and whole workers are SIGKILLed at random and restarted; "
        "Redis and PostgreSQL are stopped and started; then a quiet phase lets the "
        "engine finish. Targets: 0 sent twice, 0 lost, 0 recorded wrong, every "
        '"outcome unknown" after a hang or within the in-flight calls that kills '
        "cut off. Newest run first; the latest run's JSON is "
        f"`docs/{json_name}`.",
        "",
        HEADER,
        *rows[:12],
        "",
        f"Latest run ({label}): {meta['started']}, "
        f"{meta['duration_s']:.0f} s on {meta['machine']}.",
        "",
        "```",
        text(report),
        "```",
        "",
    ]
    new = before.rstrip("\n") + "\n\n" + "\n".join(body)
    if after:
        new += "\n" + after.lstrip("\n")
    path.write_text(new)


def split_section(markdown: str) -> tuple[str, str, str]:
    """(before, the Chaos section, after) of a markdown file."""
    lines = markdown.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip() == SECTION), None)
    if start is None:
        return markdown, "", ""
    end = next(
        (
            i
            for i in range(start + 1, len(lines))
            if lines[i].startswith("## ") or lines[i].startswith("# ")
        ),
        len(lines),
    )
    return "".join(lines[:start]), "".join(lines[start:end]), "".join(lines[end:])
