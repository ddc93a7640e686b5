"""config.form_renderer: Django's stock widget templates written in Python,
the same bytes as the templates print."""

import datetime as dt

import pytest
from django import forms
from django.forms.renderers import DjangoTemplates, get_default_renderer
from django.test.signals import template_rendered
from django.utils.safestring import mark_safe

from config.form_renderer import FastWidgetRenderer

CHOICES = [
    ("", "---------"),
    ("a", 'Plain <b>&</b> "quoted"'),
    ("Group one", [("b", "Bee"), ("c", mark_safe("<i>safe</i>"))]),
    (3, 3),
    (1.5, 1.5),
]

CASES = [
    (forms.TextInput(), 'Ava <Stone> & "co"', {"maxlength": 255, "required": True}),
    (forms.TextInput(), None, {}),
    (forms.TextInput(), "", {"disabled": False, "readonly": True}),
    (forms.TextInput(attrs={"class": 'a "b"'}), mark_safe("<safe>"), {}),
    (forms.NumberInput(), 23, {"step": "any", "min": 0}),
    (forms.NumberInput(), 0.75, {}),
    (forms.HiddenInput(), "uuid-1", {}),
    (forms.CheckboxInput(), True, {"id": "id_is_active"}),
    (forms.CheckboxInput(), False, {}),
    (forms.CheckboxInput(), "on", {}),
    (forms.EmailInput(), "a@example.com", {}),
    (forms.URLInput(), "https://x.example/?a=1&b=<2>", {}),
    (forms.PasswordInput(render_value=True), "secret", {}),
    (forms.PasswordInput(), "secret", {}),
    (forms.DateInput(), dt.date(2026, 11, 30), {}),
    (forms.TimeInput(), dt.time(9, 30), {}),
    (forms.DateTimeInput(), dt.datetime(2026, 11, 30, 9, 30), {}),
    (forms.Textarea(attrs={"rows": 2, "cols": 80}), "line\n<two> & 'three'", {}),
    (forms.Textarea(), "", {}),
    (forms.Textarea(), None, {"required": True}),
    (forms.Select(choices=CHOICES), "b", {"id": "id_pick"}),
    (forms.Select(choices=CHOICES), None, {}),
    (forms.Select(choices=CHOICES), 3, {"disabled": True}),
    (forms.SelectMultiple(choices=CHOICES), ["a", "c"], {}),
    (forms.NullBooleanSelect(), True, {}),
]


@pytest.mark.parametrize(("widget", "value", "attrs"), CASES)
def test_each_stock_widget_prints_what_its_template_prints(widget, value, attrs):
    fast = widget.render("field", value, attrs=attrs, renderer=FastWidgetRenderer())
    stock = widget.render("field", value, attrs=attrs, renderer=DjangoTemplates())
    assert fast == stock


def _templates_rendered(render) -> list[str]:
    names: list[str] = []

    def record(sender, template, context, **kwargs):
        names.append(template.name)

    template_rendered.connect(record)
    try:
        render()
    finally:
        template_rendered.disconnect(record)
    return names


def test_the_project_renders_widgets_without_their_templates(settings):
    assert settings.FORM_RENDERER == "config.form_renderer.FastWidgetRenderer"
    renderer = get_default_renderer()
    assert isinstance(renderer, FastWidgetRenderer)
    assert renderer.is_stock()

    names = _templates_rendered(
        lambda: (
            forms.TextInput().render("a", "x", renderer=renderer),
            forms.Select(choices=CHOICES).render("b", "a", renderer=renderer),
            forms.Textarea().render("c", "y", renderer=renderer),
        )
    )

    assert names == []


def test_widgets_of_their_own_still_render_their_templates():
    renderer = FastWidgetRenderer()
    names = _templates_rendered(
        lambda: forms.RadioSelect(choices=[("a", "A")]).render(
            "r", "a", renderer=renderer
        )
    )
    assert "django/forms/widgets/radio.html" in names


def test_a_template_overridden_by_an_installed_app_is_rendered_as_a_template():
    """An app that ships its own django/forms/widgets/*.html gets its files."""
    renderer = FastWidgetRenderer()
    renderer._stock = False  # what is_stock() finds when an app overrides one

    names = _templates_rendered(
        lambda: forms.TextInput().render("a", "x", renderer=renderer)
    )

    assert "django/forms/widgets/text.html" in names


def test_the_trait_slider_prints_its_ends_input_and_value_without_a_template():
    """What its template printed (config/widgets/unit_slider.html, removed):
    eight sliders a character page, each three templates."""
    from config.forms import UnitSlider

    slider = UnitSlider("calm <low>", "wild & high", high=2.0)
    renderer = FastWidgetRenderer()

    names = _templates_rendered(
        lambda: slider.render("temperature", 0.7, {"id": "id_t"}, renderer)
    )
    html = slider.render("temperature", 0.7, {"id": "id_t"}, renderer)
    empty = slider.render("x", None, renderer=DjangoTemplates())

    assert names == []
    assert html == (
        '<span class="unit-slider"><span class="unit-slider-end">0 = calm &lt;low&gt;'
        '</span> <input type="range" name="temperature" value="0.7" min="0" max="2" '
        'step="0.05" id="id_t">\n <span class="unit-slider-end">2 = wild &amp; high'
        '</span> <output class="unit-slider-value" for="id_t">0.7</output></span>'
    )
    assert empty == (
        '<span class="unit-slider"><span class="unit-slider-end">0 = calm &lt;low&gt;'
        '</span> <input type="range" name="x" min="0" max="2" step="0.05">\n '
        '<span class="unit-slider-end">2 = wild &amp; high</span> <output '
        'class="unit-slider-value"></output></span>'
    )


@pytest.mark.parametrize(
    "value",
    [
        "plain",
        "<b>&'\"</b>",
        mark_safe("<i>safe</i>"),
        3,
        1.5,
        None,
        dt.date(2026, 1, 2),
    ],
)
def test_text_prints_a_value_as_a_template_variable_does(value):
    from django.template import Context, Template

    from config.form_renderer import text

    for autoescape in (True, False):
        context = Context({"value": value}, autoescape=autoescape)
        assert text(value, context) == Template("{{ value }}").render(context)


class _Hidden(forms.Form):
    token = forms.CharField(widget=forms.HiddenInput)
    count = forms.IntegerField(widget=forms.HiddenInput, min_value=0)


class _Mixed(_Hidden):
    name = forms.CharField()


def _formset(renderer, *args, **kwargs):
    formset = forms.formset_factory(_Mixed, extra=2, renderer=renderer)
    return formset(*args, **kwargs)


@pytest.mark.parametrize(
    "make",
    [
        # an inline's management form, blank and bound to a posted formset
        lambda r: _formset(r, prefix="personality").management_form,
        lambda r: (
            _formset(
                r,
                {
                    "p-TOTAL_FORMS": "1",
                    "p-INITIAL_FORMS": "0",
                    "p-MIN_NUM_FORMS": "0",
                    "p-MAX_NUM_FORMS": "1000",
                },
                prefix="p",
            ).management_form
        ),
        lambda r: _Hidden(initial={"token": 'a "b" <c>', "count": 3}, renderer=r),
        # errors, or a field to show: the template's way, the same bytes
        lambda r: _Hidden({"token": "t", "count": "-1"}, renderer=r),
        lambda r: _Mixed(initial={"name": "<Ava>"}, renderer=r),
        lambda r: _Mixed({"token": "t", "count": "x"}, renderer=r),
    ],
)
def test_a_form_of_hidden_fields_prints_what_its_template_prints(make):
    fast = str(make(FastWidgetRenderer()))
    stock = str(make(DjangoTemplates()))
    assert fast == stock
    assert 'type="hidden"' in fast


def test_a_management_form_renders_without_the_form_template():
    """Each inline of the character page printed its management form through
    django/forms/div.html (about 3 ms a page)."""
    renderer = FastWidgetRenderer()
    names = _templates_rendered(
        lambda: str(_formset(renderer, prefix="p").management_form)
    )
    assert names == []
    bound_with_errors = _Hidden({"token": "t", "count": "-1"}, renderer=renderer)
    names = _templates_rendered(lambda: str(bound_with_errors))
    assert "django/forms/div.html" in names
