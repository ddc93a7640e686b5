"""What a generation job's (or a rule's) `generation_settings` may say.

One schema for the admin's form, the API and the generation queue: each key,
its kind, its range and what it means. Keys not listed here are kept as they
are (other parts of the engine add their own, such as automation_rule_id).
A leaf module (Django and the standard library only): models use it as a
field validator, so a bad value is an error naming its key everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError


@dataclass(frozen=True)
class Setting:
    key: str
    kind: type  # int, float or str
    help: str
    low: float | None = None
    high: float | None = None
    default: Any = None


SETTINGS = (
    Setting("width", int, "Image width in pixels.", 64, 2048, 512),
    Setting("height", int, "Image height in pixels.", 64, 2048, 768),
    Setting("steps", int, "Sampling steps: more is slower and finer.", 1, 150, 30),
    Setting(
        "cfg_scale",
        float,
        "How closely the image follows the prompt (CFG scale).",
        1,
        30,
        7.0,
    ),
    Setting(
        "seed", int, "A fixed seed repeats an image; -1 picks one.", -1, 2**32 - 1, -1
    ),
    Setting("sampler", str, "The sampler's name, e.g. 'DPM++ 2M Karras'."),
    Setting(
        "base_model",
        str,
        "The checkpoint to use instead of the character's appearance's base model.",
    ),
    Setting(
        "content_category",
        str,
        "The category the generated content gets (e.g. post, story, reel).",
    ),
)
BY_KEY = {s.key: s for s in SETTINGS}
EXAMPLE = {
    "width": 1024,
    "height": 1280,
    "steps": 30,
    "cfg_scale": 7,
    "sampler": "DPM++ 2M",
}


def _problem(setting: Setting, value: Any) -> str | None:
    name = f"generation_settings.{setting.key}"
    if value is None:
        return None
    if setting.kind is str:
        if not isinstance(value, str) or len(value) > 200:
            return f"{name} must be a text of at most 200 characters."
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        kind = "a whole number" if setting.kind is int else "a number"
        return f"{name} must be {kind}, not {value!r}."
    if setting.kind is int and isinstance(value, float) and not value.is_integer():
        return f"{name} must be a whole number, not {value!r}."
    if (setting.low is not None and value < setting.low) or (
        setting.high is not None and value > setting.high
    ):
        return f"{name} must be between {setting.low:g} and {setting.high:g}, not {value!r}."
    return None


def validate_generation_settings(value: Any) -> None:
    """A JSON object whose known keys hold values of their kind and range."""
    if value is None:
        return
    if not isinstance(value, dict):
        raise ValidationError(
            "generation_settings must be a JSON object, for example %(example)s.",
            code="invalid",
            params={"example": EXAMPLE},
        )
    problems = [
        problem
        for key, setting in BY_KEY.items()
        if key in value and (problem := _problem(setting, value[key]))
    ]
    if problems:
        raise ValidationError(problems, code="invalid")
