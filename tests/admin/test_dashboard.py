"""The admin index shows the day's numbers, in a constant number of queries."""

import datetime as dt
import re

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from characters.services import character_soft_delete
from tests.factories import (
    CharacterFactory,
    ContentGenerationFactory,
    EngagementActionFactory,
    PlatformAccountFactory,
    PostFactory,
    ScheduledPostFactory,
    SystemLogFactory,
)


def section(html: bytes, section_id: str) -> str:
    text = html.decode()
    start = text.index(f'id="{section_id}"')
    return text[start : text.index("</table>", start)]


def number_after(fragment: str, label: str) -> int:
    match = re.search(
        re.escape(label) + r"</a></th><td class=\"num\">(?:<a[^>]*>)?(\d+)", fragment
    )
    assert match, (label, fragment)
    return int(match.group(1))


def populate(n):
    account = PlatformAccountFactory(platform="instagram")
    PlatformAccountFactory(
        character=account.character,
        platform="twitter",
        is_connected=False,
        connection_status="disconnected",
    )
    for i in range(n):
        ScheduledPostFactory(
            platform_account=account,
            scheduled_at=timezone.now() + dt.timedelta(hours=1 + i % 20),
        )
        ScheduledPostFactory(
            platform_account=account,
            scheduled_at=timezone.now() + dt.timedelta(days=3),
        )
        ScheduledPostFactory(platform_account=account, status="failed")
        ContentGenerationFactory(character=account.character)
        ContentGenerationFactory(character=account.character, status="failed")
        EngagementActionFactory(platform_account=account, status="failed")
        EngagementActionFactory(platform_account=account)
        PostFactory(platform_account=account, status="failed", published_at=None)
        SystemLogFactory(log_level="error")
        SystemLogFactory(log_level="info")
    return account


def test_dashboard_shows_queues_failures_and_accounts(administrator_client):
    populate(3)
    CharacterFactory(status="paused")
    gone = CharacterFactory()
    character_soft_delete(character=gone)

    html = administrator_client.get("/admin/").content

    characters = section(html, "dashboard-characters")
    assert number_after(characters, "Active") == 1
    assert number_after(characters, "Paused") == 1
    assert number_after(characters, "Deleted") == 1
    queues = section(html, "dashboard-queues")
    assert number_after(queues, "Generations pending") == 3
    assert number_after(queues, "Engagement pending") == 3
    scheduled = section(html, "dashboard-scheduled")
    assert re.search(r">3</a>", scheduled)
    assert "when=next24h" in scheduled
    failures = section(html, "dashboard-failures")
    for label in (
        "Scheduled posts failed",
        "Posts failed",
        "Generations failed",
        "Engagement actions failed",
        "Errors logged",
    ):
        assert number_after(failures, label) == 3, label
    accounts = section(html, "dashboard-accounts")
    assert "Instagram" in accounts and "1 / 1" in accounts
    assert "Twitter / X" in accounts and "0 / 1" in accounts


def test_failure_links_open_the_filtered_lists(administrator_client):
    populate(2)
    html = administrator_client.get("/admin/").content.decode()
    links = re.findall(r'href="([^"]+)"', section(html.encode(), "dashboard-failures"))
    assert len(links) == 10
    for link in set(links):
        response = administrator_client.get(link.replace("&amp;", "&"))
        assert response.status_code == 200, link
        # Each list shows exactly the failed rows the dashboard counted.
        assert response.content.count(b'class="action-select"') == 2, link


def test_dashboard_costs_the_same_with_more_rows(administrator_client):
    populate(1)
    administrator_client.get("/admin/")
    with CaptureQueriesContext(connection) as small:
        administrator_client.get("/admin/")
    populate(5)
    with CaptureQueriesContext(connection) as big:
        administrator_client.get("/admin/")
    assert len(big) == len(small) <= 15
