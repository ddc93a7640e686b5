"""The admin never reads, links or serves a file outside MEDIA_ROOT."""

import pytest
from django.db import connection
from django.urls import reverse

from content.models import Content
from tests.conftest import SECRET_BYTES
from tests.factories import ContentFactory

pytestmark = pytest.mark.django_db


def _add_content(client, character, path):
    return client.post(
        reverse("admin:content_content_add"),
        {
            "character": str(character.pk),
            "content_type": "image",
            "file_path": path,
            "width": "10",
            "height": "10",
            "generation_settings": "null",
        },
    )


@pytest.mark.parametrize(
    "path", ["../outside/secret.png", "/etc/passwd", "escape.png", "linkdir/x.png"]
)
def test_an_unsafe_file_path_is_a_form_error(
    administrator_client, character, media_root, path
):
    response = _add_content(administrator_client, character, path)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["file_path"]
    assert not Content.objects.exists()


def test_a_safe_file_path_is_saved(administrator_client, character, media_root):
    response = _add_content(administrator_client, character, "ok/real.png")
    assert response.status_code == 302
    assert Content.objects.get().file_path == "ok/real.png"


def _written_by_sql(content, **paths):
    """Plain SQL gets around validation: the pages must still hold."""
    with connection.cursor() as cursor:
        for column, value in paths.items():
            cursor.execute(
                f"UPDATE content SET {column} = %s WHERE id = %s", [value, content.pk]
            )


def test_previews_and_thumbnails_never_link_an_unsafe_stored_path(
    administrator_client, character, media_root
):
    content = ContentFactory(character=character, content_type="image")
    _written_by_sql(
        content, file_path="escape.png", thumbnail_path="linkdir/secret.png"
    )
    change = administrator_client.get(
        reverse("admin:content_content_change", args=[content.pk])
    )
    assert change.status_code == 200
    assert b"/media/escape.png" not in change.content
    assert b"/media/linkdir" not in change.content
    assert b"No preview: The media path leads outside MEDIA_ROOT" in change.content
    listing = administrator_client.get(reverse("admin:content_content_changelist"))
    assert listing.status_code == 200
    assert b"/media/escape.png" not in listing.content
    assert b"/media/linkdir" not in listing.content


def test_a_safe_thumbnail_is_linked_and_served_to_staff(
    administrator_client, character, media_root
):
    content = ContentFactory(
        character=character, content_type="image", file_path="ok/real.png"
    )
    listing = administrator_client.get(reverse("admin:content_content_changelist"))
    assert b'src="/media/ok/real.png"' in listing.content
    served = administrator_client.get("/media/ok/real.png")
    assert served.status_code == 200
    assert b"".join(served.streaming_content) == b"\x89PNG safe image bytes"
    assert "sandbox" in served["Content-Security-Policy"]
    assert content.pk


@pytest.mark.parametrize(
    "url",
    [
        "/media/escape.png",
        "/media/linkdir/secret.png",
        "/media/ok/../../outside/secret.png",
        "/media/%2e%2e/outside/secret.png",
        "/media/ok/missing.png",
    ],
)
def test_the_media_view_serves_nothing_from_outside_the_root(
    administrator_client, media_root, url
):
    response = administrator_client.get(url)
    assert response.status_code == 404
    assert SECRET_BYTES not in response.content


def test_the_media_view_is_for_staff_only(client, media_root):
    response = client.get("/media/ok/real.png")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
