"""The OpenAPI schema: valid, served, documented, and honoured by the server."""

import pytest
import schemathesis
from django.contrib.auth.models import Group
from django.core.management import call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.permissions import ADMINISTRATORS
from tests.factories import (
    CharacterFactory,
    ContentFactory,
    ScheduledPostFactory,
    UserFactory,
)
from tests.factories.users import api_token_for


@pytest.mark.django_db
def test_schema_validates_without_warnings(tmp_path):
    call_command(
        "spectacular",
        "--validate",
        "--fail-on-warn",
        "--file",
        str(tmp_path / "schema.yml"),
    )
    text = (tmp_path / "schema.yml").read_text()
    for code in ("'400'", "'401'", "'403'", "'404'", "'409'", "'429'"):
        assert code in text
    assert "/api/v1/scheduled-posts/{id}/publish-now/" in text
    assert "auth_data" in text  # accepted in requests ...


@pytest.mark.django_db
def test_auth_data_is_only_in_request_components(admin_api):
    schema = admin_api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    components = schema["components"]["schemas"]
    assert "auth_data" in components["PlatformAccountRequest"]["properties"]
    assert "auth_data" not in components["PlatformAccount"]["properties"]


@pytest.mark.django_db
def test_schema_and_docs_need_a_login_and_render(client, admin_api):
    assert client.get("/api/schema/").status_code in (401, 403)
    assert admin_api.get("/api/schema/").status_code == 200
    client.force_login(UserFactory())
    response = client.get("/api/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "swagger" in page.lower()
    # served from our own static files: the UI works without the internet
    assert "cdn.jsdelivr" not in page and "unpkg" not in page
    from django.contrib.staticfiles import finders

    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        path = f"drf_spectacular_sidecar/swagger-ui-dist/{asset}"
        assert path in page
        assert finders.find(path), path


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.mark.django_db(transaction=True)
def test_schemathesis_finds_no_5xx_and_no_schema_violation(live_server):
    """A real server on loopback, a real token, a bounded number of examples."""
    user = UserFactory(groups=[Group.objects.get(name=ADMINISTRATORS)])
    token = api_token_for(user)
    headers = {"Authorization": f"Token {token}"}
    for _ in range(3):
        ScheduledPostFactory()
        ContentFactory(character=CharacterFactory())

    schema = schemathesis.openapi.from_url(
        f"{live_server.url}/api/schema/?format=json", headers=headers
    )
    # revoking the test's own token would leave nothing but 401s to check
    operations = [
        op.ok()
        for op in schema.get_all_operations()
        if not op.ok().path.startswith("/api/v1/auth/")
    ]
    strategy = st.one_of(*[op.as_strategy() for op in operations])
    statuses: list[int] = []

    @settings(
        max_examples=1500,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case):
        response = case.call_and_validate(headers=headers, checks=CHECKS)
        statuses.append(response.status_code)

    run()
    # the checks raise on a 5xx or a schema violation; the run did reach the API
    assert len(statuses) > len(operations)
    assert not [s for s in statuses if s >= 500]
    assert any(200 <= s < 300 for s in statuses)
