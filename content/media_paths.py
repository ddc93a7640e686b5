"""Stored media paths: relative to MEDIA_ROOT, and never leaving it.

Every path the project stores for a file (content.file_path,
content.thumbnail_path, an appearance's face reference) is relative to
MEDIA_ROOT. Whoever wrote it (the API, the admin, a generator, plain SQL), a
path is checked twice:

- on write, `validate_media_path` (a model field validator) refuses what can
  never be right: empty, absolute, `..`, a NUL byte, a backslash;
- before any read, `resolve_media_path` repeats those checks and resolves the
  real path (symlinks included) and refuses one that is not inside the real
  MEDIA_ROOT.

A leaf module: Django and the standard library only, so that models, the
admin, the API, the engine and the publisher can all import it.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.core.exceptions import ValidationError

MAX_LENGTH = 1024


class UnsafeMediaPath(ValueError):
    """A stored media path that must not be read. `message` says why."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def media_root() -> Path:
    """MEDIA_ROOT with its own symlinks resolved (the root may be a link)."""
    return Path(settings.MEDIA_ROOT).resolve()


def _lexical_problem(value) -> str | None:
    if not isinstance(value, str) or not value:
        return "A media path cannot be empty."
    if len(value) > MAX_LENGTH:
        return f"A media path has at most {MAX_LENGTH} characters."
    if "\x00" in value:
        return "A media path cannot contain a NUL byte."
    if "\\" in value:
        return "A media path uses forward slashes only."
    if value.startswith("/") or (len(value) > 1 and value[1] == ":"):
        return "A media path is relative to MEDIA_ROOT; absolute paths are refused."
    if value.startswith("~"):
        return "A media path is relative to MEDIA_ROOT; '~' is refused."
    if ".." in PurePosixPath(value).parts:
        return "A media path cannot contain '..'."
    return None


def resolve_media_path(value, *, root: Path | None = None) -> Path:
    """The real path of a stored media path, proven to be inside MEDIA_ROOT.

    Raises UnsafeMediaPath. The file need not exist (a missing file is the
    reader's error, not a security one); a path through a symlink that points
    out of the root is refused whether or not its target exists.
    """
    problem = _lexical_problem(value)
    if problem:
        raise UnsafeMediaPath(problem)
    root = root or media_root()
    real = Path(os.path.realpath(root / value))
    if real == root or not real.is_relative_to(root):
        raise UnsafeMediaPath(
            "The media path leads outside MEDIA_ROOT (through a symbolic link)."
        )
    return real


def validate_media_path(value) -> None:
    """Model/form validator: a clear field error for an unsafe media path."""
    if value in (None, ""):
        return  # blank/null is the field's own business
    try:
        resolve_media_path(value)
    except UnsafeMediaPath as exc:
        raise ValidationError(exc.message, code="unsafe_media_path") from exc


def media_path_problem(value) -> str | None:
    """Why a stored media path must not be read, or None when it is safe."""
    try:
        resolve_media_path(value)
    except UnsafeMediaPath as exc:
        return exc.message
    return None
