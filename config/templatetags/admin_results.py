"""{% result_list cl %} for the project's changelists (templates/admin/
change_list.html): Django's own tag with each row's cells made by
`items_for_result` below instead of Django's.

Django's items_for_result works out, for every cell of every row, what the
column is (a model field or the admin's method, found by raising and catching
FieldDoesNotExist), its empty value (a lazy translation), its CSS class, whether
it links, and the flattened choices of a choices field (a new dict per cell),
then formats the cell with format_html: a 50-row posts page has 650 cells and
this was about half of its CPU. Here that is worked out once per column and
page; each cell calls Django's own functions for its value and display
(lookup_field, display_for_field, display_for_value), so it prints the same
bytes (tests/admin/test_changelists.py renders both for several lists).
Editable lists (list_editable) keep Django's way.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django import template
from django.conf import settings
from django.contrib.admin.templatetags import admin_list
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.contrib.admin.templatetags.base import InclusionAdminNode
from django.contrib.admin.utils import (  # type: ignore[attr-defined]
    FieldIsAForeignKeyColumnName,
    _get_non_gfk_field,
    display_for_field,
    display_for_value,
    lookup_field,
)
from django.core.exceptions import FieldDoesNotExist, ObjectDoesNotExist
from django.db import models
from django.urls import NoReverseMatch
from django.utils.hashable import make_hashable
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString

register = template.Library()

_NOWRAP_FIELDS = (models.DateField, models.TimeField, models.ForeignKey)


@dataclass
class _Column:
    name: Any  # a field name, an admin method's name, or a callable
    css: str  # field-<name>
    link: bool
    table_tag: str
    empty: str
    field: models.Field | None = None  # a model field read with getattr
    method: Any = None  # the admin's method (or the callable) called with the row
    choices: dict | None = None  # a choices field's flattened choices
    integer: bool = False  # an integer field without choices


def _columns(cl) -> list[_Column]:
    cached = cl.__dict__.get("_fast_result_columns")
    if cached is not None:
        return cached
    model_admin = cl.model_admin
    opts = cl.lookup_opts
    columns = []
    first = True
    for index, name in enumerate(cl.list_display):
        if cl.list_display_links is None:
            link = False
        elif first and not cl.list_display_links:
            link = True
        else:
            link = name in cl.list_display_links
        table_tag = "td"
        if link:
            table_tag = "th" if first else "td"
            first = False
        column = _Column(
            name=name,
            css=f"field-{admin_list._coerce_field_name(name, index)}",  # type: ignore[attr-defined]
            link=link,
            table_tag=table_tag,
            empty=model_admin.get_empty_value_display(),
        )
        if callable(name):
            column.method = name
        else:
            try:
                field = _get_non_gfk_field(opts, name)
            except (FieldDoesNotExist, FieldIsAForeignKeyColumnName):
                if hasattr(model_admin, name) and name != "__str__":
                    column.method = getattr(model_admin, name)
            else:
                column.field = field
                column.integer = isinstance(field, models.IntegerField)
                flat = field.flatchoices if field.flatchoices else None
                if flat:
                    try:
                        column.choices = dict(flat)
                    except TypeError:
                        column.choices = dict(make_hashable(flat))
        columns.append(column)
    cl.__dict__["_fast_result_columns"] = columns
    return columns


def _lookup(cl, column: _Column, result) -> tuple[Any, Any, Any]:
    """lookup_field(), with what the column is already known."""
    if column.field is not None:
        return column.field, None, getattr(result, column.name)
    if column.method is not None:
        return None, column.method, column.method(result)
    return lookup_field(column.name, result, cl.model_admin)


def _display_field(column: _Column, field: models.Field, value, empty, link: bool):
    """display_for_field(), with the choices flattened once per column."""
    if column.choices is not None:
        try:
            return column.choices.get(value, empty)
        except TypeError:
            return column.choices.get(make_hashable(value), empty)
    if column.integer and type(value) is int and not settings.USE_THOUSAND_SEPARATOR:
        # what number_format gives an int without grouping, without looking
        # up the language's three number formats first (four columns a row
        # of the posts list)
        return SafeString(value)
    return display_for_field(value, field, empty, avoid_link=link)


def items_for_result(cl, result, form):
    """Django's admin_list.items_for_result (without list_editable forms)."""
    if form is not None:
        yield from admin_list.items_for_result(cl, result, form)
        return
    for column in _columns(cl):
        empty = column.empty
        row_classes = [column.css]
        try:
            f, attr, value = _lookup(cl, column, result)
        except ObjectDoesNotExist:
            result_repr = empty
        else:
            empty = getattr(attr, "empty_value_display", empty)
            if isinstance(value, str) and value.strip() == "":
                value = ""
            if f is None or f.auto_created:
                if column.name == "action_checkbox":
                    row_classes = ["action-checkbox"]
                boolean = getattr(attr, "boolean", False)
                if isinstance(attr, property) and hasattr(attr, "fget"):
                    boolean = getattr(attr.fget, "boolean", False)
                result_repr = display_for_value(value, empty, boolean)
                if isinstance(value, (datetime.date, datetime.time)):
                    row_classes.append("nowrap")
            else:
                if isinstance(f.remote_field, models.ManyToOneRel):
                    field_val = getattr(result, f.name)
                    result_repr = empty if field_val is None else field_val
                elif column.field is not None and f is column.field:
                    result_repr = _display_field(column, f, value, empty, column.link)
                else:
                    result_repr = display_for_field(
                        value, f, empty, avoid_link=column.link
                    )
                if isinstance(f, _NOWRAP_FIELDS):
                    row_classes.append("nowrap")
        row_class = f' class="{" ".join(row_classes)}"'
        if column.link:
            try:
                url = cl.url_for_result(result)
            except NoReverseMatch:
                link_or_text = result_repr
            else:
                url = add_preserved_filters(
                    {"preserved_filters": cl.preserved_filters, "opts": cl.opts}, url
                )
                popup = ""
                if cl.is_popup:
                    pk = str(cl.to_field) if cl.to_field else cl.lookup_opts.pk.attname
                    popup = format_html(
                        ' data-popup-opener="{}"', result.serializable_value(pk)
                    )
                link_or_text = format_html(
                    '<a href="{}"{}>{}</a>', url, popup, result_repr
                )
            tag = column.table_tag
            yield SafeString(
                f"<{tag}{row_class}>{conditional_escape(link_or_text)}</{tag}>"
            )
        else:
            yield SafeString(f"<td{row_class}>{conditional_escape(result_repr)}</td>")


def results(cl):
    if cl.formset:
        yield from admin_list.results(cl)
        return
    for res in cl.result_list:
        yield admin_list.ResultList(None, items_for_result(cl, res, None))


def result_list(cl) -> dict[str, Any]:
    """admin_list.result_list, with the rows made by `results` above."""
    headers = list(admin_list.result_headers(cl))
    return {
        "cl": cl,
        "result_hidden_fields": list(admin_list.result_hidden_fields(cl)),
        "result_headers": headers,
        "num_sorted_fields": sum(1 for h in headers if h["sortable"] and h["sorted"]),
        "results": list(results(cl)),
    }


@register.tag(name="result_list")
def result_list_tag(parser, token):
    return InclusionAdminNode(  # type: ignore[call-arg]
        parser,
        token,
        func=result_list,
        template_name="change_list_results.html",
        takes_context=False,
    )
