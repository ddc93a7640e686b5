"""The admin door of the audit trail, and each object's History page."""

import pytest
from django.urls import reverse

from logs.audit import actor_of, door_of
from logs.models import ContentEvent, PlatformAccountEvent
from tests.factories import ContentFactory, PlatformAccountFactory

pytestmark = pytest.mark.django_db
SECRET = "admin-audit-SECRET-7f3"


def test_an_admin_action_is_audited_with_the_staff_user(
    administrator_client, administrator, character
):
    content = ContentFactory(character=character)
    response = administrator_client.post(
        reverse("admin:content_content_changelist"),
        {"action": "approve", "_selected_action": [str(content.pk)]},
    )
    assert response.status_code == 302
    event = ContentEvent.objects.get(pgh_obj_id=content.pk)
    assert door_of(event) == "admin"
    assert actor_of(event) == administrator.username


def test_replacing_credentials_in_the_admin_is_audited_without_the_secret(
    administrator_client, administrator, character
):
    from tests.admin.test_credentials import change_url, form_data

    account = PlatformAccountFactory(character=character, platform="instagram")
    response = administrator_client.post(
        change_url(account),
        form_data(account, new_credentials=f'{{"session": "{SECRET}"}}'),
    )
    assert response.status_code == 302
    event = PlatformAccountEvent.objects.get(
        pgh_obj_id=account.pk, pgh_label="credentials"
    )
    assert event.pgh_context["credential_keys"] == ["session"]
    assert (door_of(event), actor_of(event)) == ("admin", administrator.username)
    assert SECRET not in str(list(PlatformAccountEvent.objects.values()))


def test_the_history_page_shows_the_audit_trail_to_administrators(
    administrator_client, operator, character
):
    from django.test import Client

    from characters.models import Character

    Character.objects.filter(pk=character.pk).update(bio="changed by update()")
    url = reverse("admin:characters_character_history", args=[character.pk])
    page = administrator_client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="audit-trail"' in html
    assert "changed by update()" in html and "<b>bio</b>" in html
    # operators may open History (Django's admin log) but not read the trail
    operator_client = Client()
    operator_client.force_login(operator)
    other = operator_client.get(url)
    assert other.status_code == 200
    assert 'id="audit-trail"' not in other.content.decode()
