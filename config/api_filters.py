"""The API's filter backends: unknown query parameters and orderings are 400s.

django-filter and DRF ignore what they do not know, so a typo'd filter
(`?stauts=failed`) silently returns everything. Here every query parameter of
a filtered endpoint must be a filter of its FilterSet, the ordering parameter,
a pagination parameter, `format`, or one the view names in
`extra_query_params`; every `ordering` value must be one of the view's
`ordering_fields`. The error names the parameter.
"""

import copy

from django_filters import utils as filter_utils
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.settings import api_settings


def _filter_params(filterset) -> dict[str, str]:
    """Each query parameter of `filterset` -> the filter that reads it."""
    names = {}
    for name, filter_ in filterset.filters.items():
        names[name] = name
        widget = filter_.field.widget
        for suffix in getattr(widget, "suffixes", ()):
            names[f"{name}_{suffix}" if suffix else name] = name
    return names


# What a FilterSet class needs per request, made once: a FilterSet deep-copies
# all its filters and builds every filter's form field and a form class when
# made (a few milliseconds per request, the largest part of a list's own
# work), although a request names one to three of them.
_known_params: dict[type, dict[str, str]] = {}
_form_classes: dict[tuple[type, frozenset[str]], type] = {}


def _cacheable(filterset_class, view) -> bool:
    # only a class the view names (an automatic one is new every time)
    return filterset_class is getattr(view, "filterset_class", None)


def _filterset_params(filterset_class, queryset, view) -> dict[str, str]:
    names = _known_params.get(filterset_class)
    if names is None:
        names = _filter_params(filterset_class(queryset=queryset.none()))
        if _cacheable(filterset_class, view):
            _known_params[filterset_class] = names
    return names


def _form_class(filterset_class, names: frozenset[str], queryset, view) -> type:
    """The FilterSet's form with the fields of `names` only (the filters of
    the absent parameters would filter nothing)."""
    key = (filterset_class, names)
    form_class = _form_classes.get(key)
    if form_class is None:
        template = filterset_class(queryset=queryset.none())
        fields = {n: f.field for n, f in template.filters.items() if n in names}
        form_class = type(
            f"{filterset_class.__name__}Form", (filterset_class._meta.form,), fields
        )
        if _cacheable(filterset_class, view) and len(_form_classes) < 512:
            _form_classes[key] = form_class
    return form_class


def _required_filters(filterset_class) -> frozenset[str]:
    return frozenset(
        name
        for name, filter_ in filterset_class.base_filters.items()
        if filter_.extra.get("required")
    )


def bound_filterset(filterset_class, request, queryset, view):
    """The FilterSet bound to the request's parameters, holding only the
    filters they name (shallow copies) and a form of their fields; it filters
    and validates as the whole FilterSet would."""
    params = _filterset_params(filterset_class, queryset, view)
    # the filters the query names, and the required ones whether named or not
    # (their form field says "This field is required.")
    names = frozenset(params[p] for p in request.query_params if p in params)
    names |= _required_filters(filterset_class)
    filterset = filterset_class.__new__(filterset_class)
    filterset.is_bound = True
    filterset.data = request.query_params
    filterset.queryset = queryset
    filterset.request = request
    filterset.form_prefix = None
    filterset.filters = {}
    for name in names:
        filter_ = copy.copy(filterset_class.base_filters[name])
        filter_.model = queryset.model
        filter_.parent = filterset
        filterset.filters[name] = filter_
    form_class = _form_class(filterset_class, names, queryset, view)
    filterset._form = form_class(filterset.data)
    return filterset


def _pagination_params(view) -> set[str]:
    paginator = getattr(view, "paginator", None)
    return {
        value
        for attr in ("page_query_param", "page_size_query_param", "cursor_query_param")
        if (value := getattr(paginator, attr, None))
    }


class StrictFilterBackend(DjangoFilterBackend):
    def filter_queryset(self, request, queryset, view):
        filterset = self.validated_filterset(request, queryset, view)
        return queryset if filterset is None else filterset.qs

    def validated_filterset(self, request, queryset, view):
        """The view's FilterSet bound to the request and validated (a 400 for
        an unknown parameter or an invalid value), None when it has none."""
        filterset_class = self.get_filterset_class(view, queryset)
        known = {
            api_settings.URL_FORMAT_OVERRIDE,
            api_settings.ORDERING_PARAM,
            *_pagination_params(view),
            *getattr(view, "extra_query_params", ()),
        }
        if filterset_class is not None:
            known.update(_filterset_params(filterset_class, queryset, view))
        unknown = sorted(set(request.query_params) - known)
        if unknown:
            raise ValidationError(
                {
                    name: [
                        "Unknown query parameter. Known: "
                        + ", ".join(sorted(k for k in known if k))
                        + "."
                    ]
                    for name in unknown
                }
            )
        if filterset_class is None:
            return None
        filterset = bound_filterset(filterset_class, request, queryset, view)
        if not filterset.is_valid() and self.raise_exception:
            raise filter_utils.translate_validation(filterset.errors)  # type: ignore[misc]
        return filterset


class StrictOrderingFilter(OrderingFilter):
    def remove_invalid_fields(self, queryset, fields, view, request):
        valid = super().remove_invalid_fields(queryset, fields, view, request)
        invalid = [f for f in fields if f and f not in valid]
        if invalid:
            allowed = sorted(
                name
                for name, _ in self.get_valid_fields(
                    queryset, view, {"request": request}
                )
            )
            raise ValidationError(
                {
                    self.ordering_param: [
                        f"Unknown ordering {', '.join(invalid)}. Allowed: "
                        + ", ".join(allowed)
                        + " (prefix '-' for descending)."
                    ]
                }
            )
        return valid
