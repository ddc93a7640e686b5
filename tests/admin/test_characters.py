"""Creating, editing, soft-deleting and restoring characters from the admin."""

import pytest
from django.urls import reverse

from characters.models import Character, CharacterAppearance, CharacterPersonality
from characters.services import character_soft_delete
from logs.models import SystemLog
from tests.factories import CharacterFactory

ADD_URL = reverse("admin:characters_character_add")
LIST_URL = reverse("admin:characters_character_changelist")


def inline_management(prefix, total=1, initial=0):
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "1",
        f"{prefix}-MAX_NUM_FORMS": "1",
    }


def add_form(**overrides):
    data = {
        "name": "Ava Stone",
        "status": "active",
        "is_active": "on",
        "bio": "Travel and coffee.",
        "age": "27",
        "location": "Lisbon",
        "timezone": "Europe/Lisbon",
        "interests": "travel,coffee",
        **inline_management("personality"),
        "personality-0-extroversion": "0.8",
        "personality-0-creativity": "0.6",
        "personality-0-humor": "0.5",
        "personality-0-professionalism": "0.5",
        "personality-0-authenticity": "0.9",
        "personality-0-energy_level": "0.7",
        "personality-0-flirtatiousness_level": "0.0",
        "personality-0-communication_style": "friendly",
        "personality-0-emoji_usage": "moderate",
        "personality-0-temperature": "0.7",
        **inline_management("appearance"),
        "appearance-0-hair_color": "auburn",
        "appearance-0-face_consistency_method": "ip-adapter",
        "appearance-0-face_consistency_weight": "0.7",
        "appearance-0-base_model": "realistic-vision-v6",
    }
    data.update(overrides)
    return data


def test_add_page_shows_one_personality_and_one_appearance_form(administrator_client):
    page = administrator_client.get(ADD_URL).content
    assert b'name="personality-TOTAL_FORMS" value="1"' in page
    assert b'name="appearance-TOTAL_FORMS" value="1"' in page
    assert b'name="personality-1-extroversion"' not in page


def test_creating_a_character_creates_its_personality_and_appearance(
    administrator_client,
):
    response = administrator_client.post(ADD_URL, add_form())

    assert response.status_code == 302, response.content[-3000:]
    character = Character.objects.get(name="Ava Stone")
    assert character.interests == ["travel", "coffee"]
    assert character.personality.communication_style == "friendly"
    assert str(character.personality.extroversion) == "0.80"
    assert character.appearance.hair_color == "auburn"


def test_bad_input_is_a_form_error_not_a_500(administrator_client):
    response = administrator_client.post(
        ADD_URL,
        add_form(
            age="200",
            timezone="Mars/Olympus",
            **{"personality-0-extroversion": "7"},
        ),
    )
    assert response.status_code == 200
    assert b"errornote" in response.content
    assert not Character.objects.filter(name="Ava Stone").exists()
    assert not CharacterPersonality.objects.exists()


def test_status_deleted_is_refused_in_the_form(administrator_client):
    response = administrator_client.post(ADD_URL, add_form(status="deleted"))
    assert response.status_code == 200
    assert b"Use the Delete button" in response.content


def test_a_second_personality_is_refused(administrator_client, character):
    response = administrator_client.post(
        reverse("admin:characters_characterpersonality_add"),
        {
            "character": str(character.pk),
            "extroversion": "0.5",
            "creativity": "0.5",
            "humor": "0.5",
            "professionalism": "0.5",
            "authenticity": "0.5",
            "energy_level": "0.5",
            "flirtatiousness_level": "0",
            "emoji_usage": "moderate",
            "temperature": "0.7",
        },
    )
    assert response.status_code == 200
    assert b"errornote" in response.content
    assert CharacterPersonality.objects.filter(character=character).count() == 1


def test_delete_in_the_admin_is_a_soft_delete_with_the_staff_user(
    administrator_client, character
):
    url = reverse("admin:characters_character_delete", args=[character.pk])
    confirm = administrator_client.get(url)
    assert confirm.status_code == 200

    response = administrator_client.post(url, {"post": "yes"})

    assert response.status_code == 302
    row = Character.all_objects.get(pk=character.pk)
    assert row.status == "deleted" and row.deleted_at and not row.is_active
    assert CharacterAppearance.objects.filter(character_id=character.pk).exists()
    audit = SystemLog.objects.get(character_id=character.pk)
    assert audit.metadata["deleted_by"]["actor"] == "admin-ann"
    assert audit.metadata["soft"] is True


def test_bulk_delete_action_soft_deletes_with_audit_rows(administrator_client):
    a, b, keep = CharacterFactory.create_batch(3)
    response = administrator_client.post(
        LIST_URL,
        {
            "action": "delete_selected",
            "_selected_action": [str(a.pk), str(b.pk)],
            "post": "yes",
        },
    )
    assert response.status_code == 302
    assert set(Character.all_objects.filter(status="deleted")) == {a, b}
    assert Character.objects.get() == keep
    audits = SystemLog.objects.filter(component="character_service")
    assert {x.metadata["deleted_by"]["actor"] for x in audits} == {"admin-ann"}
    assert audits.count() == 2


def test_deleted_characters_are_hidden_unless_asked_for_and_can_be_restored(
    administrator_client,
):
    live = CharacterFactory(name="Live Lena")
    gone = CharacterFactory(name="Gone Gina")
    character_soft_delete(character=gone)

    default = administrator_client.get(LIST_URL).content
    assert b"Live Lena" in default and b"Gone Gina" not in default
    deleted = administrator_client.get(LIST_URL + "?deleted=deleted").content
    assert b"Gone Gina" in deleted and b"Live Lena" not in deleted
    assert (
        administrator_client.get(
            reverse("admin:characters_character_change", args=[gone.pk])
        ).status_code
        == 200
    )

    response = administrator_client.post(
        LIST_URL + "?deleted=deleted",
        {
            "action": "restore_characters",
            "_selected_action": [str(gone.pk), str(live.pk)],
        },
    )
    assert response.status_code == 302
    gone = Character.objects.get(pk=gone.pk)
    assert gone.status == "paused" and gone.is_active and gone.deleted_at is None


@pytest.mark.parametrize("term", ["Lena", "lena", "ENA"])
def test_search_by_name(administrator_client, term):
    CharacterFactory(name="Live Lena")
    CharacterFactory(name="Other Olga")
    page = administrator_client.get(LIST_URL + "?q=" + term).content
    assert b"Live Lena" in page and b"Other Olga" not in page


def test_purge_action_removes_deleted_characters_for_good_after_a_confirmation(
    administrator_client,
):
    gone = CharacterFactory(name="Gone Gina")
    live = CharacterFactory(name="Live Lena")
    character_soft_delete(character=gone)
    picked = {
        "action": "purge_characters",
        "_selected_action": [str(gone.pk), str(live.pk)],
    }

    confirm = administrator_client.post(LIST_URL + "?deleted=all", picked)
    assert confirm.status_code == 200
    assert b"Purge for good" in confirm.content
    unconfirmed = administrator_client.post(
        LIST_URL + "?deleted=all", {**picked, "apply": "1"}
    )
    assert b"This field is required" in unconfirmed.content
    assert Character.all_objects.filter(pk=gone.pk).exists()

    response = administrator_client.post(
        LIST_URL + "?deleted=all", {**picked, "apply": "1", "confirm": "on"}
    )

    assert response.status_code == 302
    assert not Character.all_objects.filter(pk=gone.pk).exists()
    assert Character.objects.get() == live  # a live one is never purged
    audit = SystemLog.objects.get(message="Character purged: Gone Gina")
    assert audit.metadata["purged_by"]["actor"] == "admin-ann"
    assert audit.character_id is None  # the row is gone, the audit stays


def test_operators_have_no_purge_action(operator_client):
    gone = CharacterFactory()
    character_soft_delete(character=gone)
    page = operator_client.get(LIST_URL + "?deleted=deleted").content
    assert b"purge_characters" not in page
    response = operator_client.post(
        LIST_URL + "?deleted=deleted",
        {
            "action": "purge_characters",
            "_selected_action": [str(gone.pk)],
            "apply": "1",
            "confirm": "on",
        },
    )
    assert response.status_code == 302  # back to the list: "no action selected"
    assert Character.all_objects.filter(pk=gone.pk).exists()


def test_change_page_renders_no_blank_copy_of_the_one_personality_and_appearance(
    administrator_client, character
):
    """Both rows exist and max_num is 1: the hidden 'Add another' template of
    each inline (a third of the page's rendering) is left out."""
    page = administrator_client.get(
        reverse("admin:characters_character_change", args=[character.pk])
    ).content
    assert b'name="personality-0-extroversion"' in page
    assert b'name="appearance-0-hair_color"' in page
    assert b"__prefix__" not in page
    assert b'id="personality-empty"' not in page


def test_change_page_offers_the_missing_personality_form(
    administrator_client, character
):
    CharacterPersonality.objects.filter(character=character).delete()
    page = administrator_client.get(
        reverse("admin:characters_character_change", args=[character.pk])
    ).content
    assert b'name="personality-TOTAL_FORMS" value="1"' in page
    assert b'name="personality-INITIAL_FORMS" value="0"' in page
    assert b'name="personality-0-extroversion"' in page
    assert b'name="appearance-INITIAL_FORMS" value="1"' in page
