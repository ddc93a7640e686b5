"""The operator's day in a real browser: the calendar (drag to reschedule, a
refused drop), the media library (several files dropped, a rejected one),
the composer's per-platform previews, local time on a Berlin character, and
each item of the broken list."""

import base64
import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from automation.models import AutomationRun
from automation.runs import run_rule
from config import heartbeat
from config.timezones import format_local, localize
from content.models import Content, ContentGeneration
from platforms.models import Post, ScheduledPost
from tests.admin.builders import BUILDERS
from tests.browser.conftest import shot
from tests.browser.test_admin_flows import pick_autocomplete
from tests.factories import (
    AnalyticsFactory,
    AutomationRuleFactory,
    CharacterFactory,
    ContentFactory,
    PlatformAccountFactory,
    PostFactory,
    ScheduledPostFactory,
)
from tests.media_files import jpeg_bytes, png_bytes

pytestmark = pytest.mark.browser
BERLIN = "Europe/Berlin"


def berlin_day(days_ahead: int) -> dt.date:
    later = timezone.now() + dt.timedelta(days=days_ahead)
    return later.astimezone(ZoneInfo(BERLIN)).date()


def drag(page, source, x: float, y: float) -> None:
    """Press near the top of `source`, move in steps (FullCalendar needs a
    real movement), release at (x, y)."""
    box = source.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 4)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 + 5, box["y"] + 12, steps=3)
    page.mouse.move(x, y, steps=15)
    page.mouse.up()


def slot_point(page, day: dt.date, time: str) -> tuple[float, float]:
    column = page.locator(
        f"td.fc-timegrid-col[data-date='{day.isoformat()}']"
    ).bounding_box()
    lane = page.locator(f"td.fc-timegrid-slot-lane[data-time='{time}']").bounding_box()
    return column["x"] + column["width"] / 2, lane["y"] + 3


def show_from(page, time: str) -> None:
    """Scroll so that the week's `time` row is at the top of the window."""
    page.locator(f"td.fc-timegrid-slot-lane[data-time='{time}']").evaluate(
        "el => el.scrollIntoView({block: 'start'})"
    )


def test_calendar_drag_reschedules_and_a_refused_drop_snaps_back(
    logged_in, live_server
):
    page = logged_in
    character = CharacterFactory(name="Berta Berlin", timezone=BERLIN)
    account = PlatformAccountFactory(character=character, platform="telegram")
    day = berlin_day(9)
    # Monday to Sunday: stay inside the week shown (moving one day forward)
    if day.weekday() == 6:
        day -= dt.timedelta(days=1)
    moving = ScheduledPostFactory(
        platform_account=account,
        scheduled_at=localize(dt.datetime.combine(day, dt.time(10)), BERLIN),
        caption="Moves to the next day",
    )
    racing = ScheduledPostFactory(
        platform_account=account,
        scheduled_at=localize(dt.datetime.combine(day, dt.time(16)), BERLIN),
        caption="Publishing meanwhile",
    )
    ScheduledPost.objects.filter(pk=racing.pk).update(timezone=BERLIN)
    page.goto(
        f"{live_server.url}/admin/platforms/scheduledpost/calendar/"
        f"?character={character.pk}&date={day.isoformat()}"
    )
    event = page.locator(f"[data-event-id='scheduled:{moving.pk}']")
    event.wait_for()
    assert "Times are in Europe/Berlin" in page.inner_text("#zone-note")
    assert "10:00" in event.inner_text()
    shot(page, "20-calendar-week")

    show_from(page, "09:00:00")
    x, y = slot_point(page, day + dt.timedelta(days=1), "14:00:00")
    drag(page, event, x, y)
    page.wait_for_selector("#calendar-message.calendar-ok")
    assert "Moved to" in page.inner_text("#calendar-message")
    moving.refresh_from_db()
    assert moving.scheduled_at == localize(
        dt.datetime.combine(day + dt.timedelta(days=1), dt.time(14)), BERLIN
    )
    shot(page, "21-calendar-dragged")

    # meanwhile the worker took the other post: the drop is refused, it snaps back
    ScheduledPost.objects.filter(pk=racing.pk).update(status="processing")
    other = page.locator(f"[data-event-id='scheduled:{racing.pk}']")
    show_from(page, "13:00:00")
    before = other.bounding_box()
    x, y = slot_point(page, day + dt.timedelta(days=1), "18:00:00")
    drag(page, other, x, y)
    page.wait_for_selector("#calendar-message.errornote")
    assert "Not moved: This post is being published" in page.inner_text(
        "#calendar-message"
    )
    page.wait_for_timeout(300)
    after = page.locator(f"[data-event-id='scheduled:{racing.pk}']").bounding_box()
    assert abs(after["x"] - before["x"]) < 2 and abs(after["y"] - before["y"]) < 2
    racing.refresh_from_db()
    assert racing.scheduled_at == localize(
        dt.datetime.combine(day, dt.time(16)), BERLIN
    )
    shot(page, "22-calendar-refused-drop")

    page.click(".fc-dayGridMonth-button")
    page.locator(f"[data-event-id='scheduled:{moving.pk}']").wait_for()
    shot(page, "23-calendar-month")
    page.locator(f"[data-event-id='scheduled:{moving.pk}']").click()
    page.wait_for_url(re.compile(rf".*/scheduledpost/{moving.pk}/change/"))


def drop_files(page, selector: str, files: list[tuple[str, bytes, str]]) -> None:
    """Drop files on an element as a person dragging them from their desktop."""
    payload = [
        {"name": n, "b64": base64.b64encode(d).decode(), "type": t} for n, d, t in files
    ]
    transfer = page.evaluate_handle(
        """(files) => {
            const dt = new DataTransfer();
            for (const f of files) {
                const bytes = Uint8Array.from(atob(f.b64), c => c.charCodeAt(0));
                dt.items.add(new File([bytes], f.name, {type: f.type}));
            }
            return dt;
        }""",
        payload,
    )
    page.dispatch_event(selector, "drop", {"dataTransfer": transfer})


def test_dropping_several_files_into_the_library(logged_in, live_server):
    page = logged_in
    character = CharacterFactory(name="Lena Library")
    url = f"{live_server.url}{reverse('admin:content_content_library', args=[character.pk])}"
    page.goto(url)
    drop_files(
        page,
        "#library-dropzone",
        [
            ("beach.png", png_bytes(640, 480), "image/png"),
            ("city.jpg", jpeg_bytes(), "image/jpeg"),
            ("notes.exe", b"MZ\x90\x00 a program", "application/octet-stream"),
        ],
    )
    page.wait_for_selector("#library-upload-errors")
    errors = page.inner_text("#library-upload-errors")
    assert "2 file(s) were added" in errors and "notes.exe:" in errors
    assert page.locator(".library-tile").count() == 2
    shot(page, "24-library-rejected-file")

    drop_files(
        page, "#library-dropzone", [("portrait.png", png_bytes(300, 400), "image/png")]
    )
    page.wait_for_selector(".messagelist .success")
    assert "1 file(s) added" in page.inner_text(".messagelist")
    assert Content.objects.filter(character=character).count() == 3
    portrait = Content.objects.get(file_path__endswith="-portrait.png")
    assert (portrait.width, portrait.height) == (300, 400)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.library-tile img')].every(i => i.complete && i.naturalWidth > 0)"
    )
    shot(page, "25-library-grid")

    page.click(f".library-tile[data-id='{portrait.pk}'] .library-open")
    page.wait_for_selector("#library-preview[open]")
    page.fill("#library-reason", "The hands look wrong")
    shot(page, "26-library-preview")
    page.click("#library-preview .library-reject button")
    page.wait_for_selector(".messagelist .success")
    portrait.refresh_from_db()
    assert (portrait.approval_status, portrait.rejection_reason) == (
        "rejected",
        "The hands look wrong",
    )
    beach = Content.objects.get(file_path__endswith="-beach.png")
    page.click(f".library-tile[data-id='{beach.pk}'] .library-open")
    page.click("#library-preview .library-approve button")
    page.wait_for_selector(".messagelist .success")
    beach.refresh_from_db()
    assert beach.approval_status == "approved"


def test_the_composer_previews_each_platform(logged_in, live_server):
    page = logged_in
    character = CharacterFactory(name="Carla Compose", timezone=BERLIN)
    for platform in ("instagram", "twitter", "telegram"):
        PlatformAccountFactory(
            character=character, platform=platform, account_username=f"carla.{platform}"
        )
    image = ContentFactory(
        character=character,
        approved=True,
        content_type="image",
        width=1080,
        height=1350,
    )
    ContentFactory(character=character, content_type="image")  # pending: not offered
    page.goto(
        f"{live_server.url}"
        f"{reverse('admin:platforms_scheduledpost_compose', args=[character.pk])}"
    )
    assert page.locator(".content-picker-item").count() == 2  # "no media" + the image
    page.click(f".content-picker input[value='{image.pk}'] >> xpath=..")
    page.fill("#id_caption", "Golden hour " + "and more words " * 20)
    page.fill("#id_hashtags", "sunset travel")
    page.wait_for_selector(".composer-card[data-platform='twitter'].refused")
    x_card = page.inner_text(".composer-card[data-platform='twitter']")
    assert "/ 280 weighted characters" in x_card and "allows 280" in x_card
    insta = page.inner_text(".composer-card[data-platform='instagram']")
    assert "/ 2200 characters" in insta and "2 / 30 hashtags" in insta
    assert page.locator(".composer-card[data-platform='instagram'].ok").count() == 1
    shot(page, "27-composer-previews")

    page.fill("#id_caption", "Golden hour in Lisbon")
    page.wait_for_selector(".composer-card[data-platform='twitter'].ok")
    next_year = timezone.now().year + 1
    page.fill("#id_scheduled_at", f"{next_year}-01-15T19:00")
    page.click("#composer-submit")
    page.wait_for_selector(".messagelist .success")
    assert "3 post(s) scheduled" in page.inner_text(".messagelist")
    assert f"15 Jan {next_year}, 19:00 CET (Europe/Berlin)" in page.inner_text(
        ".messagelist"
    )
    posts = ScheduledPost.objects.filter(character=character)
    assert posts.count() == 3
    assert {p.scheduled_at for p in posts} == {
        localize(dt.datetime(next_year, 1, 15, 19), BERLIN)
    }
    shot(page, "28-composer-scheduled-calendar")


def test_local_time_entry_on_a_berlin_character(logged_in, live_server):
    page = logged_in
    character = CharacterFactory(name="Greta Berlin", timezone=BERLIN)
    PlatformAccountFactory(
        character=character, platform="telegram", account_username="greta"
    )
    year = timezone.now().year + 1
    page.goto(f"{live_server.url}/admin/characters/character/{character.pk}/change/")
    assert "Times on this page are in Europe/Berlin" in page.inner_text("#zone-note")
    page.click("text=Schedule one post")
    page.wait_for_selector("#id_platform_account")
    assert page.input_value("#id_timezone") == BERLIN
    assert "Scheduled at (Europe/Berlin)" in page.inner_text(".field-scheduled_at")
    page.select_option("#id_platform_account", label="Telegram @greta")
    page.fill("#id_scheduled_at_0", f"{year}-12-24")
    page.fill("#id_scheduled_at_1", "19:00:00")
    page.fill("#id_caption", "Frohe Weihnachten")
    shot(page, "29-local-time-entry")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")
    post = ScheduledPost.objects.get(caption="Frohe Weihnachten")
    assert post.scheduled_at == dt.datetime(year, 12, 24, 18, 0, tzinfo=dt.UTC)
    assert f"24 Dec {year}, 19:00 CET" in page.inner_text("#result_list")


def test_the_broken_list_in_a_browser(logged_in, live_server, staff):
    page = logged_in
    missing = []
    page.on(
        "response",
        lambda r: missing.append(r.url) if r.status == 404 else None,
    )
    base = live_server.url

    # 8. a favicon on every page, nothing answering 404; nightly tasks wait
    heartbeat.mark_installed()
    page.goto(f"{base}/admin/")
    assert page.locator("link[rel=icon]").count() == 1
    engine = page.inner_text("#dashboard-engine")
    assert "first run at 03:00 UTC" in engine
    shot(page, "30-dashboard-nightly-waiting")

    # 2. a generation job with the form's defaults
    character = CharacterFactory(name="Fay Fixes", timezone=BERLIN)
    page.goto(f"{base}/admin/content/contentgeneration/add/")
    pick_autocomplete(page, "character", "Fay")
    page.select_option("#id_job_type", "image")
    page.fill("#id_prompt", "a portrait at dusk")
    assert page.input_value("#id_gs_other") == ""  # not "null"
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")
    assert ContentGeneration.objects.get(character=character).generation_settings == {}

    # 3. content is uploaded from Content -> Add
    page.goto(f"{base}/admin/content/content/add/")
    pick_autocomplete(page, "character", "Fay")
    page.set_input_files(
        "#id_upload",
        {"name": "look.png", "mimeType": "image/png", "buffer": png_bytes(200, 100)},
    )
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")
    uploaded = Content.objects.get(character=character)
    assert (uploaded.width, uploaded.height) == (200, 100)

    # 4. "Run now" says what happened, where the operator looks
    rule = AutomationRuleFactory(character=character, name="Fay evening")
    page.goto(f"{base}/admin/automation/automationrule/{rule.pk}/change/")
    page.click("#run-now")
    page.wait_for_selector(".messagelist .success")
    assert "Run queued." in page.inner_text(".messagelist")
    assert "waiting for a worker" in page.inner_text("#rule-runs")
    run = AutomationRun.objects.get(rule=rule)
    run_rule(rule.pk, trigger="manual", run_id=run.pk)  # what the worker does
    page.wait_for_selector("#rule-runs[data-pending='0']", timeout=15_000)
    # the rule's character has no account yet: the run says so
    assert "no connected account with auto-posting on instagram" in page.inner_text(
        "#rule-runs"
    )
    shot(page, "31-rule-run-outcome")

    # 5. a field's error stays above its own field
    page.goto(f"{base}/admin/characters/character/add/")
    page.fill("#id_name", "Err Layout")
    page.fill("#id_age", "-1")
    page.fill("#id_location", "Lisbon")
    page.click("input[name=_save]")
    page.wait_for_selector(".errornote")
    error = page.locator(".field-age ul.errorlist").first.bounding_box()
    label = page.locator("label[for=id_location]").bounding_box()
    overlaps = not (
        error["x"] + error["width"] <= label["x"]
        or label["x"] + label["width"] <= error["x"]
        or error["y"] + error["height"] <= label["y"]
        or label["y"] + label["height"] <= error["y"]
    )
    assert not overlaps, (error, label)
    shot(page, "32-error-layout")

    # 6. the content picker: only the character's publishable items
    account = PlatformAccountFactory(character=character, platform="telegram")
    approved = ContentFactory(character=character, approved=True, content_type="image")
    ContentFactory(approved=True, content_type="image")  # another character's
    page.goto(f"{base}/admin/platforms/scheduledpost/add/?character={character.pk}")
    values = page.locator(".content-picker input").evaluate_all(
        "els => els.map(e => e.value)"
    )
    assert values == ["", str(approved.pk)]
    shot(page, "33-content-picker")

    # 7. a published post is read-only
    post = PostFactory(platform_account=account, status=Post.Status.PUBLISHED)
    page.goto(f"{base}/admin/platforms/post/{post.pk}/change/")
    assert page.locator("textarea[name=caption]").count() == 0
    assert page.locator("select[name=status]").count() == 0

    # 8. counts without decimals, readable times on the character's clock
    AnalyticsFactory(
        platform_account=account, metric_type="follower_count", metric_value="259155.59"
    )
    page.goto(f"{base}/admin/analytics/analytics/")
    assert "259,156" in page.inner_text("#result_list")
    assert "259155.59" not in page.content()
    synced = timezone.now() - dt.timedelta(hours=2)
    type(account).objects.filter(pk=account.pk).update(last_synced_at=synced)
    page.goto(f"{base}/admin/characters/character/{character.pk}/change/")
    assert format_local(synced, BERLIN) in page.inner_text("#content-main")
    assert "+00:00" not in page.inner_text("#content-main").replace("UTC+", "")
    assert missing == [], missing


def test_every_list_fits_1400_pixels(logged_in, live_server):
    page = logged_in
    for build in BUILDERS.values():
        build(3)
    wide = {}
    for name in BUILDERS:
        app, model = name.split(".")
        page.goto(f"{live_server.url}/admin/{app}/{model}/")
        overflow = page.evaluate(
            """() => {
                const table = document.querySelector('#result_list');
                if (!table) return 0;
                return table.scrollWidth - table.parentElement.clientWidth;
            }"""
        )
        page_wide = page.evaluate(
            "() => document.documentElement.scrollWidth - window.innerWidth"
        )
        if overflow > 0 or page_wide > 0:
            wide[name] = (overflow, page_wide)
    page.goto(f"{live_server.url}/admin/platforms/scheduledpost/")
    shot(page, "34-scheduled-posts-list-1400")
    assert wide == {}
