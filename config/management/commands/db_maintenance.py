"""VACUUM (ANALYZE) the busy tables; REINDEX CONCURRENTLY on request.

Safe from beat: VACUUM and REINDEX CONCURRENTLY take no lock that blocks reads
or writes, a lock_timeout bounds the wait for the locks they do take, and they
run in autocommit (PostgreSQL refuses both inside a transaction block).
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import connections

BUSY_SQL = """
SELECT relname FROM pg_stat_user_tables
WHERE schemaname = 'public'
  AND (n_dead_tup >= %(dead)s OR n_mod_since_analyze >= %(modified)s)
ORDER BY n_dead_tup + n_mod_since_analyze DESC, relname
"""


def maintain(
    *,
    alias: str = "default",
    tables: list[str] | None = None,
    all_tables: bool = False,
    min_dead: int = 1000,
    min_modified: int = 1000,
    reindex: bool = False,
    lock_timeout: str = "5s",
) -> dict[str, list[str]]:
    connection = connections[alias]
    if connection.in_atomic_block:
        raise CommandError(
            "db_maintenance must run outside a transaction (VACUUM and REINDEX "
            "CONCURRENTLY cannot run inside one)."
        )
    connection.ensure_connection()
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
        )
        existing = [row[0] for row in cursor.fetchall()]
        if tables:
            unknown = sorted(set(tables) - set(existing))
            if unknown:
                raise CommandError(
                    f"No such table in schema public: {', '.join(unknown)}"
                )
            selected = list(dict.fromkeys(tables))
        elif all_tables:
            selected = existing
        else:
            cursor.execute(BUSY_SQL, {"dead": min_dead, "modified": min_modified})
            selected = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT set_config('lock_timeout', %s, false)", [lock_timeout])
        vacuumed, reindexed = [], []
        for table in selected:
            cursor.execute(f"VACUUM (ANALYZE) public.{quote(table)}")
            vacuumed.append(table)
            if reindex:
                cursor.execute(f"REINDEX TABLE CONCURRENTLY public.{quote(table)}")
                reindexed.append(table)
        cursor.execute("RESET lock_timeout")
    return {"vacuumed": vacuumed, "reindexed": reindexed}


class Command(BaseCommand):
    help = (
        "VACUUM (ANALYZE) the busy tables (dead or modified rows over the "
        "thresholds), or --table/--all; --reindex adds REINDEX TABLE CONCURRENTLY."
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
            lock_timeout=options["lock_timeout"],
        )
        if not done["vacuumed"]:
            self.stdout.write("No busy table: nothing to vacuum.")
        for table in done["vacuumed"]:
            self.stdout.write(f"VACUUM (ANALYZE) {table}")
        for table in done["reindexed"]:
            self.stdout.write(f"REINDEX TABLE CONCURRENTLY {table}")
