"""Content metadata as CSV through the API: export, changes by id, new rows
for files already under MEDIA_ROOT (checked by content.media_paths, read from
the file), all or none with row errors, constant queries."""

import csv
import io

import pytest

from content.models import Content
from tests.conftest import UNSAFE_MEDIA_PATHS
from tests.factories import CharacterFactory, ContentFactory
from tests.media_files import png_bytes

pytestmark = pytest.mark.django_db
IMPORT = "/api/v1/content/import/"
EXPORT = "/api/v1/content/export/"


def post_csv(client, text, dry_run=False):
    return client.generic(
        "POST",
        IMPORT + ("?dry_run=1" if dry_run else ""),
        text.encode(),
        content_type="text/csv",
    )


def test_the_export_has_the_metadata_columns(operator_api):
    character = CharacterFactory(name="Kai")
    item = ContentFactory(
        character=character,
        content_type="image",
        tags=["beach", "summer"],
        hashtags=["sun"],
        caption="Hi",
    )
    response = operator_api.get(EXPORT, {"character": str(character.pk)})
    assert response.status_code == 200
    [row] = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert row["id"] == str(item.pk)
    assert row["character"] == "Kai"
    assert row["file_path"] == item.file_path
    assert row["tags"] == "beach, summer"
    assert row["hashtags"] == "#sun"
    assert row["is_nsfw"] == "false"


def test_rows_with_an_id_change_that_items_metadata(operator_api):
    a, b = ContentFactory.create_batch(2, content_type="image", tags=["old"])
    text = (
        "id,tags,content_category,caption\n"
        f'{a.pk},"beach, summer",reel,New caption\n'
        f"{b.pk},,story,\n"
    )
    response = post_csv(operator_api, text)
    assert response.status_code == 201, response.content
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.tags == ["beach", "summer"] and a.content_category == "reel"
    assert a.caption == "New caption" and a.caption_status == "pending"
    assert b.tags is None and b.content_category == "story"
    # a column not in the file is left alone
    assert a.prompt and b.prompt


def test_a_file_under_media_root_becomes_new_content_read_from_the_file(
    operator_api, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    (tmp_path / "drop").mkdir()
    (tmp_path / "drop" / "sunset.png").write_bytes(png_bytes(64, 48))
    character = CharacterFactory(name="Mia")
    text = "character,file_path,tags\nMia,drop/sunset.png,sunset\n"

    dry = post_csv(operator_api, text, dry_run=True)
    assert dry.status_code == 200, dry.content
    assert not Content.objects.exists()

    response = post_csv(operator_api, text)
    assert response.status_code == 201, response.content
    item = Content.objects.get()
    assert (item.character_id, item.file_path) == (character.pk, "drop/sunset.png")
    assert (item.content_type, item.width, item.height) == ("image", 64, 48)
    assert item.mime_type == "image/png" and item.approval_status == "pending"
    assert item.tags == ["sunset"]


@pytest.mark.parametrize("path", UNSAFE_MEDIA_PATHS)
def test_a_path_out_of_media_root_is_refused_by_row(operator_api, media_root, path):
    CharacterFactory(name="Mia")
    text = "character,file_path\n" + f'Mia,"{path}"\n'
    response = post_csv(operator_api, text, dry_run=True)
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["row"] == 1 and "file_path" in error["errors"]
    assert not Content.objects.exists()


def test_one_bad_row_imports_nothing(operator_api):
    a, b = ContentFactory.create_batch(2, content_type="image")
    text = f"id,is_nsfw,tags\n{a.pk},false,fine\n{b.pk},perhaps,bad\n"
    response = post_csv(operator_api, text)
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"row": 2, "errors": {"is_nsfw": ["'perhaps' is not true or false."]}}
    ]
    a.refresh_from_db()
    assert a.tags != ["fine"]


def test_nsfw_on_a_minors_content_is_refused(operator_api):
    item = ContentFactory(character=CharacterFactory(age=17), content_type="image")
    response = post_csv(operator_api, f"id,is_nsfw\n{item.pk},true\n", dry_run=True)
    assert response.status_code == 400
    assert "is_nsfw" in response.json()["errors"][0]["errors"]


def test_the_import_costs_the_same_for_2_and_20_rows(
    operator_api, django_assert_num_queries
):
    post_csv(operator_api, "x\n1\n", dry_run=True)  # permissions read, cached

    def update(n):
        rows = ContentFactory.create_batch(n, content_type="image")
        return "id,tags\n" + "".join(f"{r.pk},t{i}\n" for i, r in enumerate(rows))

    # the items (with their characters); one UPDATE; the log row; the
    # library's savepoints and releases (characters: none named, no query);
    # the token: from the process's memory (config.api_gate)
    small, big = update(2), update(20)
    with django_assert_num_queries(13):
        assert post_csv(operator_api, small).status_code == 201
    with django_assert_num_queries(13):
        assert post_csv(operator_api, big).status_code == 201
