"""VACUUM (ANALYZE) the busy tables; REINDEX CONCURRENTLY on request or where an
index's measured bloat passes a threshold (config/ops/maintenance.py)."""

from django.core.management.base import BaseCommand

from config.ops.maintenance import maintain


class Command(BaseCommand):
    help = (
        "VACUUM (ANALYZE) the busy tables (dead or modified rows over the "
        "thresholds), or --table/--all; --reindex adds REINDEX TABLE CONCURRENTLY; "
        "--reindex-bloated rebuilds the indexes whose estimated bloat passes "
        "--bloat-ratio and --bloat-min-mb."
    )

    def add_arguments(self, parser):
        parser.add_argument("--table", action="append", dest="tables", default=[])
        parser.add_argument("--all", action="store_true", dest="all_tables")
        parser.add_argument("--min-dead", type=int, default=1000)
        parser.add_argument("--min-modified", type=int, default=1000)
        parser.add_argument(
            "--reindex",
            action="store_true",
            help="Also REINDEX TABLE CONCURRENTLY the selected tables.",
        )
        parser.add_argument(
            "--reindex-bloated",
            action="store_true",
            help="REINDEX INDEX CONCURRENTLY every index over the bloat threshold.",
        )
        parser.add_argument("--bloat-ratio", type=float, default=0.3)
        parser.add_argument("--bloat-min-mb", type=float, default=10.0)
        parser.add_argument("--lock-timeout", default="5s")
        parser.add_argument("--database", default="default")

    def handle(self, *args, **options):
        done = maintain(
            alias=options["database"],
            tables=options["tables"],
            all_tables=options["all_tables"],
            min_dead=options["min_dead"],
            min_modified=options["min_modified"],
            reindex=options["reindex"],
            reindex_bloated=options["reindex_bloated"],
            bloat_ratio=options["bloat_ratio"],
            bloat_min_bytes=int(options["bloat_min_mb"] * 1024 * 1024),
            lock_timeout=options["lock_timeout"],
        )
        if not done["vacuumed"]:
            self.stdout.write("No busy table: nothing to vacuum.")
        for table in done["vacuumed"]:
            self.stdout.write(f"VACUUM (ANALYZE) {table}")
        for table in done["reindexed"]:
            self.stdout.write(f"REINDEX TABLE CONCURRENTLY {table}")
        for index in done["reindexed_bloated"]:
            self.stdout.write(
                f"REINDEX INDEX CONCURRENTLY {index['index']} (estimated bloat "
                f"{index['estimated_bloat']:.0%}: {index['bytes_before']} -> "
                f"{index['bytes_after']} bytes)"
            )
