"""CSV import and export of content metadata (django-import-export).

Export: one row per item with its file, type, review state and the metadata
staff own. Import, all or none (content.services.content_metadata_import):

- a row with an `id` changes that item's metadata (the columns present:
  content_category, tags, folder_path, is_nsfw, caption, hashtags, prompt,
  negative_prompt); its file and review state stay;
- a row without one adds a file that is already under MEDIA_ROOT (put there
  by a generator or a copy) to a character's library: `character` (name or
  id) and `file_path` (relative to MEDIA_ROOT, checked by content.media_paths;
  its type, size and pixels are read from the file); it awaits approval.

Lists (tags, hashtags) are words separated by commas or spaces; is_nsfw is
true/false (yes/no, 1/0).
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.db import DatabaseError
from django.db.models import Q
from import_export import fields, resources

from characters.models import Character
from config.csv_io import column_uuids, uuid_or_none
from content.models import Content
from content.services import (
    METADATA_FIELDS,
    content_for_file,
    content_metadata_import,
    content_problems,
)

MAX_ROWS = 2000
TRUE = {"1", "true", "yes", "y"}
FALSE = {"0", "false", "no", "n", ""}


def _words(text: str, *, strip_hash: bool = False) -> list[str] | None:
    found: list[str] = []
    for word in re.split(r"[\s,;]+", text or ""):
        word = word.strip().lstrip("#") if strip_hash else word.strip()
        if word and word not in found:
            found.append(word)
    return found or None


class ContentResource(resources.ModelResource):
    # the library's pending rows (filled per row, written by bulk_create)
    create_instances: list[Content]
    update_instances: list[Content]

    id = fields.Field(attribute="id", column_name="id", readonly=True)
    character = fields.Field(column_name="character", readonly=True)
    file_path = fields.Field(
        attribute="file_path", column_name="file_path", readonly=True
    )
    content_type = fields.Field(
        attribute="content_type", column_name="content_type", readonly=True
    )
    approval_status = fields.Field(
        attribute="approval_status", column_name="approval_status", readonly=True
    )
    content_category = fields.Field(
        attribute="content_category", column_name="content_category", readonly=True
    )
    tags = fields.Field(column_name="tags", readonly=True)
    folder_path = fields.Field(
        attribute="folder_path", column_name="folder_path", readonly=True
    )
    is_nsfw = fields.Field(column_name="is_nsfw", readonly=True)
    caption = fields.Field(attribute="caption", column_name="caption", readonly=True)
    hashtags = fields.Field(column_name="hashtags", readonly=True)
    prompt = fields.Field(attribute="prompt", column_name="prompt", readonly=True)
    negative_prompt = fields.Field(
        attribute="negative_prompt", column_name="negative_prompt", readonly=True
    )

    class Meta:
        model = Content
        fields = (
            "id",
            "character",
            "file_path",
            "content_type",
            "approval_status",
            *METADATA_FIELDS,
        )
        import_id_fields: tuple[str, ...] = ()
        # rows are matched to content by before_import's one query, and
        # validated by the content service's rules (no query per CHECK)
        force_init_instance = True
        clean_model_instances = False
        use_bulk = True
        batch_size = None

    # --- export (also the preview's columns) --------------------------------------

    def dehydrate_character(self, content: Content) -> str:
        return content.character.name if content.character_id else ""

    def dehydrate_tags(self, content: Content) -> str:
        return ", ".join(content.tags or [])

    def dehydrate_hashtags(self, content: Content) -> str:
        return " ".join(f"#{t.lstrip('#')}" for t in content.hashtags or [] if t)

    def dehydrate_is_nsfw(self, content: Content) -> str:
        return "true" if content.is_nsfw else "false"

    @staticmethod
    def export_queryset(queryset: Any) -> Any:
        return queryset.select_related("character").defer("generation_settings")

    # --- import -------------------------------------------------------------------

    def before_import(self, dataset: Any, **kwargs: Any) -> None:
        """The items and characters the rows name, read once (two queries)."""
        self.rows_existing: dict[Any, Content] = {}
        self.characters: dict[str, Character] = {}
        self.changed_fields = [
            f for f in METADATA_FIELDS if f in (dataset.headers or [])
        ]
        self.file_problem = ""
        headers = set(dataset.headers or [])
        if len(dataset) > MAX_ROWS:
            self.file_problem = f"Import at most {MAX_ROWS} rows at once."
        elif "id" not in headers and not {"character", "file_path"} <= headers:
            self.file_problem = (
                "The file needs an id column (to change items) or character and "
                "file_path columns (to add files)."
            )
        if self.file_problem:
            raise ValidationError(self.file_problem)
        column = dataset.headers.index
        ids = column_uuids(dataset, "id")
        self.rows_existing = {
            c.pk: c
            # every field: the rules check each of them (a deferred one would
            # be a query per row)
            for c in Content.objects.filter(pk__in=ids).select_related("character")
        }
        names, char_ids = set(), set()
        if "character" in headers:
            for row in dataset:
                value = str(row[column("character")] or "").strip()
                (
                    char_ids.add(uuid_or_none(value))
                    if uuid_or_none(value)
                    else names.add(value)
                )
        for character in Character.objects.filter(
            Q(name__in=names) | Q(pk__in=char_ids)
        ):
            self.characters[character.name] = character
            self.characters[str(character.pk)] = character

    def get_or_init_instance(self, instance_loader: Any, row: dict) -> Any:
        """The item a row names by id, or a new one for its file (a bad id,
        character or file is the row's error)."""
        if self.file_problem:
            raise ValidationError(f"Not read: {self.file_problem}")
        given_id = str(row.get("id") or "").strip()
        if given_id:
            existing = self.rows_existing.get(uuid_or_none(given_id))
            if existing is None:
                raise ValidationError({"id": f"No content {given_id}."})
            path = str(row.get("file_path") or "").strip()
            if path and path != existing.file_path:
                raise ValidationError(
                    {"file_path": "A file cannot be changed by an import."}
                )
            return existing, False
        who = str(row.get("character") or "").strip()
        character = self.characters.get(
            str(uuid_or_none(who)) if uuid_or_none(who) else who
        )
        if character is None:
            raise ValidationError({"character": f"No character '{who}'."})
        path = str(row.get("file_path") or "").strip()
        return content_for_file(character=character, file_path=path), True

    def import_instance(self, instance: Content, row: dict, **kwargs: Any) -> None:
        """The row's metadata on the item; every problem by column."""
        errors: dict[str, list[str]] = {}
        for name in self.changed_fields:
            raw = str(row.get(name) or "").strip()
            if name == "is_nsfw":
                if raw.lower() not in TRUE | FALSE:
                    errors.setdefault(name, []).append(f"'{raw}' is not true or false.")
                    continue
                value: Any = raw.lower() in TRUE
            elif name in ("tags", "hashtags"):
                value = _words(raw, strip_hash=name == "hashtags")
            else:
                value = raw or None
            setattr(instance, name, value)
        if errors:
            raise ValidationError(errors)
        problems = content_problems(instance)
        if problems:
            raise ValidationError(problems)

    def bulk_create(
        self,
        using_transactions: bool,
        dry_run: bool,
        raise_errors: bool,
        batch_size: int | None = None,
        result: Any = None,
    ) -> None:
        """New rows and changes through the content service, all or none."""
        created: list[Content] = list(self.create_instances)
        updated: list[Content] = list(self.update_instances)
        self.create_instances.clear()
        self.update_instances.clear()
        if result is not None and result.has_validation_errors():
            return
        if not (created or updated) or (dry_run and not using_transactions):
            return
        try:
            content_metadata_import(
                created=created,
                updated=updated,
                fields=self.changed_fields,
                actor=getattr(self, "actor", None),
            )
        except (ValidationError, DatabaseError) as exc:
            self.handle_import_error(result, exc, raise_errors)

    def bulk_update(self, *args: Any, **kwargs: Any) -> None:
        """Written with the new rows by bulk_create (one transaction)."""

    def import_data(self, dataset: Any, *args: Any, **kwargs: Any) -> Any:
        self.actor = kwargs.get("user")
        return super().import_data(dataset, *args, **kwargs)
