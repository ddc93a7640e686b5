"""Analysts read, Operators run characters, only Administrators hard-delete."""

import pytest
from django.apps import apps
from django.urls import reverse

from content.models import Content
from tests.admin.builders import BUILDERS
from tests.factories import ContentFactory


def urls_for(label):
    app_label, model_name = label.split(".")
    obj = apps.get_model(label)._base_manager.first()
    return (
        reverse(f"admin:{app_label}_{model_name}_changelist"),
        reverse(f"admin:{app_label}_{model_name}_change", args=[obj.pk]),
        reverse(f"admin:{app_label}_{model_name}_add"),
        reverse(f"admin:{app_label}_{model_name}_delete", args=[obj.pk]),
    )


# Webhooks are Administrators' only (their URLs are credentials):
# tests/admin/test_webhooks_admin.py shows Analysts get a 403 there.
ADMINISTRATORS_ONLY = {"logs.webhook"}


@pytest.mark.parametrize("label", sorted(set(BUILDERS) - ADMINISTRATORS_ONLY))
def test_analyst_can_read_but_not_change_anything(analyst_client, label):
    BUILDERS[label](1)
    changelist, change, add, delete = urls_for(label)

    listing = analyst_client.get(changelist)
    assert listing.status_code == 200
    assert b'name="action"' not in listing.content  # no actions at all
    page = analyst_client.get(change)
    assert page.status_code == 200
    assert b'name="_save"' not in page.content

    assert analyst_client.post(change, {}).status_code == 403
    assert analyst_client.get(add).status_code == 403
    assert analyst_client.post(add, {}).status_code == 403
    assert analyst_client.get(delete).status_code == 403
    assert analyst_client.post(delete, {"post": "yes"}).status_code == 403


def test_analyst_cannot_run_an_action_by_posting_it(analyst_client, character):
    content = ContentFactory(character=character)
    analyst_client.post(
        reverse("admin:content_content_changelist"),
        {"action": "approve", "_selected_action": [str(content.pk)]},
    )
    content.refresh_from_db()
    assert content.approval_status == Content.ApprovalStatus.PENDING


def test_operator_runs_content_but_cannot_delete_characters_or_accounts(
    operator_client, account
):
    content = ContentFactory(character=account.character)
    listing = operator_client.get(reverse("admin:content_content_changelist"))
    assert b'value="approve"' in listing.content
    operator_client.post(
        reverse("admin:content_content_changelist"),
        {"action": "approve", "_selected_action": [str(content.pk)]},
    )
    content.refresh_from_db()
    assert content.is_approved

    for url in (
        reverse("admin:characters_character_delete", args=[account.character_id]),
        reverse("admin:platforms_platformaccount_delete", args=[account.pk]),
        reverse("admin:platforms_platformaccount_add"),
    ):
        assert operator_client.get(url).status_code == 403, url


def test_operator_sees_the_dashboard_and_analysts_too(operator_client, analyst_client):
    for client in (operator_client, analyst_client):
        response = client.get("/admin/")
        assert b'id="dashboard"' in response.content


@pytest.mark.django_db
def test_staff_without_a_group_sees_no_dashboard(client):
    from tests.factories import UserFactory

    client.force_login(UserFactory(username="nobody"))
    response = client.get("/admin/")
    assert response.status_code == 200
    assert b'id="dashboard"' not in response.content
