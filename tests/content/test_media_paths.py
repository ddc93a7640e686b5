"""content.media_paths: what a stored media path may be, and where it resolves."""

import pytest
from django.core.exceptions import ValidationError

from content.media_paths import (
    UnsafeMediaPath,
    media_path_problem,
    resolve_media_path,
    validate_media_path,
)
from tests.conftest import UNSAFE_MEDIA_PATHS


def test_a_relative_path_resolves_inside_the_root(media_root):
    root, _ = media_root
    assert resolve_media_path("ok/real.png") == root.resolve() / "ok" / "real.png"
    # a file that does not exist yet is the reader's problem, not a security one
    assert resolve_media_path("ok/later.png") == root.resolve() / "ok" / "later.png"


@pytest.mark.parametrize("path", UNSAFE_MEDIA_PATHS)
def test_every_way_out_of_the_root_is_refused(media_root, path):
    with pytest.raises(UnsafeMediaPath):
        resolve_media_path(path)
    assert media_path_problem(path)
    with pytest.raises(ValidationError) as caught:
        validate_media_path(path)
    assert caught.value.code == "unsafe_media_path"


def test_the_root_itself_is_not_a_file(media_root):
    with pytest.raises(UnsafeMediaPath):
        resolve_media_path(".")


def test_a_symlink_inside_the_root_to_a_file_inside_is_fine(media_root):
    root, _ = media_root
    (root / "alias.png").symlink_to(root / "ok" / "real.png")
    assert resolve_media_path("alias.png") == root.resolve() / "ok" / "real.png"


def test_a_root_that_is_itself_a_symlink_works(media_root, tmp_path, settings):
    root, _ = media_root
    link = tmp_path / "media-link"
    link.symlink_to(root, target_is_directory=True)
    settings.MEDIA_ROOT = link
    assert resolve_media_path("ok/real.png") == root.resolve() / "ok" / "real.png"
    with pytest.raises(UnsafeMediaPath):
        resolve_media_path("escape.png")


def test_messages_say_what_is_wrong(media_root):
    assert "absolute" in media_path_problem("/etc/passwd")
    assert "'..'" in media_path_problem("../x.png")
    assert "NUL" in media_path_problem("a\x00b")
    assert "outside MEDIA_ROOT" in media_path_problem("escape.png")
