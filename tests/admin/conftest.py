"""Admin users of each kind, logged-in clients and a row factory per model."""

import pytest
from django.contrib.auth.models import Group

from config.permissions import ADMINISTRATORS, ANALYSTS, OPERATORS
from tests.factories import UserFactory


@pytest.fixture
def superuser(db):
    return UserFactory(username="boss", is_superuser=True)


@pytest.fixture
def administrator(db):
    return UserFactory(
        username="admin-ann", groups=[Group.objects.get(name=ADMINISTRATORS)]
    )


@pytest.fixture
def operator(db):
    return UserFactory(username="op-otto", groups=[Group.objects.get(name=OPERATORS)])


@pytest.fixture
def analyst(db):
    return UserFactory(username="an-alice", groups=[Group.objects.get(name=ANALYSTS)])


def _client_for(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def administrator_client(client, administrator):
    """A client logged in as a member of Administrators (not a superuser)."""
    return _client_for(client, administrator)


@pytest.fixture
def operator_client(client, operator):
    return _client_for(client, operator)


@pytest.fixture
def analyst_client(client, analyst):
    return _client_for(client, analyst)
