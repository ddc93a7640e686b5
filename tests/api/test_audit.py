"""The API door of the audit trail, and the audit trail through the API (Administrators)."""

import pytest

from logs.audit import actor_of, door_of
from logs.models import CharacterEvent, ContentEvent, PlatformAccountEvent
from tests.factories import ContentFactory, PlatformAccountFactory

pytestmark = pytest.mark.django_db
SECRET = "api-audit-SECRET-value"


def test_an_api_edit_is_audited_with_the_token_user(operator_api, character):
    response = operator_api.patch(
        f"/api/v1/characters/{character.pk}/", {"bio": "via api"}, format="json"
    )
    assert response.status_code == 200
    event = CharacterEvent.objects.get(pgh_obj_id=character.pk, pgh_label="update")
    assert door_of(event) == "api"
    assert actor_of(event) == operator_api.user.username
    assert event.pgh_context["user_id"] == operator_api.user.pk
    assert event.pgh_context["request"] == f"PATCH /api/v1/characters/{character.pk}/"


def test_content_approval_through_the_api_is_audited(operator_api, character):
    content = ContentFactory(character=character)
    assert (
        operator_api.post(f"/api/v1/content/{content.pk}/approve/").status_code == 200
    )
    event = ContentEvent.objects.get(pgh_obj_id=content.pk)
    assert (event.pgh_label, event.approval_status) == ("approval", "approved")
    assert actor_of(event) == operator_api.user.username


def test_credentials_are_audited_by_key_name_never_value(admin_api, character):
    account = PlatformAccountFactory(character=character, platform="twitter")
    response = admin_api.patch(
        f"/api/v1/platform-accounts/{account.pk}/",
        {"auth_data": {"access_token": SECRET, "refresh_token": SECRET}},
        format="json",
    )
    assert response.status_code == 200
    event = PlatformAccountEvent.objects.get(
        pgh_obj_id=account.pk, pgh_label="credentials"
    )
    assert event.pgh_context["credential_keys"] == ["access_token", "refresh_token"]
    assert actor_of(event) == admin_api.user.username
    rows = list(PlatformAccountEvent.objects.values())
    assert SECRET not in str(rows)
    assert not any("auth_data" in row for row in rows)


def test_administrators_read_the_audit_trail_through_the_api(
    admin_api, operator_api, character
):
    operator_api.patch(
        f"/api/v1/characters/{character.pk}/", {"bio": "v2"}, format="json"
    )
    response = admin_api.get(
        "/api/v1/audit-events/",
        {"object_type": "characters.character", "object_id": str(character.pk)},
    )
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["label"] for r in results] == ["update", "insert"]
    assert results[0]["door"] == "api"
    assert results[0]["actor"] == operator_api.user.username
    assert results[0]["data"]["bio"] == "v2"
    only_api = admin_api.get(
        "/api/v1/audit-events/", {"object_type": "characters.character", "door": "api"}
    )
    assert [r["label"] for r in only_api.json()["results"]] == ["update"]
    assert (
        operator_api.get(
            "/api/v1/audit-events/", {"object_type": "characters.character"}
        ).status_code
        == 403
    )


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "object_type"),
        ({"object_type": "auth.user"}, "object_type"),
        ({"object_type": "characters.character", "door": "window"}, "door"),
        ({"object_type": "characters.character", "object_id": "x"}, "object_id"),
        ({"object_type": "characters.character", "who": "me"}, "who"),
    ],
)
def test_bad_audit_queries_are_400_naming_the_parameter(admin_api, params, field):
    response = admin_api.get("/api/v1/audit-events/", params)
    assert response.status_code == 400
    assert field in response.json()


def test_the_audit_list_costs_the_same_for_2_or_50_events(
    admin_api, character, django_assert_num_queries
):
    """The page of events: the same count whatever the size (the token and
    its permissions come from the process's memory after the first request,
    config.api_gate)."""
    from characters.models import Character

    url = "/api/v1/audit-events/"
    params = {"object_type": "characters.character", "object_id": str(character.pk)}
    admin_api.get(url, params)  # permissions cached
    Character.objects.filter(pk=character.pk).update(bio="one")
    with django_assert_num_queries(1):
        assert len(admin_api.get(url, params).json()["results"]) == 2
    for n in range(48):
        Character.objects.filter(pk=character.pk).update(bio=f"change {n}")
    with django_assert_num_queries(1):
        assert len(admin_api.get(url, params).json()["results"]) == 50
