"""The DRY RUN / LIVE marker in the admin header and on the dashboard says
what PLATFORM_DRY_RUN says (issue 14)."""

import re

import pytest

from tests.conftest import DRY_RUN


def markers(html: bytes) -> dict[str, str]:
    """The site marker in the header, the dashboard's, and each platform's."""
    text = html.decode()
    header = re.search(r'<div id="site-name">(.*?)</div>', text, re.S).group(1)
    start = text.index('id="dashboard-modes"')
    modes = text[start : text.index("</table>", start)]
    badge = r'<span class="platform-mode [^"]*site-mode"[^>]*>([^<]*)</span>'
    (in_header,) = re.findall(badge, header)
    (on_dashboard,) = re.findall(badge, modes)
    platforms = dict(
        re.findall(
            r'<th scope="row">([^<]+)</th><td class="num">'
            r'<span class="platform-mode [^"]*"[^>]*>([^<]*)</span>',
            modes,
        )
    )
    return {"header": in_header, "dashboard": on_dashboard, **platforms}


@pytest.mark.parametrize(
    ("dry_run", "site", "platform"),
    [(False, "LIVE", "Live"), (True, "DRY RUN", "Dry run")],
)
def test_the_header_says_live_or_dry_run(
    administrator_client, settings, dry_run, site, platform
):
    # what config/settings.py derives from PLATFORM_DRY_RUN at start-up
    settings.PLATFORM_DRY_RUN = dry_run
    settings.PLATFORM_ADAPTERS = {
        name: DRY_RUN if dry_run else path
        for name, path in settings.LIVE_PLATFORM_ADAPTERS.items()
    }
    response = administrator_client.get("/admin/")
    assert response.status_code == 200
    shown = markers(response.content)
    assert shown["header"] == shown["dashboard"] == site
    for label in ("Instagram", "Facebook", "Twitter / X", "YouTube", "Telegram"):
        assert shown[label] == platform
    assert shown["OnlyFans"] == "By hand"
