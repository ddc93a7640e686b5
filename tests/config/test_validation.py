"""The API's model validation (config/validation.py) answers what Django's
full_clean answers, in fewer queries: the CHECK constraints in one SELECT, no
lookup of a foreign key the edit left alone."""

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from characters.models import Character
from config.validation import validate_constraints
from platforms.models import PlatformAccount, ScheduledPost
from tests.factories import (
    CharacterFactory,
    PlatformAccountFactory,
    ScheduledPostFactory,
)

pytestmark = pytest.mark.django_db


def errors_of(check, *args):
    try:
        check(*args)
    except ValidationError as exc:
        return exc.message_dict
    return {}


BREAKS = [
    (ScheduledPost, "status", "lost"),
    (ScheduledPost, "post_type", "carrier pigeon"),
    (ScheduledPost, "retry_count", -1),
    (ScheduledPost, "max_retries", 11),
    (PlatformAccount, "follower_count", -5),
    (PlatformAccount, "auth_type", "password"),
    (PlatformAccount, "rate_limit_remaining", -1),
    (Character, "age", 151),
    (Character, "status", "sleeping"),
]
FACTORIES = {
    ScheduledPost: ScheduledPostFactory,
    PlatformAccount: PlatformAccountFactory,
    Character: CharacterFactory,
}


@pytest.mark.parametrize("model, field, value", BREAKS)
def test_a_broken_check_gives_djangos_own_message(model, field, value):
    row = FACTORIES[model]()
    assert errors_of(validate_constraints, row) == {}
    setattr(row, field, value)
    ours = errors_of(validate_constraints, row)
    assert ours, f"{field}={value!r} passed"
    assert ours == errors_of(row.validate_constraints)


def test_several_broken_checks_are_all_reported_as_django_reports_them():
    post = ScheduledPostFactory()
    post.status, post.retry_count, post.max_retries = "lost", -1, 11
    ours = errors_of(validate_constraints, post)
    assert len(ours["__all__"]) == 3
    assert ours == errors_of(post.validate_constraints)


def test_null_passes_a_nullable_check_and_an_excluded_field_is_not_checked():
    account = PlatformAccountFactory()
    account.auth_type = None
    assert errors_of(validate_constraints, account) == {}
    account.follower_count = -1
    assert errors_of(validate_constraints, account, {"follower_count"}) == {}
    assert errors_of(account.validate_constraints, {"follower_count"}) == {}


def test_all_the_checks_of_a_row_cost_one_query():
    post = ScheduledPostFactory()
    checks = [
        c for c in post._meta.constraints if type(c).__name__ == "CheckConstraint"
    ]
    assert len(checks) >= 5
    with CaptureQueriesContext(connection) as django_way:
        post.validate_constraints()
    with CaptureQueriesContext(connection) as ours:
        validate_constraints(post)
    check_queries = [q for q in ours if '"check_0"' in q["sql"]]
    assert len(check_queries) == 1
    assert len(ours) <= len(django_way) - len(checks) + 1
