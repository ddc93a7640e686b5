"""The Content-Security-Policy holds, and the admin and Swagger UI still work under it."""

import pytest

from tests.browser.conftest import shot
from tests.factories import CharacterFactory, ContentFactory

pytestmark = pytest.mark.browser


def _csp_violations(page) -> list[str]:
    found: list[str] = []
    page.on(
        "console",
        lambda msg: (
            found.append(msg.text) if "Content Security Policy" in msg.text else None
        ),
    )
    return found


def test_swagger_ui_renders_under_the_policy(logged_in, live_server):
    page = logged_in
    violations = _csp_violations(page)
    response = page.goto(f"{live_server.url}/api/docs/")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-eval" not in policy
    # the operations come from the schema, fetched and rendered by Swagger's script
    page.wait_for_selector(".opblock-tag", timeout=15_000)
    assert page.locator(".opblock").count() > 10
    page.locator(".opblock-tag").first.click()
    shot(page, "csp-swagger-ui")
    assert violations == []


def test_admin_pages_work_under_the_policy(logged_in, live_server):
    page = logged_in
    violations = _csp_violations(page)
    character = CharacterFactory(name="Csp Check")
    ContentFactory(character=character, content_type="image")
    for url in (
        "/admin/",
        f"/admin/characters/character/{character.pk}/change/",
        "/admin/content/content/",
        "/admin/platforms/scheduledpost/add/",
    ):
        response = page.goto(f"{live_server.url}{url}")
        assert "default-src 'self'" in response.headers["content-security-policy"]
    # the admin's own scripts (select2 autocomplete) run
    page.click("#id_character + .select2-container .select2-selection")
    page.fill(".select2-container--open .select2-search__field", "Csp")
    page.wait_for_selector(".select2-results__option--highlighted")
    assert violations == []


def test_an_inline_script_is_refused(logged_in, live_server):
    """The policy is not decoration: an injected inline script does not run."""
    page = logged_in
    violations = _csp_violations(page)
    page.goto(f"{live_server.url}/admin/")
    page.evaluate(
        """() => { const s = document.createElement('script');
        s.textContent = 'window.__injected = 1'; document.body.appendChild(s); }"""
    )
    assert page.evaluate("() => window.__injected") is None
    assert violations
