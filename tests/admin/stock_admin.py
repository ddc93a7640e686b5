"""Pages rendered with Django's own admin templates next to the project's:
the tests of what the project writes in Python instead (same bytes)."""

import re
import shutil
from pathlib import Path

import django.contrib.admin
from django.conf import settings
from django.test import override_settings

ADMIN_TEMPLATES = Path(django.contrib.admin.__file__).parent / "templates"
# the form's CSRF token is masked afresh on every page
CSRF = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]+"')


def stock_template_first(folder: Path, name: str) -> override_settings:
    """Settings whose template folders put Django's own `name` (copied into
    `folder`) before the project's templates."""
    target = folder / name
    target.parent.mkdir(parents=True)
    shutil.copy(ADMIN_TEMPLATES / name, target)
    engine = {
        **settings.TEMPLATES[0],
        "DIRS": [folder, *settings.TEMPLATES[0]["DIRS"]],
    }
    return override_settings(TEMPLATES=[engine])


def fast_and_stock(client, stock_settings, request) -> tuple[bytes, bytes]:
    """`request(client)` with the project's templates, then with the stock
    one; both bodies without their CSRF tokens."""
    fast = request(client)
    with stock_settings:
        stock = request(client)
    assert fast.status_code == stock.status_code == 200, fast.content[:2000]
    return CSRF.sub(b"", fast.content), CSRF.sub(b"", stock.content)
