"""`manage.py purge_characters ID [ID ...]`: remove deleted characters for good."""

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from characters.models import Character
from characters.services import character_bulk_purge


class Command(BaseCommand):
    help = (
        "Purge soft-deleted characters for good, with everything of theirs (the "
        "database cascades); audit rows stay. A live character must be deleted "
        "first (admin or API): nothing is purged while one of the ids is not."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("ids", nargs="+", metavar="ID", help="character ids")

    def handle(self, *args: Any, **options: Any) -> None:
        ids = []
        for raw in options["ids"]:
            try:
                ids.append(uuid.UUID(raw))
            except ValueError:
                raise CommandError(f"Not a character id: {raw!r}") from None
        found = dict(
            Character.all_objects.filter(pk__in=ids).values_list("pk", "deleted_at")
        )
        missing = [str(pk) for pk in ids if pk not in found]
        if missing:
            raise CommandError(f"No such character: {', '.join(missing)}")
        live = [str(pk) for pk in ids if found[pk] is None]
        if live:
            raise CommandError(
                f"Not deleted (delete it first, then purge): {', '.join(live)}"
            )
        purged, _ = character_bulk_purge(
            queryset=Character.all_objects.filter(pk__in=ids), actor=None
        )
        self.stdout.write(f"Purged {purged} character(s) for good.")
