"""Changelist rows are made by config/templatetags/admin_results.py: the same
bytes as Django's own {% result_list %}, with each column worked out once per
page instead of once per cell."""

import pytest
from django.contrib.admin.templatetags import admin_list
from django.urls import reverse

from tests.admin.builders import BUILDERS
from tests.admin.stock_admin import fast_and_stock, stock_template_first


@pytest.fixture
def stock_changelist(tmp_path):
    """Settings whose template folders put Django's change_list.html first
    (it is not the project's, which only replaces the rows' tag)."""
    return stock_template_first(tmp_path, "admin/change_list.html")


@pytest.fixture
def djangos_rows(monkeypatch):
    """How many cells Django's own items_for_result made."""
    calls = []
    original = admin_list.items_for_result

    def counted(cl, result, form):
        calls.append(result)
        return original(cl, result, form)

    monkeypatch.setattr(admin_list, "items_for_result", counted)
    return calls


def _url(label: str, query: str = "") -> str:
    app_label, model_name = label.split(".")
    return reverse(f"admin:{app_label}_{model_name}_changelist") + query


def _both(client, stock_settings, url):
    return fast_and_stock(client, stock_settings, lambda c: c.get(url))


@pytest.mark.parametrize("label", sorted(BUILDERS))
def test_every_changelist_prints_the_same_rows_as_djangos_tag(
    administrator_client, stock_changelist, djangos_rows, label
):
    BUILDERS[label](3)
    url = _url(label)

    fast, stock = _both(administrator_client, stock_changelist, url)

    assert fast == stock
    # the stock page made its rows with Django's function, ours did not
    assert len(djangos_rows) == 3


@pytest.mark.parametrize(
    "query",
    [
        "?_popup=1&_to_field=id",  # the picker's rows carry data-popup-opener
        "?status__exact=published&o=-7",  # sorted and filtered: preserved filters
        "?q=caption",
    ],
)
def test_the_posts_list_with_filters_sorting_and_popups_prints_the_same_rows(
    administrator_client, stock_changelist, query
):
    BUILDERS["platforms.post"](3)

    fast, stock = _both(
        administrator_client, stock_changelist, _url("platforms.post", query)
    )

    assert fast == stock


def test_the_posts_list_makes_no_cell_through_djangos_function(
    administrator_client, djangos_rows
):
    BUILDERS["platforms.post"](5)

    response = administrator_client.get(_url("platforms.post"))

    assert response.status_code == 200
    assert response.content.count(b'<td class="action-checkbox">') == 5
    assert djangos_rows == []


@pytest.mark.parametrize("grouping", [False, True])
def test_integer_columns_print_as_djangos_number_format(
    administrator_client, stock_changelist, settings, grouping
):
    """Likes, comments, shares and views: plain digits, or grouped in
    thousands where the project turns grouping on."""
    from platforms.models import Post

    settings.USE_THOUSAND_SEPARATOR = grouping
    BUILDERS["platforms.post"](2)
    Post.objects.update(likes_count=1234567, views_count=0)

    fast, stock = _both(administrator_client, stock_changelist, _url("platforms.post"))

    assert (b"1,234,567" in fast) is grouping
    assert fast == stock


HOSTILE = '<script>alert("x")</script> & <b>'


def test_hostile_text_in_rows_is_escaped_as_djangos_tag_escapes_it(
    administrator_client, stock_changelist
):
    from tests.factories import CharacterFactory, PlatformAccountFactory, PostFactory

    character = CharacterFactory(name=HOSTILE)
    account = PlatformAccountFactory(character=character)
    PostFactory(character=character, platform_account=account, caption=HOSTILE)
    for label in ("characters.character", "platforms.post"):
        fast, stock = _both(administrator_client, stock_changelist, _url(label))

        assert fast == stock
        assert b"<script>alert" not in fast
        assert b"&lt;script&gt;alert" in fast
