"""The load section's table in BENCHMARKS.md (no Django: the report imports it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

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
        "timeouts, socket errors).",
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
