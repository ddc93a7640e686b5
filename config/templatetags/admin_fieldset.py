"""{% admin_fieldset %}: Django's admin/includes/fieldset.html, written in Python.

The stock template is included once per fieldset and runs its loops and tests
per field (about 3,000 variable lookups for the character page's 45 fields),
and every field renders two more templates even when they print nothing: its
label (django/forms/label.html with attrs.html) and its empty error list.
That was about half of the character page's CPU. templates/admin/includes/
fieldset.html calls this tag instead; it prints the same bytes as the stock
template of the installed Django (tests/admin/test_fieldset_html.py renders
both for every fieldset of the busiest pages and compares them). Widgets are
still rendered by their own templates, and a form whose label or error-list
templates are not Django's own takes Django's path for them.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.contrib.admin.helpers import AdminField, Fieldline
from django.forms.utils import ErrorList
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from config.form_renderer import FastWidgetRenderer, attrs_html, text

register = template.Library()

STOCK_LABEL = "django/forms/label.html"
STOCK_ERRORS_UL = ErrorList.template_name_ul


def _stock(renderer) -> bool:
    """The renderer finds Django's own form templates (config.form_renderer)."""
    return isinstance(renderer, FastWidgetRenderer) and renderer.is_stock()


def _errors_ul(errors) -> str:
    """ErrorList.as_ul(): the stock template prints nothing for no errors."""
    if (
        not errors
        and getattr(errors, "template_name_ul", None) == STOCK_ERRORS_UL
        and _stock(getattr(errors, "renderer", None))
    ):
        return ""
    return errors.as_ul()


def _line_errors(line: Fieldline) -> SafeString:
    """Fieldline.errors()."""
    return mark_safe(
        "\n".join(
            _errors_ul(line.form[f].errors)
            for f in line.fields
            if f not in line.readonly_fields
        ).strip("\n")
    )


def _label_tag(field: AdminField, punctuation: str) -> str:
    """AdminField.label_tag(): BoundField.label_tag() and its template, for a
    form that renders Django's own label template with Django's renderer."""
    bf = field.field
    form = bf.form
    if form.template_name_label != STOCK_LABEL or not _stock(form.renderer):
        return field.label_tag()
    # AdminField.label_tag
    classes = []
    if field.is_checkbox:
        classes.append("vCheckboxLabel")
    if bf.field.required:
        classes.append("required")
    if not field.is_first:
        classes.append("inline")
    attrs: dict[str, Any] | None = {"class": " ".join(classes)} if classes else {}
    label_suffix = "" if field.is_checkbox else None
    # BoundField.label_tag
    contents = mark_safe(conditional_escape(bf.label)) or bf.label
    if label_suffix is None:
        label_suffix = (
            bf.field.label_suffix
            if bf.field.label_suffix is not None
            else form.label_suffix
        )
    if label_suffix and contents and contents[-1] not in punctuation:
        contents = SafeString(
            conditional_escape(contents) + conditional_escape(label_suffix)
        )
    widget = bf.field.widget
    id_ = widget.attrs.get("id") or bf.auto_id
    if id_:
        id_for_label = widget.id_for_label(id_)
        if id_for_label:
            attrs = {**(attrs or {}), "for": id_for_label}
        if bf.field.required and hasattr(form, "required_css_class"):
            attrs = attrs or {}
            if "class" in attrs:
                attrs["class"] += " " + form.required_css_class
            else:
                attrs["class"] = form.required_css_class
        # django/forms/label.html with use_tag and tag "label"
        return mark_safe(
            "<label"
            + attrs_html(attrs or {})
            + ">"
            + conditional_escape(contents)
            + "</label>"
        )
    return mark_safe(conditional_escape(contents))


def _field_attr(field, name: str, default: Any = "") -> Any:
    """`field.field.<name>` as the template reads it: a BoundField's attribute,
    or a key of the read-only field's dict."""
    inner = field.field
    if isinstance(inner, dict):
        return inner.get(name, default)
    return getattr(inner, name, default)


@register.simple_tag(takes_context=True)
def admin_fieldset(context) -> SafeString:
    def v(value: Any) -> str:
        return text(value, context)

    fieldset = context.get("fieldset", "")
    # the characters after which a label gets no suffix, in this language
    punctuation = _(":?.!")
    level = context.get("heading_level", "") or 2
    heading_id = (
        f"{v(context.get('prefix', ''))}-{v(context.get('id_prefix', ''))}-"
        f"{v(context.get('id_suffix', ''))}-heading"
    )
    name = fieldset.name
    out = ['<fieldset class="module aligned ', v(fieldset.classes), '"']
    if name:
        out += [' aria-labelledby="', heading_id, '"']
    out.append(">\n    ")
    if name:
        out.append("\n        ")
        if fieldset.is_collapsible:
            out.append("<details><summary>")
        out += [
            f'\n        <h{v(level)} id="{heading_id}" class="fieldset-heading">',
            v(name),
            f"</h{v(level)}>\n        ",
        ]
        if fieldset.is_collapsible:
            out.append("</summary>")
        out.append("\n    ")
    out.append("\n    ")
    if fieldset.description:
        out += [
            '\n        <div class="description">',
            v(mark_safe(str(fieldset.description))),
            "</div>\n    ",
        ]
    out.append("\n    ")
    for line in fieldset:
        single = len(line.fields) == 1
        fields = list(line)
        out.append('\n        <div class="form-row')
        line_errors = _line_errors(line) if single else ""
        if single and line_errors:
            out.append(" errors")
        if not line.has_visible_field:
            out.append(" hidden")
        for field in fields:
            field_name = _field_attr(field, "name")
            if field_name:
                out += [" field-", v(field_name)]
        out.append('">\n            ')
        out.append(
            v(line_errors) if single else '<div class="flex-container form-multiline">'
        )
        out.append("\n            ")
        for field in fields:
            readonly = field.is_readonly
            errors = "" if readonly else _errors_ul(field.field.errors)
            hidden = _field_attr(field, "is_hidden")
            out.append("\n                <div>\n                    ")
            if not single and not readonly:
                out.append(v(mark_safe(errors)))
            out.append('\n                        <div class="flex-container')
            if not single:
                out.append(" fieldBox")
                field_name = _field_attr(field, "name")
                if field_name:
                    out += [" field-", v(field_name)]
                if not readonly and errors:
                    out.append(" errors")
                if hidden:
                    out.append(" hidden")
            if field.is_checkbox:
                out.append(" checkbox-row")
            out.append('">\n                            ')
            label = field.label_tag() if readonly else _label_tag(field, punctuation)
            if field.is_checkbox:
                out += [
                    "\n                                ",
                    v(field.field),
                    v(label),
                    "\n                            ",
                ]
            else:
                out += ["\n                                ", v(label)]
                out.append("\n                                ")
                if readonly:
                    out += [
                        '\n                                    <div class="readonly">',
                        v(field.contents()),
                        "</div>\n                                ",
                    ]
                else:
                    out += [
                        "\n                                    ",
                        v(field.field),
                        "\n                                ",
                    ]
                out.append("\n                            ")
            out.append("\n                        </div>\n                    ")
            help_text = _field_attr(field, "help_text")
            if help_text:
                out.append('\n                        <div class="help')
                if hidden:
                    out.append(" hidden")
                out.append('"')
                id_for_label = _field_attr(field, "id_for_label")
                if id_for_label:
                    out += [' id="', v(id_for_label), '_helptext"']
                out += [
                    ">\n                            <div>",
                    v(mark_safe(str(help_text))),
                    "</div>\n                        </div>\n                    ",
                ]
            out.append("\n                </div>\n            ")
        out.append("\n            ")
        if not single:
            out.append("</div>")
        out.append("\n        </div>\n    ")
    out.append("\n    ")
    if name and fieldset.is_collapsible:
        out.append("</details>")
    out.append("\n</fieldset>")
    return mark_safe("".join(out))
