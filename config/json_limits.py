"""Limits on JSON from outside: nesting depth (a parser's recursion is a 500 waiting
to happen) and size. Used by the API's parser and the admin's JSON form fields."""

from __future__ import annotations

import json
from collections.abc import Iterable

from django import forms
from django.conf import settings

DEFAULT_MAX_DEPTH = 32


def max_depth() -> int:
    return getattr(settings, "JSON_MAX_DEPTH", DEFAULT_MAX_DEPTH)


class TooDeep(ValueError):
    pass


def depth_problem(data, limit: int | None = None) -> str | None:
    """Why `data` is nested too deeply, or None. Iterative: no recursion."""
    limit = limit or max_depth()
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        children: Iterable[object]
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return f"JSON is nested more than {limit} levels deep."
        stack.extend((child, depth + 1) for child in children)
    return None


def loads(text, **kwargs):
    """json.loads that refuses deep nesting with TooDeep instead of RecursionError."""
    try:
        data = json.loads(text, **kwargs)
    except RecursionError:
        raise TooDeep(f"JSON is nested more than {max_depth()} levels deep.") from None
    problem = depth_problem(data)
    if problem:
        raise TooDeep(problem)
    return data


class LimitedJSONField(forms.JSONField):
    """The admin's JSON field, with the same depth limit as the API."""

    def to_python(self, value):
        if self.disabled or value in self.empty_values:
            return super().to_python(value)
        if isinstance(value, (list, dict, int, float)):
            return super().to_python(value)
        try:
            loads(value, cls=self.decoder)
        except TooDeep as exc:
            raise forms.ValidationError(str(exc), code="too_deep") from None
        except (ValueError, TypeError):
            pass  # the parent says it is not JSON
        return super().to_python(value)

    def bound_data(self, data, initial):
        try:
            loads(data, cls=self.decoder) if isinstance(data, str) else None
        except TooDeep:
            return forms.fields.InvalidJSONInput(data)
        except (ValueError, TypeError):
            pass
        return super().bound_data(data, initial)
