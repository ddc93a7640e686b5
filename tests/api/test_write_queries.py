"""A write through the API validates as Django's full_clean does, without
looking up again the rows an edit leaves alone (config/validation.py)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import ScheduledPostFactory

pytestmark = pytest.mark.django_db


def test_a_caption_patch_does_not_look_up_the_rows_it_points_to(admin_api):
    post = ScheduledPostFactory()
    with CaptureQueriesContext(connection) as queries:
        response = admin_api.patch(
            f"/api/v1/scheduled-posts/{post.pk}/", {"caption": "New"}, format="json"
        )
    assert response.status_code == 200, response.content
    lookups = [q["sql"] for q in queries if q["sql"].startswith("SELECT 1 AS")]
    assert lookups == []


def test_a_patch_pointing_to_a_missing_row_is_still_a_400(admin_api):
    post = ScheduledPostFactory()
    response = admin_api.patch(
        f"/api/v1/scheduled-posts/{post.pk}/",
        {"content": "00000000-0000-0000-0000-000000000000"},
        format="json",
    )
    assert response.status_code == 400
    assert "content" in response.json()


def test_a_caption_patch_costs_a_fixed_number_of_queries(admin_api):
    """The token, the user's permissions, the post, its account and content
    (the platform's rules, in one query), the CHECKs at once, the row locked, the UPDATE,
    and the savepoints around them: not one per rule or per foreign key (17
    before: 7 CHECKs and 3 lookups of the rows the post points to)."""
    post = ScheduledPostFactory()
    with CaptureQueriesContext(connection) as queries:
        response = admin_api.patch(
            f"/api/v1/scheduled-posts/{post.pk}/", {"caption": "New"}, format="json"
        )
    assert response.status_code == 200, response.content
    assert len(queries) == 10, "\n".join(q["sql"][:100] for q in queries)
