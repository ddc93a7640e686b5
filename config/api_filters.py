"""The API's filter backends: unknown query parameters and orderings are 400s.

django-filter and DRF ignore what they do not know, so a typo'd filter
(`?stauts=failed`) silently returns everything. Here every query parameter of
a filtered endpoint must be a filter of its FilterSet, the ordering parameter,
a pagination parameter, `format`, or one the view names in
`extra_query_params`; every `ordering` value must be one of the view's
`ordering_fields`. The error names the parameter.
"""

from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.settings import api_settings


def _filter_params(filterset) -> set[str]:
    names = set()
    for name, filter_ in filterset.filters.items():
        names.add(name)
        widget = filter_.field.widget
        for suffix in getattr(widget, "suffixes", ()):
            names.add(f"{name}_{suffix}" if suffix else name)
    return names


# FilterSet class -> its query parameters: a FilterSet deep-copies its filters
# and builds their form fields when made, a millisecond per request for
# names that never change
_known_params: dict[type, frozenset[str]] = {}


def _filterset_params(filterset_class, queryset, view) -> frozenset[str]:
    names = _known_params.get(filterset_class)
    if names is None:
        names = frozenset(_filter_params(filterset_class(queryset=queryset.none())))
        # only a class the view names (an automatic one is new every time)
        if filterset_class is getattr(view, "filterset_class", None):
            _known_params[filterset_class] = names
    return names


def _pagination_params(view) -> set[str]:
    paginator = getattr(view, "paginator", None)
    return {
        value
        for attr in ("page_query_param", "page_size_query_param", "cursor_query_param")
        if (value := getattr(paginator, attr, None))
    }


class StrictFilterBackend(DjangoFilterBackend):
    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        known = {
            api_settings.URL_FORMAT_OVERRIDE,
            api_settings.ORDERING_PARAM,
            *_pagination_params(view),
            *getattr(view, "extra_query_params", ()),
        }
        if filterset_class is not None:
            known |= _filterset_params(filterset_class, queryset, view)
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
        return super().filter_queryset(request, queryset, view)


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
