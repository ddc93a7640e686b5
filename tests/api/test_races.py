"""An edit racing a delete answers 404 or 409, never 500, and never revives the row."""

import pytest
from django.db import connection

from config.api import FullCleanModelSerializer
from platforms.models import ScheduledPost
from tests.factories import PlatformAccountFactory, ScheduledPostFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def delete_during_validation(monkeypatch):
    """Run `sql` after the view read the row, before the serializer validates:
    what a concurrent request deleting it would do."""

    def arm(sql, params):
        original = FullCleanModelSerializer.validate

        def racing(self, attrs):
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
            return original(self, attrs)

        monkeypatch.setattr(FullCleanModelSerializer, "validate", racing)

    return arm


def test_a_patch_while_its_account_is_deleted_is_404(
    admin_api, delete_during_validation
):
    account = PlatformAccountFactory()
    sp = ScheduledPostFactory(platform_account=account, character=account.character)
    delete_during_validation(
        "DELETE FROM platform_accounts WHERE id = %s", [account.pk]
    )
    response = admin_api.patch(
        f"/api/v1/scheduled-posts/{sp.pk}/", {"caption": "edited"}, format="json"
    )
    # the account's delete cascaded to the post itself
    assert response.status_code == 404, response.content
    assert not ScheduledPost.objects.filter(pk=sp.pk).exists()


def test_a_patch_while_a_related_row_vanishes_is_409_not_500(admin_api, monkeypatch):
    """The model's clean() meets a related row that is gone."""
    from platforms.models import PlatformAccount

    sp = ScheduledPostFactory()

    def gone(self):
        raise PlatformAccount.DoesNotExist

    monkeypatch.setattr(ScheduledPost, "clean", gone)
    response = admin_api.patch(
        f"/api/v1/scheduled-posts/{sp.pk}/", {"caption": "edited"}, format="json"
    )
    assert response.status_code == 409
    assert "deleted meanwhile" in response.json()["detail"]


def test_a_patch_of_a_row_deleted_meanwhile_is_404_and_does_not_revive_it(
    admin_api, delete_during_validation
):
    sp = ScheduledPostFactory()
    delete_during_validation("DELETE FROM scheduled_posts WHERE id = %s", [sp.pk])
    response = admin_api.patch(
        f"/api/v1/scheduled-posts/{sp.pk}/", {"caption": "edited"}, format="json"
    )
    assert response.status_code == 404, response.content
    assert response.json()["detail"] == "This row was deleted meanwhile."
    assert not ScheduledPost.objects.filter(pk=sp.pk).exists()
