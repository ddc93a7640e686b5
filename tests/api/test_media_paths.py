"""The API refuses every stored media path that would leave MEDIA_ROOT (400 on the field)."""

import pytest

from content.models import Content
from tests import factories as f
from tests.conftest import UNSAFE_MEDIA_PATHS

pytestmark = pytest.mark.django_db


def _content_body(character, **changes):
    return {
        "character": str(character.pk),
        "content_type": "image",
        "file_path": "ok/real.png",
        "width": 10,
        "height": 10,
        **changes,
    }


@pytest.mark.parametrize("path", [*UNSAFE_MEDIA_PATHS, "../../../../../../etc/passwd"])
def test_creating_content_with_an_unsafe_file_path_is_400(
    operator_api, character, media_root, path
):
    response = operator_api.post(
        "/api/v1/content/", _content_body(character, file_path=path), format="json"
    )
    assert response.status_code == 400, response.content
    assert "file_path" in response.json()
    assert not Content.objects.exists()


def test_an_absolute_path_to_the_projects_env_file_is_400(
    operator_api, character, media_root, settings
):
    path = str(settings.BASE_DIR / ".env")
    response = operator_api.post(
        "/api/v1/content/", _content_body(character, file_path=path), format="json"
    )
    assert response.status_code == 400
    assert "absolute" in response.json()["file_path"][0]


def test_a_safe_path_is_accepted(operator_api, character, media_root):
    response = operator_api.post(
        "/api/v1/content/", _content_body(character), format="json"
    )
    assert response.status_code == 201, response.content
    assert Content.objects.get().file_path == "ok/real.png"


def test_a_thumbnail_path_through_a_symlink_is_400(operator_api, character, media_root):
    content = f.ContentFactory(character=character, content_type="image")
    response = operator_api.patch(
        f"/api/v1/content/{content.pk}/",
        {"thumbnail_path": "escape.png"},
        format="json",
    )
    assert response.status_code == 400
    assert "outside MEDIA_ROOT" in response.json()["thumbnail_path"][0]
    content.refresh_from_db()
    assert content.thumbnail_path is None


def test_a_face_reference_path_out_of_the_root_is_400(admin_api, character, media_root):
    response = admin_api.patch(
        f"/api/v1/characters/{character.pk}/",
        {"appearance": {"face_reference_image_path": "linkdir/secret.png"}},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert "face_reference_image_path" in response.json()["appearance"]
