"""An operator's day in the back-office, in a real headless browser."""

import datetime as dt

import pytest
from django.utils import timezone

from characters.models import Character
from content.models import Content
from logs.models import SystemLog
from platforms.models import PlatformAccount, ScheduledPost
from tests.browser.conftest import shot
from tests.factories import (
    AnalyticsFactory,
    CharacterFactory,
    ContentFactory,
    PlatformAccountFactory,
    ScheduledPostFactory,
)

pytestmark = pytest.mark.browser

SECRET = "browser-SECRET-93b1d0"


def pick_autocomplete(page, field: str, term: str) -> None:
    """Choose an option in one of the admin's select2 autocomplete widgets."""
    page.click(f"#id_{field} + .select2-container .select2-selection")
    page.fill(".select2-container--open .select2-search__field", term)
    page.wait_for_selector(".select2-results__option--highlighted")
    page.keyboard.press("Enter")


def set_slider(page, selector: str, value: str) -> None:
    """Move a range input as a person would end up: value set, input event."""
    page.locator(selector).evaluate(
        "(el, v) => { el.value = v; el.dispatchEvent(new Event('input', {bubbles: true})); }",
        value,
    )


def test_dashboard_and_creating_a_character(logged_in, live_server):
    page = logged_in
    assert page.locator("#dashboard-failures").is_visible()
    shot(page, "01-dashboard")

    page.goto(f"{live_server.url}/admin/characters/character/add/")
    page.fill("#id_name", "Mila Sol")
    page.fill("#id_age", "26")
    page.fill("#id_location", "Lisbon")
    page.fill("#id_timezone", "Europe/Lisbon")
    page.fill("#id_interests", "surf,photography")
    page.select_option("#id_personality-0-communication_style", "friendly")
    set_slider(page, "#id_personality-0-extroversion", "0.85")
    # the slider says what its ends mean and shows its value
    slider = page.locator("#id_personality-0-extroversion").locator("xpath=..")
    assert "0 = reserved" in slider.inner_text()
    assert slider.locator("output").inner_text() == "0.85"
    page.fill("#id_personality-0-llm_personality_prompt", "Warm, curious, sunny.")
    page.fill("#id_appearance-0-hair_color", "auburn")
    page.fill("#id_appearance-0-eye_color", "green")
    shot(page, "02-character-add")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")

    character = Character.objects.get(name="Mila Sol")
    assert character.personality.communication_style == "friendly"
    assert str(character.personality.extroversion) == "0.85"
    assert character.appearance.hair_color == "auburn"
    shot(page, "03-character-list")


def test_character_page_shows_its_charts(logged_in, live_server):
    page = logged_in
    character = CharacterFactory(name="Chart Chloe")
    today = timezone.now().date()
    for platform in ("instagram", "twitter"):
        account = PlatformAccountFactory(character=character, platform=platform)
        for day in range(30):
            AnalyticsFactory(
                platform_account=account,
                metric_date=today - dt.timedelta(days=29 - day),
                metric_type="follower_count",
                metric_value=1000 + day * (40 if platform == "instagram" else 15),
            )
            AnalyticsFactory(
                platform_account=account,
                metric_date=today - dt.timedelta(days=29 - day),
                metric_type="engagement_rate",
                metric_value=3 + (day % 7) / 10,
            )
        ScheduledPostFactory(platform_account=account)

    page.goto(f"{live_server.url}/admin/characters/character/{character.pk}/change/")
    charts = page.locator("svg.metric-chart")
    assert charts.count() == 2
    assert page.locator("svg.metric-chart polyline.series").count() == 4
    assert charts.first.is_visible()
    assert page.locator(".chart-legend li", has_text="Twitter / X").first.is_visible()
    page.locator(".character-charts").scroll_into_view_if_needed()
    shot(page, "04-character-change-charts")


def test_adding_an_account_with_credentials_never_shows_them(logged_in, live_server):
    page = logged_in
    CharacterFactory(name="Nora Vale")

    page.goto(f"{live_server.url}/admin/platforms/platformaccount/add/")
    pick_autocomplete(page, "character", "Nora")
    page.select_option("#id_platform", "instagram")
    page.fill("#id_account_username", "nora.vale")
    page.select_option("#id_connection_status", "connected")
    page.check("#id_is_connected")
    page.select_option("#id_auth_type", "oauth")
    page.fill("#id_new_credentials", f'{{"access_token": "{SECRET}"}}')
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")

    account = PlatformAccount.objects.get(account_username="nora.vale")
    assert account.auth_data == {"access_token": SECRET}
    assert SystemLog.objects.filter(component="credentials").count() == 1
    assert SECRET not in page.content()
    assert page.input_value("#id_new_credentials") == ""
    shot(page, "05-account-change")

    page.goto(f"{live_server.url}/admin/platforms/platformaccount/")
    assert SECRET not in page.content()
    shot(page, "06-account-list")


def test_approving_content_and_scheduling_a_post(logged_in, live_server):
    page = logged_in
    character = CharacterFactory(name="Iris Lake")
    PlatformAccountFactory(
        character=character, platform="instagram", account_username="iris.lake"
    )
    content = ContentFactory(character=character, content_type="image")

    page.goto(f"{live_server.url}/admin/content/content/")
    page.check(f"input.action-select[value='{content.pk}']")
    page.select_option("select[name=action]", "approve")
    page.click("button[name=index]")
    page.wait_for_selector(".messagelist .success")
    assert "1 content approved." in page.inner_text(".messagelist")
    content.refresh_from_db()
    assert content.is_approved
    shot(page, "07-content-approved")

    page.goto(f"{live_server.url}/admin/content/content/{content.pk}/change/")
    assert content.prompt in page.inner_text("#content-main")
    assert '"steps": 30' in page.inner_text("#content-main")
    page.fill("#id_tags", "beach,morning")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")
    assert Content.objects.get(pk=content.pk).tags == ["beach", "morning"]
    shot(page, "07b-content-change")

    page.goto(f"{live_server.url}/admin/platforms/scheduledpost/add/")
    # whose post first: then its accounts, its zone and its approved media
    pick_autocomplete(page, "character", "Iris")
    page.click("#choose-character input[type=submit]")
    page.wait_for_selector("#id_platform_account")
    page.select_option("#id_platform_account", label="Instagram @iris.lake")
    when = timezone.now() + dt.timedelta(days=1)
    page.fill("#id_scheduled_at_0", when.strftime("%Y-%m-%d"))
    page.fill("#id_scheduled_at_1", "10:30:00")
    page.click(f".content-picker input[value='{content.pk}'] >> xpath=..")
    page.fill("#id_caption", "Morning light over the lake")
    page.select_option("#id_post_type", "post")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")

    scheduled = ScheduledPost.objects.get(caption="Morning light over the lake")
    assert scheduled.content_id == content.pk
    assert scheduled.status == "scheduled"
    assert Content.objects.get(pk=content.pk).is_approved
    shot(page, "08-scheduled-posts")


def test_scheduling_from_the_character_page_offers_only_its_accounts(
    logged_in, live_server
):
    page = logged_in
    character = CharacterFactory(name="Noor Vale")
    # Telegram takes a caption-only post (Instagram would ask for media)
    mine = PlatformAccountFactory(
        character=character, platform="telegram", account_username="noor.vale"
    )
    PlatformAccountFactory(platform="twitter", account_username="someone.else")
    assert page.locator("#dashboard-engine").is_visible()
    assert "Publish due posts" in page.inner_text("#dashboard-engine")

    page.goto(f"{live_server.url}/admin/characters/character/{character.pk}/change/")
    page.click("text=Schedule one post")
    page.wait_for_selector("#id_platform_account")
    options = page.locator("#id_platform_account option").all_inner_texts()
    assert any("noor.vale" in o for o in options)
    assert not any("someone.else" in o for o in options)
    page.select_option("#id_platform_account", str(mine.pk))
    when = timezone.now() + dt.timedelta(days=2)
    page.fill("#id_scheduled_at_0", when.strftime("%Y-%m-%d"))
    page.fill("#id_scheduled_at_1", "09:00:00")
    page.fill("#id_caption", "Hello from Noor")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")
    scheduled = ScheduledPost.objects.get(caption="Hello from Noor")
    assert (scheduled.character_id, scheduled.platform_account_id) == (
        character.pk,
        mine.pk,
    )
    shot(page, "09-scheduled-from-character")
