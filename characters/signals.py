"""Cache invalidation for character reads (the only signal handlers we keep:
every write path, admin or API or shell, must bust the cache)."""

from django.db import transaction
from django.db.models.signals import post_delete, post_save

from characters.models import Character, CharacterAppearance, CharacterPersonality
from characters.selectors import character_cache_invalidate


def _invalidate(sender, instance, **kwargs):
    character_id = instance.pk if sender is Character else instance.character_id
    # now, and again after commit, so a concurrent reader cannot re-cache the
    # old row between the write and the commit
    character_cache_invalidate(character_id)
    transaction.on_commit(lambda: character_cache_invalidate(character_id))


def connect() -> None:
    for model in (Character, CharacterPersonality, CharacterAppearance):
        post_save.connect(
            _invalidate, sender=model, dispatch_uid=f"cache-{model.__name__}"
        )
        post_delete.connect(
            _invalidate, sender=model, dispatch_uid=f"cache-del-{model.__name__}"
        )
