"""Writes on characters: creation with their 1:1 rows, soft deletion, purge."""

from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from characters.models import Character, CharacterAppearance, CharacterPersonality
from characters.selectors import CharacterId, character_cache_invalidate
from config.edits import save_edit, snapshot
from logs.models import SystemLog
from logs.services import actor_metadata, system_log_write

COMPONENT = "character_service"

# Who did it, for the audit rows (None: the system).
Actor = AbstractBaseUser | AnonymousUser | None


def _invalidate_after_commit(*character_ids: CharacterId) -> None:
    """queryset.update() sends no signal: bust the cached reads here."""
    character_cache_invalidate(*character_ids)
    transaction.on_commit(lambda: character_cache_invalidate(*character_ids))


@transaction.atomic
def character_create(
    *,
    personality: dict[str, Any] | None = None,
    appearance: dict[str, Any] | None = None,
    clean: bool = True,
    **fields: Any,
) -> Character:
    """A character with its personality and appearance (each exactly one).

    `clean=False`: the caller ran full_clean on these values already (the
    API's serializers do, to answer 400 per nested field), so it runs once.
    """
    character = Character(**fields)
    if clean:
        character.full_clean()
    character.save()
    for model, values in (
        (CharacterPersonality, personality),
        (CharacterAppearance, appearance),
    ):
        row = model(character=character, **(values or {}))
        if clean:
            row.full_clean()
        row.save()
    return character


@transaction.atomic
def character_profile_update(
    *,
    character: Character,
    personality: dict[str, Any] | None = None,
    appearance: dict[str, Any] | None = None,
    clean: bool = True,
) -> Character:
    """Change some fields of a character's personality and appearance (a
    nested PATCH of the character); the fields not given keep their values.

    `clean=False`: the caller validated these values against the stored rows
    already (the API's nested serializers).
    """
    for name, values in (("personality", personality), ("appearance", appearance)):
        if not values:
            continue
        row = getattr(character, name)
        before = snapshot(row)
        for key, value in values.items():
            setattr(row, key, value)
        if clean:
            row.full_clean(exclude=["character"])
        # the given fields only: a concurrent edit of other fields stays
        save_edit(row, before)
    return character


def ensure_profile_rows(character: Character) -> None:
    """Create the personality and appearance a character lacks (idempotent)."""
    CharacterPersonality.objects.get_or_create(character=character)
    CharacterAppearance.objects.get_or_create(character=character)


@transaction.atomic
def character_soft_delete(*, character: Character, actor: Actor = None) -> Character:
    """Hide a character (status 'deleted', deleted_at, inactive) and audit it."""
    if character.deleted_at is not None:
        return character
    now = timezone.now()
    Character.all_objects.filter(pk=character.pk).update(
        status=Character.Status.DELETED, is_active=False, deleted_at=now
    )
    character.status = Character.Status.DELETED
    character.is_active = False
    character.deleted_at = now
    _invalidate_after_commit(character.pk)
    system_log_write(
        level=SystemLog.Level.INFO,
        component=COMPONENT,
        message=f"Character deleted: {character.name}",
        character_id=character.pk,
        metadata={"deleted_by": actor_metadata(actor), "soft": True},
    )
    return character


@transaction.atomic
def character_bulk_soft_delete(
    *, queryset: QuerySet[Character], actor: Actor = None
) -> tuple[int, dict[str, int]]:
    """Soft-delete many characters: one UPDATE and one bulk INSERT of audit rows."""
    now = timezone.now()
    rows = list(
        queryset.filter(deleted_at__isnull=True)
        .select_for_update()
        .values_list("pk", "name")
    )
    if not rows:
        return 0, {}
    Character.all_objects.filter(pk__in=[pk for pk, _ in rows]).update(
        status=Character.Status.DELETED, is_active=False, deleted_at=now
    )
    _invalidate_after_commit(*(pk for pk, _ in rows))
    who = actor_metadata(actor)
    SystemLog.objects.bulk_create(
        SystemLog(
            log_level=SystemLog.Level.INFO,
            component=COMPONENT,
            message=f"Character deleted: {name}",
            character_id=pk,
            metadata={"deleted_by": who, "soft": True},
        )
        for pk, name in rows
    )
    return len(rows), {Character._meta.label: len(rows)}


@transaction.atomic
def character_restore(*, character: Character, actor: Actor = None) -> Character:
    """Undo a soft delete."""
    Character.all_objects.filter(pk=character.pk).update(
        status=Character.Status.PAUSED, is_active=True, deleted_at=None
    )
    character.refresh_from_db()
    _invalidate_after_commit(character.pk)
    system_log_write(
        level=SystemLog.Level.INFO,
        component=COMPONENT,
        message=f"Character restored: {character.name}",
        character_id=character.pk,
        metadata={"restored_by": actor_metadata(actor)},
    )
    return character


def _purge(rows: list[tuple[Any, str]], *, actor: Actor) -> int:
    """One audit row per character, then one DELETE of them all.

    PostgreSQL's ON DELETE CASCADE / SET NULL does the rest in the database,
    instead of Django collecting millions of posts and analytics rows in
    Python. The audit rows survive (their character_id becomes NULL) and keep
    the id and name in their metadata.
    """
    if not rows:
        return 0
    who = actor_metadata(actor)
    SystemLog.objects.bulk_create(
        SystemLog(
            log_level=SystemLog.Level.WARNING,
            component=COMPONENT,
            message=f"Character purged: {name}",
            character_id=pk,
            metadata={"purged_by": who, "character_id": str(pk), "name": name},
        )
        for pk, name in rows
    )
    ids = [pk for pk, _ in rows]
    _invalidate_after_commit(*ids)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM characters WHERE id = ANY(%s)", [ids])
        return cursor.rowcount


@transaction.atomic
def character_purge(*, character_id: CharacterId, actor: Actor = None) -> bool:
    """Remove a character and everything of it for good (deleted or not)."""
    rows = list(
        Character.all_objects.filter(pk=character_id)
        .select_for_update()
        .values_list("pk", "name")
    )
    return _purge(rows, actor=actor) == 1


@transaction.atomic
def character_bulk_purge(
    *, queryset: QuerySet[Character], actor: Actor = None
) -> tuple[int, int]:
    """Purge the soft-deleted characters of `queryset` for good; live ones are
    left alone (delete them first: the purge is the second, final step).

    Returns (purged, left alone).
    """
    rows = list(queryset.select_for_update().values_list("pk", "name", "deleted_at"))
    deleted = [(pk, name) for pk, name, deleted_at in rows if deleted_at is not None]
    return _purge(deleted, actor=actor), len(rows) - len(deleted)
