"""Form fields for times entered on a named zone's wall clock.

Django's own date-time fields turn a typed time into an aware one in the
active zone and refuse, with one vague message, both a time the clocks skip
and a time they show twice. These take the typed time in the active zone
(a character's page activates the character's; config.admin_site) and say
precisely what is wrong with a skipped time; a repeated time is the first of
the two (config.timezones.localize).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib.admin import widgets as admin_widgets
from django.forms.renderers import BaseRenderer, get_default_renderer
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from config.timezones import localize, wall_clock


class WallClockSplitDateTimeField(forms.SplitDateTimeField):
    """The admin's date + time boxes, read on the active zone's wall clock."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", admin_widgets.AdminSplitDateTime)
        super().__init__(*args, **kwargs)

    def compress(self, data_list: Any) -> dt.datetime | None:
        if not data_list:
            return None
        day, time = data_list
        if day in self.empty_values or time in self.empty_values:
            return super().compress(data_list)
        naive = dt.datetime.combine(day, time)
        return localize(naive, timezone.get_current_timezone_name())


class WallClockDateTimeField(forms.DateTimeField):
    """One `datetime-local` box, read on `zone_name`'s wall clock (default:
    the active zone)."""

    input_formats = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]

    def __init__(self, *args: Any, zone_name: str | None = None, **kwargs: Any):
        kwargs.setdefault(
            "widget",
            forms.DateTimeInput(
                attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"
            ),
        )
        super().__init__(*args, **kwargs)
        self.zone_name = zone_name

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, dt.datetime) and timezone.is_aware(value):
            zone = self.zone_name or timezone.get_current_timezone_name()
            return wall_clock(value, zone)
        return value

    def _parse(self, text: str) -> dt.datetime:
        for fmt in self.input_formats:
            try:
                return dt.datetime.strptime(text, fmt)
            except ValueError:
                continue
        raise forms.ValidationError(self.error_messages["invalid"], code="invalid")

    def to_python(self, value: Any) -> dt.datetime | None:
        value = value.strip() if isinstance(value, str) else value
        if value in self.empty_values:
            return None
        naive = value if isinstance(value, dt.datetime) else self._parse(str(value))
        if timezone.is_aware(naive):
            return naive
        return localize(naive, self.zone_name or timezone.get_current_timezone_name())


class UnitSlider(forms.NumberInput):
    """A 0..max slider that says what its ends mean and shows its value.

    Written here rather than in a template of its own: a character page has
    eight, and each template (with the <input> and its attributes it
    includes) cost more than the rest of the widget; the <input> itself is
    the renderer's input.html.
    """

    input_type = "range"
    template_name = "django/forms/widgets/input.html"

    class Media:
        js = ("config/widgets.js",)

    def __init__(
        self, low_means: str, high_means: str, *, high: float = 1.0, step: float = 0.05
    ):
        super().__init__(attrs={"min": "0", "max": f"{high:g}", "step": f"{step:g}"})
        self.low_means, self.high_means, self.high = low_means, high_means, high

    def get_context(self, name: str, value: Any, attrs: Any) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        context["widget"].update(
            low_means=self.low_means, high_means=self.high_means, high=f"{self.high:g}"
        )
        return context

    def format_value(self, value: Any) -> str | None:
        return None if value in (None, "") else f"{float(value):g}"

    def render(
        self,
        name: str,
        value: Any,
        attrs: dict[str, Any] | None = None,
        renderer: BaseRenderer | None = None,
    ) -> SafeString:
        context = self.get_context(name, value, attrs)
        widget = context["widget"]
        renderer = renderer or get_default_renderer()
        slider = mark_safe(renderer.render(self.template_name, context))
        target = widget["attrs"].get("id")
        return format_html(
            '<span class="unit-slider"><span class="unit-slider-end">0 = {}</span> '
            '{}\n <span class="unit-slider-end">{} = {}</span> <output '
            'class="unit-slider-value"{}>{}</output></span>',
            widget["low_means"],
            slider,
            widget["high"],
            widget["high_means"],
            format_html(' for="{}"', target) if target else "",
            widget["value"] or "",
        )
