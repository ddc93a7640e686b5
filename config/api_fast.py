"""A read-only fast path for list endpoints: pages rendered from `values()` rows.

A list through a ModelSerializer builds the serializer's fields on every
request (model introspection), makes a model instance per row and walks each
field's `get_attribute`. The answer of a list needs none of that: here the
fields are built once per process, the rows come as dicts from `values()`
(with the same filters, ordering and pagination), and each value goes through
the same field's `to_representation`, so the JSON is the serializer's own.

Only serializers whose answer is exactly their fields qualify (no custom
`to_representation`, no method fields, no dotted sources, no file or
hyperlinked fields, nested one-to-one serializers that qualify themselves);
for any other the view's ordinary `list` runs.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import django_filters
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.paginator import Paginator as DjangoPaginator
from django.db import connections
from django.db.models import QuerySet
from django.utils import timezone
from django_filters.constants import EMPTY_VALUES
from rest_framework import ISO_8601, serializers
from rest_framework.generics import GenericAPIView
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.relations import PKOnlyObject, PrimaryKeyRelatedField, RelatedField
from rest_framework.response import Response
from rest_framework.settings import api_settings

from config.api_filters import StrictFilterBackend, StrictOrderingFilter
from config.filters import check_deferred_filters

_UNSUPPORTED = (
    serializers.SerializerMethodField,
    serializers.FileField,
    serializers.HyperlinkedRelatedField,
    serializers.HyperlinkedIdentityField,
    serializers.ManyRelatedField,
    serializers.ListSerializer,
)


@dataclass
class Plan:
    """How to turn one `values()` row into the serializer's answer."""

    sources: list[str] = field(default_factory=list)
    # (key in the answer, key in the row, converter, whether the converter
    # takes the time zone too: a datetime's, looked up once per page)
    simple: list[tuple[str, str, Callable[..., Any], bool]] = field(
        default_factory=list
    )
    # (key in the answer, presence key in the row, nested plan)
    nested: list[tuple[str, str, Plan]] = field(default_factory=list)

    def render(
        self, row: dict[str, Any], tz: dt.tzinfo | None = None
    ) -> dict[str, Any]:
        """The answer for `row`; `tz`: the current time zone, when the caller
        has it (a page of rows looks it up once: the lookup through asgiref's
        Local was a tenth of a page's CPU, once per datetime)."""
        if tz is None:
            tz = timezone.get_current_timezone()
        out: dict[str, Any] = {}
        for name, key, convert, zoned in self.simple:
            value = row[key]
            if value is None:
                out[name] = None
            elif zoned:
                out[name] = convert(value, tz)
            else:
                out[name] = convert(value)
        for name, present, plan in self.nested:
            # no related row: None (DRF's get_attribute answers None for it)
            out[name] = None if row[present] is None else plan.render(row, tz)
        return out

    def render_all(self, rows: Any) -> list[dict[str, Any]]:
        tz = timezone.get_current_timezone()
        return [self.render(row, tz) for row in rows]


def _related(f: RelatedField) -> Callable[[Any], Any]:
    if type(f) is PrimaryKeyRelatedField and f.pk_field is None:
        return _same  # DRF answers the primary key itself
    return lambda pk: f.to_representation(PKOnlyObject(pk=pk))


def _same(value: Any) -> Any:
    return value


def converter(f: Any) -> Callable[[Any], Any]:
    """`f.to_representation`, or a shortcut giving the same answer for the
    values a database row holds (anything else goes to the field itself):
    a page of 50 rows calls these a thousand times."""
    kind = type(f)
    if kind is serializers.CharField:
        return lambda v: v if v.__class__ is str else f.to_representation(v)
    if kind is serializers.IntegerField:
        return lambda v: v if v.__class__ is int else f.to_representation(v)
    if kind is serializers.UUIDField and f.uuid_format == "hex_verbose":
        return str
    if kind is serializers.ChoiceField:
        choices = f.choice_strings_to_values
        return lambda v: (
            choices.get(v, v) if v.__class__ is str and v else f.to_representation(v)
        )
    if (
        kind is serializers.DecimalField
        and f.decimal_places is not None
        and f.max_digits is not None
        and getattr(f, "coerce_to_string", api_settings.COERCE_DECIMAL_TO_STRING)
        and not f.localize
        and not f.normalize_output
    ):
        return _decimal_text(f)
    if (
        kind is serializers.DateField
        and str(getattr(f, "format", api_settings.DATE_FORMAT)).lower() == ISO_8601
    ):
        return lambda v: (
            v.isoformat() if v.__class__ is dt.date else f.to_representation(v)
        )
    zoned = zoned_converter(f)
    if zoned is not None:
        return lambda v: zoned(v, timezone.get_current_timezone())
    return f.to_representation


def zoned_converter(f: Any) -> Callable[[Any, dt.tzinfo], Any] | None:
    """For a DateTimeField in ISO 8601 that follows the current time zone:
    `(value, the current time zone) -> its text`, the field's own answer."""
    if (
        type(f) is serializers.DateTimeField
        and not hasattr(f, "timezone")
        and str(getattr(f, "format", api_settings.DATETIME_FORMAT)).lower() == ISO_8601
    ):
        return lambda v, tz: _iso_datetime(v, f, tz)
    return None


def _decimal_text(f: serializers.DecimalField) -> Callable[[Any], Any]:
    """DRF's text of a Decimal the column already holds at the field's places
    (a numeric(p, s) value: quantizing it changes nothing), without the
    context copy and the power of ten DRF computes for every value."""
    assert f.decimal_places is not None and f.max_digits is not None  # converter()
    exponent, digits = -f.decimal_places, f.max_digits

    def text(v: Any) -> Any:
        if v.__class__ is Decimal and v.is_finite():
            shape = v.as_tuple()
            if shape.exponent == exponent and len(shape.digits) <= digits:
                return f"{v:f}"
        return f.to_representation(v)

    return text


def _iso_datetime(value: Any, f: serializers.DateTimeField, tz: dt.tzinfo) -> Any:
    """DRF's ISO 8601 of an aware datetime, in `tz` (the current time zone)."""
    if value.__class__ is not dt.datetime or value.tzinfo is None:
        return f.to_representation(value)
    try:
        text = value.astimezone(tz).isoformat()
    except OverflowError:
        return f.to_representation(value)  # DRF's error
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def build_plan(serializer: serializers.Serializer, prefix: str = "") -> Plan | None:
    """The plan of `serializer`'s readable fields, or None when it does not qualify."""
    if (
        type(serializer).to_representation
        is not serializers.Serializer.to_representation
    ):
        return None
    plan = Plan()
    for f in serializer._readable_fields:
        source, name = f.source or "", f.field_name or ""
        if isinstance(f, _UNSUPPORTED) or not source or source == "*" or "." in source:
            return None
        key = prefix + source
        if isinstance(f, serializers.ModelSerializer):
            nested = build_plan(f, prefix=key + "__")
            if nested is None:
                return None
            plan.sources += [*nested.sources, key + "__pk"]
            plan.nested.append((name, key + "__pk", nested))
            continue
        if isinstance(f, serializers.BaseSerializer):
            return None
        plan.sources.append(key)
        zoned = zoned_converter(f)
        if zoned is not None:
            plan.simple.append((name, key, zoned, True))
            continue
        convert = _related(f) if isinstance(f, RelatedField) else converter(f)
        plan.simple.append((name, key, convert, False))
    return plan


class ValuesListMixin:
    """`list` from `values()` rows for a viewset whose serializer qualifies.

    `compiled_pages = CompiledPages()` on a view also compiles its pages' SQL
    once per shape of request: only for a view whose `get_queryset()` is the
    same for every request (no user's scope in it).
    """

    _values_plans: dict[type, Plan | None]
    compiled_pages: CompiledPages | None = None

    def _values_plan(self) -> Plan | None:
        cls = type(self)
        plans = cls.__dict__.get("_values_plans")
        if plans is None:
            plans = cls._values_plans = {}
        serializer_class = self.get_serializer_class()  # type: ignore[attr-defined]
        if serializer_class not in plans:
            # built once per process; the fields keep no per-request state
            plans[serializer_class] = build_plan(serializer_class())
        return plans[serializer_class]

    def list(self, request, *args, **kwargs):
        plan = self._values_plan()
        if plan is None:
            response = super().list(request, *args, **kwargs)  # type: ignore[misc]
            data = response.data
            if not (data.get("results") if isinstance(data, dict) else data):
                check_deferred_filters(request)
            return response
        view: Any = self
        page = self._compiled_page(request, plan)
        rows: Any = page
        if page is None:  # not compiled: the ORM
            filtered = view.filter_queryset(view.get_queryset())
            queryset = filtered.values(*plan.sources)
            # A page's count without the joins values() adds for the nested
            # profiles: one-to-one (build_plan takes no many-valued relation),
            # they cannot change the number of rows, and counting the joins
            # cost the character list's count twice its time.
            queryset.count = filtered.count
            page = view.paginate_queryset(queryset)
            rows = page if page is not None else list(queryset)
        if not rows:
            check_deferred_filters(request)  # config.filters.LiveCharacterFilter
        data = plan.render_all(rows)
        if page is not None:
            return view.get_paginated_response(data)
        return Response(data)

    def _compiled_page(self, request: Any, plan: Plan) -> Sequence[dict] | None:
        """The page's rows through the view's CompiledPages, or None (none,
        or the request is not one it compiles)."""
        view: Any = self
        if self.compiled_pages is None:
            return None
        source = self.compiled_pages.source(view, request, plan)
        if source is None:
            return None
        try:
            return view.paginator.paginate_queryset(source, request, view=view)
        except NotCompiled:
            return None


class CompiledQuery:
    """A `values()` queryset compiled once, run many times with other values.

    A read's queryset (joins, annotations, fifty `values()` names) can cost
    more to build and compile than the database takes to answer it. Here it is
    built and compiled once with stand-in values (`stand_ins`: name -> object);
    each run sends the same SQL with its own values in the stand-ins' places
    and passes the columns through the fields' own converters (JSON,
    encrypted fields, sums), as `values()` does.

    A stand-in's place is where the very object is among the SQL's parameters:
    a value Django converted on its way (another type, text) has no place, and
    the query is refused (ImproperlyConfigured: the caller keeps the ORM), so
    a value of the same type is sent exactly as the ORM would send it. The
    SQL of a queryset depends on its values only through them: the caller
    keys its compiled queries by whatever else varies (which filters, the
    bucket, the time zone).
    """

    def __init__(
        self, queryset: QuerySet, stand_ins: dict[str, Any], *, count: bool = False
    ) -> None:
        """With `count`, the query answers the number of the queryset's rows
        (one row: {"count": n})."""
        query = queryset.query
        compiler = query.get_compiler(queryset.db)
        sql, params = compiler.as_sql()
        self.slots: dict[str, list[int]] = {}
        for name, stand_in in stand_ins.items():
            places = [i for i, value in enumerate(params) if value is stand_in]
            if not places:
                raise ImproperlyConfigured(f"{name!r} is not among the parameters")
            self.slots[name] = places
        self.using = queryset.db
        self.params = list(params)
        if count:
            self.sql = f"SELECT count(*) FROM ({sql}) AS counted"
            self.names = ["count"]
            self.converters = []
            return
        self.sql = sql
        self.names = list(query.selected or ()) or [
            *query.extra_select,
            *query.values_select,
            *query.annotation_select,
        ]
        fields = [s[0] for s in compiler.select[: compiler.col_count]]
        self.converters = list(compiler.get_converters(fields).items())

    def rows(
        self, values: dict[str, Any], *, first: bool = False
    ) -> list[dict[str, Any]]:
        """The rows for `values` (every stand-in's name), as dicts of the
        `values()` names; with `first`, at most one."""
        params = self.params.copy()
        for name, places in self.slots.items():
            for i in places:
                params[i] = values[name]
        connection = connections[self.using]
        with connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            fetched = cursor.fetchmany(1) if first else cursor.fetchall()
        converters, names = self.converters, self.names
        out = []
        for row in fetched:
            row = list(row)
            for i, (convert, expression) in converters:
                value = row[i]
                for function in convert:
                    value = function(value, expression, connection)
                row[i] = value
            out.append(dict(zip(names, row, strict=True)))
        return out


class CompiledGet:
    """One row of a `values()` queryset by primary key, as `.get(pk=...)`
    gives it, with the SQL compiled once per process (CompiledQuery)."""

    def __init__(self, queryset: QuerySet) -> None:
        model = queryset.model
        self.to_python = model._meta.pk.to_python
        stand_in = uuid.uuid4()
        if not isinstance(self.to_python(str(stand_in)), uuid.UUID):
            raise ImproperlyConfigured(f"{model.__name__}'s key is not a UUID")
        self.query = CompiledQuery(queryset.filter(pk=stand_in), {"pk": stand_in})
        if len(self.query.slots["pk"]) != 1:
            raise ImproperlyConfigured("the key is in more than one place")

    def get(self, pk: Any) -> dict[str, Any] | None:
        """The row of `pk` as a dict of the `values()` names, or None; a
        malformed key raises the field's ValidationError, as `.get` does."""
        rows = self.query.rows({"pk": self.to_python(pk)}, first=True)
        return rows[0] if rows else None


class CompiledFilterQueries:
    """A view's filtered read (`build(filtered queryset, *key)`, a `values()`
    queryset) as CompiledQuery, compiled once per shape of request: which of
    its FilterSet's filters are given and their types, the caller's `key`
    and the time zone.

    The request is validated as the filter backends validate it (the same
    400s); `rows` answers None (the caller uses the ORM) for what this does
    not cover: an ordering parameter, other filter backends, a view with its
    own `get_queryset` (a queryset made per request, a user's scope, must not
    be compiled once for everyone), a FilterSet with its own `filter_queryset`
    or `qs`, a filter with a method or its own `filter()`, the choice filter's
    null value, and a value that is not text, a UUID or a date (a model
    instance).
    """

    LIMIT = 256  # shapes kept per process; beyond it, compiled per request

    def __init__(self, build: Callable[..., QuerySet]) -> None:
        self.build = build
        self.queries: dict[tuple, CompiledQuery | None] = {}

    def rows(self, view: Any, request: Any, key: tuple = ()) -> list[dict] | None:
        """The rows of the view's read for `request`, or None (use the ORM)."""
        if (
            api_settings.ORDERING_PARAM in request.query_params
            or type(view).get_queryset is not GenericAPIView.get_queryset
        ):
            return None
        queryset = view.get_queryset()
        validated = _validated_filters(view, request, queryset)
        if validated is None:
            return None
        filterset, values = validated
        shape = (_filters_shape(values), key, timezone.get_current_timezone_name())

        def make() -> CompiledQuery:
            stand_ins, filtered = _with_stand_ins(filterset, values, queryset)
            return CompiledQuery(self.build(filtered, *key), stand_ins)

        compiled = _compiled_once(self.queries, self.LIMIT, shape, make)
        return None if compiled is None else compiled.rows(values)


def _compiled_once(
    queries: dict[tuple, CompiledQuery | None],
    limit: int,
    key: tuple,
    make: Callable[[], CompiledQuery],
) -> CompiledQuery | None:
    """`queries[key]`, made the first time (None: it cannot be compiled, the
    caller keeps the ORM) and kept while the dict holds fewer than `limit`."""
    if key in queries:
        return queries[key]
    try:
        query: CompiledQuery | None = make()
    except ImproperlyConfigured:
        query = None
    if len(queries) < limit:
        queries[key] = query
    return query


def _validated_filters(
    view: Any, request: Any, queryset: QuerySet
) -> tuple[Any, dict[str, Any]] | None:
    """The view's FilterSet validated for `request` as the filter backends
    validate it (the same 400s) and the values given, or None when the read
    cannot be compiled (see CompiledFilterQueries)."""
    if list(view.filter_backends) != [StrictFilterBackend, StrictOrderingFilter]:
        return None
    filterset = StrictFilterBackend().validated_filterset(request, queryset, view)
    if filterset is None:
        return None
    values = {
        name: value
        for name, value in filterset.form.cleaned_data.items()
        if value not in EMPTY_VALUES
    }
    kind = type(filterset)
    if (
        kind.filter_queryset is not django_filters.FilterSet.filter_queryset
        or kind.qs is not django_filters.FilterSet.qs
        or not all(
            type(value) in _STAND_INS and _plain(filterset.filters[name], value)
            for name, value in values.items()
        )
    ):
        return None
    for name, value in values.items():
        # what a filter does for the request besides the SQL
        # (config.filters.LiveCharacterFilter's deferred check)
        note = getattr(filterset.filters[name], "note", None)
        if note is not None:
            note(value)
    return filterset, values


def _filters_shape(values: dict[str, Any]) -> tuple:
    return tuple(sorted((name, type(value)) for name, value in values.items()))


def _with_stand_ins(
    filterset: Any, values: dict[str, Any], queryset: QuerySet
) -> tuple[dict[str, Any], QuerySet]:
    """`queryset` filtered by a stand-in for each value given, through an
    unbound copy of the FilterSet (its filters note nothing on the request)."""
    unbound = type(filterset)(queryset=queryset)
    stand_ins = {n: _STAND_INS[type(v)]() for n, v in values.items()}
    for name, stand_in in stand_ins.items():
        queryset = unbound.filters[name].filter(queryset, stand_in)
    return stand_ins, queryset


class CompiledPages:
    """A list of `values()` rows (ValuesListMixin) compiled once per shape of
    request: which filters are given and their types, the ordering, the
    cursor's position (its type), the page's slice and the time zone; the
    count once per shape of filters. Django writes LIMIT and OFFSET into the
    SQL's text, so each page of a shape is a query of its own (LIMIT shapes
    per process, beyond them compiled per request).

    DRF's own paginators page through it (CompiledRows): PageNumberPagination
    over Django's Paginator, and CursorPagination, so the 404s, the links and
    the counts are theirs. `source` answers None (use the ORM) as
    CompiledFilterQueries does, and for a paginator of another kind.
    """

    LIMIT = 512

    def __init__(self) -> None:
        self.queries: dict[tuple, CompiledQuery | None] = {}

    def source(self, view: Any, request: Any, plan: Plan) -> CompiledRows | None:
        """What the view's paginator pages through for `request`, or None."""
        paginator = view.paginator
        kind = type(paginator)
        if not (
            (
                isinstance(paginator, PageNumberPagination)
                and kind.paginate_queryset is PageNumberPagination.paginate_queryset
                and paginator.django_paginator_class is DjangoPaginator
            )
            or (
                isinstance(paginator, CursorPagination)
                and kind.paginate_queryset is CursorPagination.paginate_queryset
            )
        ):
            return None
        queryset = view.get_queryset()
        validated = _validated_filters(view, request, queryset)
        if validated is None:
            return None
        filterset, values = validated
        # the ordering parameter validated as the backend does (400s included)
        ordering = StrictOrderingFilter().get_ordering(request, queryset, view)
        shape = (
            id(plan),
            _filters_shape(values),
            timezone.get_current_timezone_name(),
        )
        meta = queryset.model._meta

        def compiled(part: tuple, build: Callable[[QuerySet], Any], **kw):
            """The query of `part` of this shape; `build(filtered queryset)`
            answers the queryset to compile and its own stand-ins."""

            def make() -> CompiledQuery:
                stand_ins, filtered = _with_stand_ins(filterset, values, queryset)
                built, more = build(filtered)
                return CompiledQuery(built, stand_ins | more, **kw)

            return _compiled_once(self.queries, self.LIMIT, (*shape, *part), make)

        def rows(order: tuple, where: tuple, bottom: int, top: int) -> list[dict]:
            if top <= bottom:
                return []  # an empty first page: Django compiles no SQL for it
            # a cursor's position (text) as its field's value: a stand-in of
            # that type takes its place in the SQL
            given, lookups = dict(values), []
            for i, (lookup, position) in enumerate(where):
                value = _field_value(meta, lookup.split("__")[0], position)
                given[f"position {i}"] = value
                lookups.append((lookup, type(value)))
            order = order or tuple(ordering or ())

            def build(filtered: QuerySet) -> tuple[QuerySet, dict[str, Any]]:
                more = {}
                for i, (lookup, kind) in enumerate(lookups):
                    more[f"position {i}"] = stand_in = _STAND_INS[kind]()
                    filtered = filtered.filter(**{lookup: stand_in})
                if order:
                    filtered = filtered.order_by(*order)
                return filtered.values(*plan.sources)[bottom:top], more

            query = compiled(("rows", order, tuple(lookups), bottom, top), build)
            if query is None:
                raise NotCompiled
            return query.rows(given)

        def count() -> int:
            # without the joins values() adds for the nested profiles (see
            # ValuesListMixin.list)
            query = compiled(
                ("count",),
                lambda filtered: (filtered.order_by().values("pk"), {}),
                count=True,
            )
            if query is None:
                raise NotCompiled
            return query.rows(values)[0]["count"]

        return CompiledRows(rows, count)


def _field_value(meta: Any, name: str, position: Any) -> Any:
    """A cursor's position as the value of the model's field `name`, when a
    stand-in can take its place; otherwise NotCompiled (the ORM answers it, as
    it always has: its conversions and errors are its own)."""
    try:
        value = meta.get_field(name).to_python(position)
    except (FieldDoesNotExist, DjangoValidationError):
        raise NotCompiled from None
    if type(value) not in _STAND_INS or (
        isinstance(value, dt.datetime) and timezone.is_naive(value)
    ):
        raise NotCompiled  # Django would make a naive one aware on its way
    return value


class NotCompiled(Exception):
    """A part of a compiled list could not be compiled: use the ORM."""


class CompiledRows:
    """What DRF's paginators page through: the count, the ordering and the
    cursor's position they ask for, and a slice of rows, each slice from its
    compiled query (CompiledPages)."""

    ordered = True  # the ordering is the view's (no UnorderedObjectListWarning)

    def __init__(
        self,
        rows: Callable[[tuple, tuple, int, int], list[dict]],
        count: Callable[[], int],
        order: tuple = (),
        where: tuple = (),
    ) -> None:
        self._rows, self._count = rows, count
        self._order, self._where = order, where

    def count(self) -> int:  # a method: Django's Paginator calls it then
        return self._count()

    def order_by(self, *fields: str) -> CompiledRows:
        return CompiledRows(self._rows, self._count, tuple(fields), self._where)

    def filter(self, **lookups: Any) -> CompiledRows:
        where = self._where + tuple(lookups.items())
        return CompiledRows(self._rows, self._count, self._order, where)

    def __getitem__(self, part: slice) -> list[dict]:
        return self._rows(self._order, self._where, part.start or 0, part.stop)


def _plain(filter_: Any, value: Any) -> bool:
    """Whether `filter_` filters on `value` whatever it is (a stand-in takes
    the same path): django-filter's own filter or choice filter, no method,
    not the choice filter's null value (which filters on IS NULL)."""
    return getattr(filter_, "compiles", False) or (
        type(filter_).filter
        in (django_filters.Filter.filter, django_filters.ChoiceFilter.filter)
        and filter_.method is None
        and value != getattr(filter_, "null_value", None)
    )


# Stand-ins by the type of a filter's cleaned value: new objects each time
# (CompiledQuery finds each by identity among the SQL's parameters).
_STAND_INS: dict[type, Callable[[], Any]] = {
    str: lambda: f"stand-in {uuid.uuid4().hex}",
    uuid.UUID: uuid.uuid4,
    dt.date: lambda: dt.date(1, 1, 1),
    # aware, as Django sends it unchanged (a cursor's position)
    dt.datetime: lambda: dt.datetime(1, 1, 1, tzinfo=dt.UTC),
}
