"""The analytics page in a real browser: Chart.js (from our static files)
draws the three charts, presets and dates change the range, thumbnails load,
and the CSV link downloads what the table shows."""

import csv
import datetime as dt
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.browser.conftest import shot
from tests.factories import (
    AnalyticsFactory,
    CharacterFactory,
    ContentFactory,
    PlatformAccountFactory,
    PostFactory,
)
from tests.media_files import png_bytes

pytestmark = pytest.mark.browser

# A function, not an expression: Playwright evaluates a function's text once,
# while the call from the test is running, and calls it on each poll; an
# expression's text it evaluates again on every poll, which the page's CSP
# (no 'unsafe-eval') refuses whenever the first check is not already true.
# The body is null for a moment between two documents, hence the guard.
CHARTS_DRAWN = "() => document.body?.dataset.chartsDrawn === '3'"


@pytest.fixture
def mia(transactional_db, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    character = CharacterFactory(name="Mia Sol", timezone="Europe/Berlin")
    today = timezone.now().astimezone(dt.UTC).date()
    accounts = [
        PlatformAccountFactory(
            character=character, platform=platform, account_username=f"mia.{platform}"
        )
        for platform in ("instagram", "youtube")
    ]
    for account, base, step in zip(accounts, (12_000, 48_000), (60, -25), strict=True):
        for n in range(120):
            day = today - dt.timedelta(days=119 - n)
            for metric, value in (
                ("follower_count", base + step * n + (n % 7) * 15),
                ("engagement_rate", 2.5 + (n % 10) / 10),
                ("likes_count", 1000 + 40 * n),
                ("comments_count", 100 + 4 * n),
            ):
                AnalyticsFactory(
                    platform_account=account,
                    metric_date=day,
                    metric_type=metric,
                    metric_value=value,
                )
    folder = settings.MEDIA_ROOT / "mia"
    folder.mkdir(parents=True)
    colours = [(220, 90, 60), (60, 140, 220), (90, 190, 90)]
    for n, colour in enumerate(colours):
        (folder / f"look{n}.png").write_bytes(png_bytes(320, 400, colour))
        content = ContentFactory(
            character=character,
            content_type="image",
            file_path=f"mia/look{n}.png",
            thumbnail_path=None,
            width=320,
            height=400,
        )
        PostFactory(
            platform_account=accounts[n % 2],
            content=content,
            caption=f"Look number {n + 1} #sunset",
            published_at=timezone.now() - dt.timedelta(days=n * 4 + 1),
            likes_count=3000 - n * 700,
            comments_count=200,
            shares_count=40,
        )
    return character


def test_the_analytics_page_draws_its_charts_and_exports(logged_in, live_server, mia):
    page = logged_in
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    url = reverse("admin:analytics_analytics_character_overview", args=[mia.pk])

    page.goto(f"{live_server.url}{url}")
    page.wait_for_function(CHARTS_DRAWN)
    assert page.locator("#preset-30.active").count() == 1  # the default range
    with page.expect_navigation():  # a preset is a link to a new page
        page.click("#preset-90")
    page.wait_for_function(CHARTS_DRAWN)
    assert page.locator("#preset-90.active").count() == 1
    # Chart.js drew on the canvases (pixels, not only elements)
    drawn = page.evaluate(
        """() => ["chart-followers", "chart-rate", "chart-interactions"].map(id => {
            const chart = Chart.getChart(id);
            return {
              datasets: chart.data.datasets.map(d => d.label),
              points: chart.data.labels.length,
              yTitle: chart.options.scales.y.title.text,
              xTitle: chart.options.scales.x.title.text,
            };
        })"""
    )
    assert drawn[0]["datasets"] == ["Instagram", "YouTube", "All platforms"]
    assert drawn[0]["points"] == 90
    assert [d["yTitle"] for d in drawn] == [
        "Followers",
        "Engagement rate (%)",
        "Interactions",
    ]
    assert drawn[0]["xTitle"] == "Day (UTC)"
    # the thumbnails of the top posts load (made on first request)
    thumbs = page.locator("#analytics-top-posts td.thumb img")
    assert thumbs.count() == 3
    page.wait_for_function(
        "() => [...document.querySelectorAll('#analytics-top-posts td.thumb img')]"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    growth = page.locator("#analytics-platforms tr[data-platform='instagram'] td")
    assert growth.nth(3).inner_text().startswith("+")
    shot(page, "analytics-character-90-days")

    # a custom range by the date pickers
    start = (
        timezone.now().astimezone(dt.UTC).date() - dt.timedelta(days=13)
    ).isoformat()
    page.fill("#id_start", start)
    # the form's submit loads a new page: wait for it, or the old page's
    # charts (already drawn) would answer the check below
    with page.expect_navigation():
        page.click("#analytics-show")
    page.wait_for_function(CHARTS_DRAWN)
    assert page.evaluate("Chart.getChart('chart-followers').data.labels.length") == 14
    assert "14 days" in page.inner_text("#analytics-note")

    with page.expect_download() as download:
        page.click("#export-platforms")
    rows = list(
        csv.DictReader(io.StringIO(open(download.value.path()).read()))  # noqa: SIM115
    )
    assert [r["platform"] for r in rows] == ["instagram", "youtube", "all"]

    # across characters
    page.goto(f"{live_server.url}{reverse('admin:analytics_analytics_overview')}")
    page.wait_for_function(CHARTS_DRAWN)
    assert "Mia Sol" in page.inner_text("#analytics-top-posts")
    shot(page, "analytics-all-characters")
    assert errors == []


def test_a_bad_date_is_shown_on_the_page(logged_in, live_server, mia):
    page = logged_in
    url = reverse("admin:analytics_analytics_character_overview", args=[mia.pk])
    response = page.goto(f"{live_server.url}{url}?start=2026-03-10&end=2026-03-01")
    assert response.status == 400
    assert "The end date is before the start date." in page.inner_text(
        "#analytics-errors"
    )
