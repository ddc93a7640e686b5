"""Choosing content for a post: a picker of a character's publishable items,
shown as thumbnails (used by the scheduled post form and the composer)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.urls import reverse

from content.generation_settings import (
    BY_KEY,
    SETTINGS,
    Setting,
    validate_generation_settings,
)
from content.models import Content
from content.selectors import publishable_content

# How many of a character's newest publishable items the picker shows.
PICKER_SIZE = 60


class ContentPickerWidget(forms.RadioSelect):
    """Radio buttons drawn as thumbnails, with "no media" first."""

    template_name = "content/widgets/content_picker.html"
    option_template_name = "content/widgets/content_picker_option.html"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.items: list[Content] = []

    def create_option(
        self,
        name: str,
        value: Any,
        label: Any,
        selected: Any,
        index: int,
        subindex: int | None = None,
        attrs: Any = None,
    ) -> dict[str, Any]:
        option = super().create_option(
            name, value, label, selected, index, subindex=subindex, attrs=attrs
        )
        content = getattr(value, "instance", None)
        if content is not None:
            option["thumb"] = (
                reverse("admin:content_content_thumbnail", args=[content.pk])
                if content.content_type in Content.VISUAL_TYPES
                else ""
            )
            option["content"] = content
        return option


class ContentPickerField(forms.ModelChoiceField):
    """One of a character's publishable items (approved, its own).

    Validation takes any of them; the picker shows the newest PICKER_SIZE
    (one query), plus the current choice when it is older.
    """

    widget = ContentPickerWidget

    def __init__(self, *, character_id: Any, current: Any = None, **kwargs: Any):
        queryset = publishable_content(character_id=character_id)
        kwargs.setdefault("required", False)
        kwargs.setdefault("empty_label", "No media (text only)")
        super().__init__(queryset=queryset, blank=True, **kwargs)
        shown = list(queryset[:PICKER_SIZE])
        if current is not None and current not in shown:
            shown.append(current)
        self.shown = shown
        self.choices = [
            ("", self.empty_label),
            *((self.prepare_value(c), self.label_from_instance(c)) for c in shown),
        ]

    def label_from_instance(self, obj: Content) -> str:
        name = obj.file_path.rsplit("/", 1)[-1]
        return f"{obj.get_content_type_display()} · {name}"

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, Content):
            return forms.models.ModelChoiceIteratorValue(value.pk, value)
        return super().prepare_value(value)


# --- generation settings as fields ----------------------------------------------


def _settings_field(setting: Setting) -> forms.Field:
    label = setting.key.replace("_", " ").capitalize()
    help_text = setting.help
    if setting.default is not None:
        help_text += f" Default: {setting.default}."
    if setting.kind is int:
        return forms.IntegerField(
            required=False,
            label=label,
            min_value=None if setting.low is None else int(setting.low),
            max_value=None if setting.high is None else int(setting.high),
            help_text=help_text,
        )
    if setting.kind is float:
        return forms.FloatField(
            required=False,
            label=label,
            min_value=setting.low,
            max_value=setting.high,
            help_text=help_text,
        )
    return forms.CharField(
        required=False, label=label, max_length=200, help_text=help_text
    )


SETTING_FIELDS = tuple(f"gs_{s.key}" for s in SETTINGS)


class JSONObjectField(forms.JSONField):
    """A JSON box that shows nothing, not "null", when empty."""

    def prepare_value(self, value: Any) -> Any:
        return "" if value is None else super().prepare_value(value)


class GenerationSettingsForm(forms.ModelForm):
    """A model form whose `generation_settings` JSON is a field per known key
    (content.generation_settings), plus a JSON box for any other keys."""

    gs_other = JSONObjectField(
        required=False,
        label="Other settings",
        help_text=(
            "Keys the fields above do not cover, as a JSON object; most jobs "
            'need none. Example: {"hires_fix": true}.'
        ),
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
    )
    # whether an empty result is stored as {} (a job) or NULL (a rule)
    settings_empty: dict | None = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        current = getattr(self.instance, "generation_settings", None) or {}
        if isinstance(current, dict):
            for setting in SETTINGS:
                if setting.key in current and f"gs_{setting.key}" in self.fields:
                    self.initial.setdefault(f"gs_{setting.key}", current[setting.key])
            other = {k: v for k, v in current.items() if k not in BY_KEY}
            if other:
                self.initial.setdefault("gs_other", other)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        other = data.get("gs_other")
        if other not in (None, "") and not isinstance(other, dict):
            self.add_error("gs_other", 'Enter a JSON object, e.g. {"hires_fix": true}.')
            return data
        # a known key typed among the others is checked like its own field
        built: dict[str, Any] = dict(other or {})
        for setting in SETTINGS:
            value = data.get(f"gs_{setting.key}")
            if value not in (None, ""):
                built[setting.key] = value
        try:
            validate_generation_settings(built)
        except ValidationError as exc:
            self.add_error(None, exc)
            return data
        self.instance.generation_settings = built if built else self.settings_empty
        return data


for _setting in SETTINGS:
    GenerationSettingsForm.base_fields[f"gs_{_setting.key}"] = _settings_field(_setting)
    GenerationSettingsForm.declared_fields[f"gs_{_setting.key}"] = (
        GenerationSettingsForm.base_fields[f"gs_{_setting.key}"]
    )
