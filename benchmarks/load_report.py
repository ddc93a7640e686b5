"""The load section's table in BENCHMARKS.md (no Django: the report imports it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from benchmarks.loadgen import describe_activity

if TYPE_CHECKING:
    from benchmarks.report import Result

DJANGO, REFERENCE = "Django", "FastAPI"
# the targets: API p95 at 32 clients; admin pages p95 at 8 clients;
# a web worker's resident memory at the end of the run
API_P95_MS = 50
ADMIN_P95_MS = 300
WORKER_RSS_MB = 150


def load_table(results: list[Result]) -> list[str]:
    """BENCHMARKS.md's "Load" table: each endpoint and level, both stacks."""
    rows = [r for r in results if r.section == "load"]
    if not rows:
        return []
    runs = {
        (r.extra["endpoint"], r.extra["stack"], r.extra["clients"]): r
        for r in rows
        if r.extra.get("kind") not in ("memory", "conditions")
    }
    order: list[tuple[str, int]] = []
    for r in rows:
        key = (r.extra["endpoint"], r.extra.get("clients", 0))
        if r.extra.get("kind") not in ("memory", "conditions") and key not in order:
            order.append(key)
    lines = [
        "## Load",
        "",
        "Over HTTP on loopback, wrk (one thread) against gunicorn with the "
        "project's config and against the FastAPI + SQLAlchemy 2 reference under "
        "uvicorn (benchmarks/reference), same database, same number of workers. "
        "rps: requests per second; latencies in ms; err: errors (non-2xx/3xx, "
        "timeouts, socket errors). The latencies are wrk's, and wrk corrects "
        "them for coordinated omission: a response slower than twice the mean "
        "interval between a connection's requests adds the samples that "
        "requests sent at that steady rate would have waited (wrk's "
        "stats_correct). So a few stalls of a second make a p95 of hundreds of "
        "milliseconds at 1 client: the p95 is what a steady stream of users "
        "would meet, not the 95th of the requests sent. Both stacks are "
        "measured so.",
        "",
        *[
            f"Conditions: {r.note}."
            for r in rows
            if r.extra.get("kind") == "conditions"
        ],
        "",
        "| endpoint | clients | Django rps | p50 | p95 | p99 | err | FastAPI rps "
        "| p50 | p95 | p99 | err | targets (Django) | verdict |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]

    def cells(r: Result | None) -> str:
        if r is None:
            return "| | | | | "
        return (
            f"| {r.extra['rps']:.0f} | {r.median_ms:.1f} | {r.p95_ms:.1f} | "
            f"{r.extra['p99_ms']:.1f} | {r.extra['errors']} "
        )

    for endpoint, clients in order:
        d = runs.get((endpoint, DJANGO, clients))
        f = runs.get((endpoint, REFERENCE, clients))
        title = (d or f).extra["title"]  # type: ignore[union-attr]
        lines.append(
            f"| {title} | {clients} {cells(d)}{cells(f)}"
            f"| {d.target if d else ''} | {d.note if d else ''} |"
        )
    beside = [
        (r, describe_activity(r.extra["background"]))
        for r in rows
        if r.extra.get("background")
    ]
    if beside:
        seen = [(r, line) for r, line in beside if line]
        lines += [
            "",
            "What ran beside the measured runs (sampled every 0.5 s: in "
            "PostgreSQL a checkpoint writing and autovacuum workers, WAL written "
            "when 1 MB or more; the kernel's page cache waiting for the disk; "
            "web workers started in place of a recycled one): "
            + (
                "none seen."
                if not seen
                else f"seen in {len(seen)} of {len(beside)} runs:"
            ),
        ]
        if seen:
            lines.append("")
            lines += [
                f"- {r.extra['title']} · {r.extra['stack']} · "
                f"{r.extra['clients']} clients: {line}"
                for r, line in seen
            ]
    memory = [r for r in rows if r.extra.get("kind") == "memory"]
    if memory:
        lines += [
            "",
            "| web workers | resident at the end, MB (largest) | peak, MB (largest) "
            "| target | note |",
            "|---|---:|---:|---|---|",
        ]
        for r in memory:
            lines.append(
                f"| {r.extra['stack']} | {r.extra['end_mb']:.0f} | "
                f"{r.extra['peak_mb']:.0f} | {r.target} | {r.note} |"
            )
    return lines
