"""The admin never reads, links or serves a file outside MEDIA_ROOT."""

import pytest
from django.db import connection
from django.urls import reverse

from content.models import Content
from tests.conftest import SECRET_BYTES
from tests.factories import ContentFactory

pytestmark = pytest.mark.django_db


def _add_content(client, character, path):
    """An add form posted with a typed file path and no upload."""
    return client.post(
        reverse("admin:content_content_add"),
        {
            "character": str(character.pk),
            "content_type": "image",
            "file_path": path,
            "width": "10",
            "height": "10",
        },
    )


@pytest.mark.parametrize(
    "path", ["../outside/secret.png", "/etc/passwd", "escape.png", "ok/real.png"]
)
def test_the_add_form_takes_a_file_never_a_typed_path(
    administrator_client, character, media_root, path
):
    """Content enters the admin as an upload stored under MEDIA_ROOT by the
    library: a typed path is ignored, the missing file is the form's error."""
    response = _add_content(administrator_client, character, path)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["upload"]
    assert "file_path" not in response.context["adminform"].form.fields
    assert not Content.objects.exists()


def test_the_change_form_keeps_the_stored_path(
    administrator_client, character, media_root
):
    content = ContentFactory(
        character=character, content_type="image", file_path="ok/real.png"
    )
    url = reverse("admin:content_content_change", args=[content.pk])
    form = administrator_client.get(url).context["adminform"].form
    assert "file_path" not in form.fields  # read-only: shown, never posted
    response = administrator_client.post(
        url,
        {
            "tags": "a",
            "content_category": "",
            "folder_path": "",
            "caption": "",
            "hashtags": "",
            "file_path": "../outside/secret.png",
        },
    )
    assert response.status_code in (200, 302)
    content.refresh_from_db()
    assert content.file_path == "ok/real.png"


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
    # the library's file and thumbnail views resolve the stored paths too
    file_view = administrator_client.get(
        reverse("admin:content_content_file", args=[content.pk])
    )
    assert file_view.status_code == 404
    thumb = administrator_client.get(
        reverse("admin:content_content_thumbnail", args=[content.pk])
    )
    assert thumb.status_code == 302 and "no-preview" in thumb["Location"]
    assert SECRET_BYTES not in file_view.content + thumb.content


def test_a_safe_thumbnail_is_linked_and_served_to_staff(
    administrator_client, character, media_root
):
    content = ContentFactory(
        character=character, content_type="image", file_path="ok/real.png"
    )
    listing = administrator_client.get(reverse("admin:content_content_changelist"))
    thumbnail = reverse("admin:content_content_thumbnail", args=[content.pk])
    assert f'src="{thumbnail}"'.encode() in listing.content
    original = administrator_client.get(
        reverse("admin:content_content_file", args=[content.pk])
    )
    assert b"".join(original.streaming_content) == b"\x89PNG safe image bytes"
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
