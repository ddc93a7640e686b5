"""The admin's fieldsets are written by config/templatetags/admin_fieldset.py:
the same bytes as Django's own admin/includes/fieldset.html, without its
template machinery per field."""

import pytest
from django.urls import reverse

from tests.admin.stock_admin import CSRF, fast_and_stock, stock_template_first
from tests.admin.test_characters import ADD_URL, add_form
from tests.factories import ContentFactory, PlatformAccountFactory, PostFactory


@pytest.fixture
def stock_fieldset_templates(tmp_path):
    """Settings whose template folders put Django's fieldset.html first."""
    return stock_template_first(tmp_path, "admin/includes/fieldset.html")


def test_the_character_page_is_the_same_html_as_with_djangos_fieldset_template(
    administrator_client, character, stock_fieldset_templates
):
    account = PlatformAccountFactory(character=character)
    ContentFactory(character=character)
    PostFactory(character=character, platform_account=account)
    url = reverse("admin:characters_character_change", args=[character.pk])

    fast, stock = fast_and_stock(
        administrator_client, stock_fieldset_templates, lambda c: c.get(url)
    )

    # fieldsets with and without a name, a description, read-only panels,
    # a checkbox in a line of two, help texts, and the inlines' fieldsets
    for part in (
        b'aria-labelledby="fieldset-0-1-heading"',
        b'<div class="description">',
        b'class="readonly"',
        b"checkbox-row",
        b"_helptext",
        b'id="personality-0-0-heading"',
    ):
        assert part in fast
    assert fast == stock


def test_a_form_with_errors_is_the_same_html_as_with_djangos_fieldset_template(
    administrator_client, stock_fieldset_templates
):
    """Errors on a field alone on its line, on a field in a line of three and
    in an inline."""
    data = add_form(
        name="",
        age="200",
        timezone="Mars/Olympus",
        **{"personality-0-extroversion": "7"},
    )

    fast, stock = fast_and_stock(
        administrator_client, stock_fieldset_templates, lambda c: c.post(ADD_URL, data)
    )

    assert b'<div class="form-row errors field-name">' in fast
    assert b"fieldBox field-age errors" in fast
    assert fast.count(b'class="errorlist"') >= 4
    assert fast == stock


def test_a_collapsed_fieldset_is_the_same_html_as_with_djangos_template(
    administrator_client, character, stock_fieldset_templates
):
    content = ContentFactory(character=character)
    url = reverse("admin:content_content_change", args=[content.pk])

    fast, stock = fast_and_stock(
        administrator_client, stock_fieldset_templates, lambda c: c.get(url)
    )

    assert b"<details><summary>" in fast
    assert fast == stock


def test_the_character_page_renders_no_template_per_label_or_empty_error_list(
    administrator_client, character
):
    """Django renders django/forms/label.html for every field's label and the
    error list's template even when it is empty: about half of the page."""
    response = administrator_client.get(
        reverse("admin:characters_character_change", args=[character.pk])
    )

    names = [t.name for t in response.templates]
    assert "django/forms/label.html" not in names
    # what is left is outside the fieldsets (each inline's formset errors; its
    # management form is printed without django/forms/div.html and its error
    # list, config.form_renderer); Django's fieldset.html rendered one a field
    assert names.count("django/forms/errors/list/ul.html") == 2
    assert "django/forms/div.html" not in names
    assert b'<label class="required" for="id_name">Name:</label>' in response.content


def test_form_templates_an_app_overrides_are_rendered_as_templates(
    administrator_client, character, monkeypatch
):
    """If an installed app shipped its own label or error-list template, the
    fieldsets would render it (and the renderer every widget template)."""
    from django.forms.renderers import get_default_renderer

    url = reverse("admin:characters_character_change", args=[character.pk])
    fast = administrator_client.get(url)
    monkeypatch.setattr(get_default_renderer(), "_stock", False)

    response = administrator_client.get(url)

    names = [t.name for t in response.templates]
    assert "django/forms/label.html" in names
    assert "django/forms/widgets/text.html" in names
    assert CSRF.sub(b"", response.content) == CSRF.sub(b"", fast.content)


def test_hostile_text_on_the_character_page_is_escaped_as_djangos_template_does(
    administrator_client, character, stock_fieldset_templates
):
    hostile = '<script>alert("x")</script> & <b>'
    character.name = hostile
    character.description = hostile
    character.save()
    url = reverse("admin:characters_character_change", args=[character.pk])

    fast, stock = fast_and_stock(
        administrator_client, stock_fieldset_templates, lambda c: c.get(url)
    )

    assert fast == stock
    assert b"<script>alert" not in fast
    assert b"&lt;script&gt;alert" in fast
