"""Database health report: sizes, index usage, dead tuples, slow statements."""

from django.core.management.base import BaseCommand

from config.ops.report import build_report


def _size(n) -> str:
    n = float(n or 0)
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def _table(headers: list[str], rows: list[list]) -> list[str]:
    cells = [[str("" if v is None else v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells
    ]
    return out


class Command(BaseCommand):
    help = (
        "Table sizes, index sizes and usage (unused first), dead tuples and the "
        "slowest statements (pg_stat_statements). --json for machines."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Output JSON.")
        parser.add_argument("--database", default="default")
        parser.add_argument(
            "--limit", type=int, default=10, help="Slow statements shown."
        )

    def handle(self, *args, json: bool, database: str, limit: int, **options):
        report = build_report(database, limit)
        if json:
            import json as json_module

            self.stdout.write(json_module.dumps(report, indent=2, default=str))
            return
        w = self.stdout.write
        w(f"Database {report['database']}: {_size(report['database_bytes'])}")
        w("")
        w("Tables (largest first)")
        for line in _table(
            ["table", "total", "table", "indexes", "live rows", "dead rows", "dead %"],
            [
                [
                    t["table"],
                    _size(t["total_bytes"]),
                    _size(t["table_bytes"]),
                    _size(t["index_bytes"]),
                    t["live_tuples"],
                    t["dead_tuples"],
                    t["dead_pct"],
                ]
                for t in report["tables"]
            ],
        ):
            w(line)
        w("")
        w("Indexes (unused first)")
        for line in _table(
            ["index", "table", "scans", "size", "unique"],
            [
                [
                    i["index"],
                    i["table"],
                    i["scans"],
                    _size(i["bytes"]),
                    "yes" if i["is_unique"] else "",
                ]
                for i in report["indexes"]
            ],
        ):
            w(line)
        w("")
        w("Dead tuples (most first)")
        for line in _table(
            ["table", "dead rows", "dead %"],
            [
                [d["table"], d["dead_tuples"], d["dead_pct"]]
                for d in report["dead_tuples"]
            ],
        ):
            w(line)
        w("")
        w("Slowest statements (total time)")
        if report["slow_statements_unavailable"]:
            w(report["slow_statements_unavailable"])
        else:
            for line in _table(
                ["total ms", "mean ms", "calls", "rows", "query"],
                [
                    [s["total_ms"], s["mean_ms"], s["calls"], s["rows"], s["query"]]
                    for s in report["slow_statements"]
                ],
            ):
                w(line)
