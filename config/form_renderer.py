"""The form renderer (FORM_RENDERER): Django's own, with its commonest widget
templates written in Python.

Every widget renders a template, and every <input> two (input.html includes
attrs.html), every <option> of a select two more: the character page renders
about 200 widget templates, a third of its CPU. The templates below are
Django's stock ones, read from django/forms/templates; this renderer prints the
same bytes for them (tests/config/test_form_renderer.py renders both for each
widget, with and without values, attributes, option groups and selections)
and renders every other template, and any template an installed app or a
widget names differently, the usual way.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import django.forms
from django.forms.renderers import DjangoTemplates
from django.template.base import render_value_in_context
from django.template.context import Context
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString

# render_value_in_context reads autoescape, use_l10n and use_tz from this: a
# form template's context has the defaults (the renderer builds it from a dict)
_CONTEXT = Context()

_INPUTS = frozenset(
    f"django/forms/widgets/{name}.html"
    for name in ("input", "text", "number", "hidden", "checkbox", "email", "url")
    + ("password", "date", "datetime", "time", "search", "tel", "color")
)
_OPTION = "django/forms/widgets/select_option.html"
# Written in config/templatetags/admin_fieldset.py (a label, an empty error
# list) and included by the widget templates above (attrs.html).
ALSO_WRITTEN_ELSEWHERE = (
    "django/forms/widgets/attrs.html",
    "django/forms/label.html",
    "django/forms/attrs.html",
    "django/forms/errors/list/ul.html",
)
_STOCK_DIR = str(Path(django.forms.__file__).parent / "templates")


def text(value: Any, context: Context = _CONTEXT) -> str:
    """`{{ value }}`: render_value_in_context, without its lazy-string, time
    zone and number checks for the plain and safe strings most values are."""
    kind = type(value)
    if kind is SafeString:
        return value
    if kind is str and context.autoescape:
        return html.escape(value)
    return render_value_in_context(value, context)


def _string(value: Any) -> str:
    """`{{ value|stringformat:'s' }}`."""
    if isinstance(value, tuple):
        value = str(value)
    if hasattr(value, "__html__"):
        return conditional_escape(value)
    # conditional_escape of a str, which is escape(): without keep_lazy's look
    # for lazy arguments on every call (a value formatted with %s is a str)
    return SafeString(html.escape("%s" % (value,)))  # noqa: UP031 (the filter's)


def attrs_html(attrs: Mapping[str, Any]) -> str:
    """django/forms/widgets/attrs.html (django/forms/attrs.html is the same
    loop over a label's attributes)."""
    out = []
    for name, value in attrs.items():
        if value is not False:
            out.append(" " + text(name))
            if value is not True:
                out.append('="' + _string(value) + '"')
    return "".join(out)


def _input(widget: Mapping[str, Any]) -> str:
    """input.html (and each template that only includes it)."""
    value = widget["value"]
    return (
        f'<input type="{text(widget["type"])}" '
        f'name="{text(widget["name"])}"'
        + (f' value="{_string(value)}"' if value is not None else "")
        + attrs_html(widget["attrs"])
        + ">"
    )


def _textarea(widget: Mapping[str, Any]) -> str:
    value = widget["value"]
    return (
        f'<textarea name="{text(widget["name"])}"'
        + attrs_html(widget["attrs"])
        + ">\n"
        + (text(value) if value else "")
        + "</textarea>"
    )


def _option(option: Mapping[str, Any]) -> str:
    return (
        f'<option value="{_string(option["value"])}"'
        + attrs_html(option["attrs"])
        + f">{text(option['label'])}</option>"
    )


def _select(widget: Mapping[str, Any]) -> str | None:
    out = [
        f'<select name="{text(widget["name"])}"',
        attrs_html(widget["attrs"]),
        ">",
    ]
    for group_name, group_choices, _index in widget["optgroups"]:
        if group_name:
            out.append(f'\n  <optgroup label="{text(group_name)}">')
        for option in group_choices:
            if option.get("template_name") != _OPTION:
                return None  # an option of its own: the template's way
            out += ["\n  ", _option(option), "\n"]
        if group_name:
            out.append("\n  </optgroup>")
    out.append("\n</select>")
    return "".join(out)


# A form's template (Form.template_name, the renderer's form_template_name)
_FORM_DIV = "django/forms/div.html"


def _hidden_only_form(context: Mapping[str, Any]) -> str | None:
    """django/forms/div.html for a form without errors whose fields are all
    hidden (each inline formset's management form): its hidden fields one
    after another, all the template prints then; None otherwise."""
    if "hidden_fields" not in context or context["fields"] or context["errors"]:
        return None
    return "".join(text(field) for field in context["hidden_fields"])


def _of_widget(
    write: Callable[[Mapping[str, Any]], str | None],
) -> Callable[[Mapping[str, Any]], str | None]:
    """A widget template's writer, given the template's context."""
    return lambda context: write(context["widget"]) if "widget" in context else None


# Each template written in Python, given its context: the HTML, or None for
# a context it does not cover (then the template renders it)
_FAST: dict[str, Callable[[Mapping[str, Any]], str | None]] = {
    **dict.fromkeys(_INPUTS, _of_widget(_input)),
    "django/forms/widgets/textarea.html": _of_widget(_textarea),
    "django/forms/widgets/select.html": _of_widget(_select),
    _OPTION: _of_widget(_option),
    _FORM_DIV: _hidden_only_form,
}


class FastWidgetRenderer(DjangoTemplates):
    """DjangoTemplates, printing Django's stock widget templates in Python."""

    _stock: bool | None = None

    def is_stock(self) -> bool:
        """Each template written in Python (here and in the admin's fieldsets)
        is Django's own file: no installed app overrides one of them."""
        if self._stock is None:
            self._stock = all(
                self.get_template(name).origin.name.startswith(_STOCK_DIR)
                for name in (*_FAST, *ALSO_WRITTEN_ELSEWHERE)
            )
        return self._stock

    def render(self, template_name, context, request=None):
        fast = _FAST.get(template_name)
        if fast is not None and request is None and self.is_stock():
            html = fast(context)
            if html is not None:
                # Django's renderer strips what its template printed
                return html
        return super().render(template_name, context, request)
