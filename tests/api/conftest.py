import pytest
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from config.permissions import ADMINISTRATORS, ANALYSTS, OPERATORS
from tests.factories import UserFactory
from tests.factories.users import api_token_for


def _client_for(group_name):
    user = UserFactory(groups=[Group.objects.get(name=group_name)])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_for(user)}")
    client.user = user
    return client


@pytest.fixture
def admin_api(db):
    return _client_for(ADMINISTRATORS)


@pytest.fixture
def operator_api(db):
    return _client_for(OPERATORS)


@pytest.fixture
def analyst_api(db):
    return _client_for(ANALYSTS)
