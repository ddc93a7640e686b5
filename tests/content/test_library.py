"""The media library: uploads read from the file itself, thumbnails made once,
a grid per character at a constant cost, review from the preview, and files
served only from inside MEDIA_ROOT."""

import os
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from content import media
from content.models import Content
from content.services import content_thumbnail_ensure, content_upload
from logs.models import SystemLog
from tests.factories import CharacterFactory, ContentFactory
from tests.media_files import jpeg_bytes, mp3_bytes, mp4_bytes, png_bytes, upload


def library(character) -> str:
    return reverse("admin:content_content_library", args=[character.pk])


def files_of(character) -> list[Path]:
    root = Path(settings.MEDIA_ROOT) / "library" / str(character.pk)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def thumbs_of(character) -> list[Path]:
    root = Path(settings.MEDIA_ROOT) / "thumbs" / str(character.pk)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_an_image_video_audio_and_text_are_read_from_their_bytes(character, tmp_path):
    result = content_upload(
        character_id=character.pk,
        files=[
            upload("Beach Sunset.PNG", png_bytes(640, 480), "image/png"),
            upload("clip.mp4", mp4_bytes(tmp_path, seconds=2), "video/mp4"),
            upload("tone.mp3", mp3_bytes(tmp_path, seconds=3), "audio/mpeg"),
            upload("caption.txt", "Grüße aus Lissabon".encode(), "text/plain"),
        ],
    )
    assert result.errors == []
    rows = {c.content_type: c for c in Content.objects.filter(character=character)}
    image, video, audio, text = (rows[k] for k in ("image", "video", "audio", "text"))
    assert (image.width, image.height, image.mime_type) == (640, 480, "image/png")
    assert image.file_path.startswith(f"library/{character.pk}/")
    assert image.file_path.endswith("-beach-sunset.png")
    assert (video.width, video.height, video.duration) == (320, 240, 2)
    assert video.mime_type == "video/mp4"
    assert (audio.duration, audio.mime_type, audio.width) == (3, "audio/mpeg", None)
    assert text.mime_type == "text/plain"
    assert all(c.approval_status == "pending" for c in rows.values())
    assert all(
        c.file_size == (Path(settings.MEDIA_ROOT) / c.file_path).stat().st_size
        for c in rows.values()
    )
    # thumbnails for what has a picture, made at upload
    assert image.thumbnail_path and video.thumbnail_path
    assert audio.thumbnail_path is None and text.thumbnail_path is None
    assert len(thumbs_of(character)) == 2
    assert SystemLog.objects.filter(message__contains="4 file(s) uploaded").exists()


@pytest.mark.parametrize(
    ("name", "data", "why"),
    [
        ("setup.exe", b"MZ\x90\x00 program", "not taken"),
        ("photo.png", b"MZ\x90\x00 a program renamed", "not an image, video, audio"),
        ("empty.png", b"", "empty"),
        ("broken.jpg", jpeg_bytes()[:200], "not an image, video, audio"),
    ],
)
def test_a_bad_file_is_refused_with_its_reason_and_leaves_nothing(
    character, name, data, why
):
    result = content_upload(character_id=character.pk, files=[upload(name, data)])
    assert len(result.errors) == 1 and why in result.errors[0][1]
    assert not Content.objects.exists()
    assert files_of(character) == [] and thumbs_of(character) == []


def test_a_file_over_the_size_limit_is_refused(character, settings):
    settings.MEDIA_UPLOAD_MAX_BYTES = 1000
    result = content_upload(
        character_id=character.pk, files=[upload("big.png", png_bytes(400, 400))]
    )
    assert "up to" in result.errors[0][1]
    assert not Content.objects.exists() and files_of(character) == []


def test_good_files_are_kept_when_one_of_them_is_bad(character):
    result = content_upload(
        character_id=character.pk,
        files=[upload("a.png", png_bytes()), upload("b.gif", b"GIF89a not really")],
    )
    assert [name for name, _ in result.errors] == ["b.gif"]
    assert Content.objects.count() == 1 and len(files_of(character)) == 1


def test_a_failed_insert_removes_the_files_it_wrote(character, monkeypatch):
    def refuse(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(Content.objects, "bulk_create", refuse)
    with pytest.raises(RuntimeError):
        content_upload(character_id=character.pk, files=[upload("a.png", png_bytes())])
    assert files_of(character) == [] and thumbs_of(character) == []


def test_the_grid_uploads_several_files_and_reports_a_bad_one(
    administrator_client, character
):
    response = administrator_client.post(
        library(character),
        {
            "uploads": [
                upload("one.png", png_bytes()),
                upload("two.jpg", jpeg_bytes()),
                upload("three.png", b"not an image at all, just text\x00\x01"),
            ]
        },
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "three.png:" in html and "2 file(s) were added" in html
    assert Content.objects.filter(character=character).count() == 2


def test_an_upload_of_good_files_redirects_with_a_message(
    administrator_client, character
):
    response = administrator_client.post(
        library(character), {"uploads": [upload("one.png", png_bytes())]}, follow=True
    )
    assert b"1 file(s) added" in response.content
    assert response.redirect_chain[-1][0].endswith("?status=pending")


def test_the_grid_costs_the_same_with_3_or_30_items(
    administrator_client, django_assert_num_queries
):
    small, big = CharacterFactory(), CharacterFactory()
    ContentFactory.create_batch(3, character=small, content_type="image")
    ContentFactory.create_batch(30, character=big, content_type="image")
    administrator_client.get(library(small))  # warm the session and caches

    # session, user, character, the page of items, the counts
    with django_assert_num_queries(5):
        assert administrator_client.get(library(small)).status_code == 200
    with django_assert_num_queries(5):
        page = administrator_client.get(library(big))
    assert page.content.count(b'class="library-tile') == 30


def test_the_grid_filters_by_status_and_type(administrator_client, character):
    ContentFactory(character=character, content_type="image", approved=True)
    ContentFactory(character=character, content_type="video")
    page = administrator_client.get(library(character) + "?status=approved")
    assert page.content.count(b'class="library-tile') == 1
    page = administrator_client.get(library(character) + "?type=video")
    assert page.content.count(b'data-type="video"') == 1


def test_approve_and_reject_from_the_preview(administrator_client, character):
    first, second = ContentFactory.create_batch(2, character=character)
    review = reverse("admin:content_content_library_review", args=[character.pk])
    administrator_client.post(review, {"content": first.pk, "decision": "approve"})
    no_reason = administrator_client.post(
        review, {"content": second.pk, "decision": "reject", "reason": " "}, follow=True
    )
    assert b"A rejection needs a reason" in no_reason.content
    administrator_client.post(
        review, {"content": second.pk, "decision": "reject", "reason": "blurry face"}
    )
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.approval_status == "approved"
    assert (second.approval_status, second.rejection_reason) == (
        "rejected",
        "blurry face",
    )


def test_review_touches_only_the_characters_own_items(administrator_client, character):
    other = ContentFactory()
    review = reverse("admin:content_content_library_review", args=[character.pk])
    administrator_client.post(review, {"content": other.pk, "decision": "approve"})
    other.refresh_from_db()
    assert other.approval_status == "pending"


def test_an_analyst_sees_the_library_but_cannot_upload_or_review(
    analyst_client, character
):
    item = ContentFactory(character=character)
    assert analyst_client.get(library(character)).status_code == 200
    assert analyst_client.post(library(character), {"uploads": []}).status_code == 403
    review = reverse("admin:content_content_library_review", args=[character.pk])
    assert (
        analyst_client.post(
            review, {"content": item.pk, "decision": "approve"}
        ).status_code
        == 403
    )


def test_a_thumbnail_is_made_once_then_read(administrator_client, character):
    item = ContentFactory(character=character, content_type="image", media_file=False)
    path = Path(settings.MEDIA_ROOT) / item.file_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png_bytes(900, 600))
    url = reverse("admin:content_content_thumbnail", args=[item.pk])
    response = administrator_client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    item.refresh_from_db()
    thumb = Path(settings.MEDIA_ROOT) / item.thumbnail_path
    made = thumb.stat().st_mtime_ns
    from PIL import Image

    with Image.open(thumb) as picture:
        assert max(picture.size) <= 320
    administrator_client.get(url)
    assert thumb.stat().st_mtime_ns == made  # not drawn again
    assert content_thumbnail_ensure(item) == item.thumbnail_path


def test_files_outside_media_root_are_never_served(administrator_client, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("outside")
    escape = ContentFactory(
        file_path="../../" + str(secret).lstrip("/"), media_file=False
    )
    link = Path(settings.MEDIA_ROOT) / "library" / "link.png"
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.exists() or link.is_symlink():
        link.unlink()
    os.symlink(secret, link)
    through_link = ContentFactory(file_path="library/link.png", media_file=False)
    for item in (escape, through_link):
        url = reverse("admin:content_content_file", args=[item.pk])
        response = administrator_client.get(url)
        assert response.status_code == 404
    with pytest.raises(media.MediaRejected):
        media.inside_media_root("../outside")


def test_adding_content_in_the_admin_is_an_upload(administrator_client, character):
    response = administrator_client.post(
        reverse("admin:content_content_add"),
        {
            "character": str(character.pk),
            "upload": upload("look.png", png_bytes(300, 200)),
            "tags": "beach,summer",
        },
    )
    assert response.status_code == 302, response.content[-2000:]
    item = Content.objects.get(character=character)
    assert (item.width, item.height, item.content_type) == (300, 200, "image")
    assert item.tags == ["beach", "summer"]


def test_adding_a_bad_file_in_the_admin_is_a_form_error(
    administrator_client, character
):
    response = administrator_client.post(
        reverse("admin:content_content_add"),
        {"character": str(character.pk), "upload": upload("x.png", b"\x00\x01nope")},
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "not an image, video, audio or text file" in errors["upload"][0]
    assert not Content.objects.exists() and files_of(character) == []


def test_an_item_without_a_picture_gets_the_no_preview_tile(administrator_client):
    item = ContentFactory(content_type="image")  # its file is not an image
    response = administrator_client.get(
        reverse("admin:content_content_thumbnail", args=[item.pk])
    )
    assert response.status_code == 302
    assert response["Location"].endswith("config/no-preview.svg")
    item.refresh_from_db()
    assert item.thumbnail_path is None  # nothing stored: tried again next time
