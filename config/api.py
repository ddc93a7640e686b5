"""API plumbing shared by every app: router, base viewsets and serializer,
state-changing actions, permissions, pagination classes and the exception
handler."""

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, DataError, IntegrityError
from django.db.models import Model, QuerySet
from django.http import JsonResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter
from rest_framework.serializers import raise_errors_on_nested_writes
from rest_framework.utils import model_meta
from rest_framework.views import exception_handler as drf_exception_handler

from config.api_pagination import CreatedCursorPagination, StandardPagination
from config.api_permissions import ModelPermissions
from config.api_schema import ErrorSerializer
from config.edits import RowDeleted, edit_refusal, save_edit, snapshot
from config.exceptions import EditConflict, InvalidTransition
from config.transitions import require_one
from config.validation import full_clean

router = DefaultRouter()
_M = TypeVar("_M", bound=Model)

# The 409 of an action the row's current state does not allow (the error schema).
CONFLICT = {409: OpenApiResponse(ErrorSerializer, description="Not allowed now.")}


def state_action(
    answer: Any,
    *,
    code: int = status.HTTP_200_OK,
    request: Any = None,
    description: str | None = None,
    **action_kwargs: Any,
) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    """A POST on one row that changes its state: documented as answering
    `code` with `answer` (a serializer) or 409 with the error schema.
    `action_kwargs` go to DRF's @action (url_path, permission_classes)."""

    def decorate(method: Callable[..., Response]) -> Callable[..., Response]:
        method = action(detail=True, methods=["post"], **action_kwargs)(method)
        return extend_schema(
            request=request,
            responses={code: answer, **CONFLICT},
            description=description,
        )(method)

    return decorate


# The base classes carry comments, not docstrings: drf-spectacular would take
# an inherited docstring as the description of every operation.


class StateActionsMixin:
    # What the state-changing actions of a viewset share: the row of the URL
    # as a queryset (the transition services take querysets: one row here,
    # the admin's selection there) and the answer after the change.

    def the_row(self) -> QuerySet[Any]:
        """The row of this URL (404 if not visible) as a one-row queryset."""
        obj: Model = self.get_object()  # type: ignore[attr-defined]
        return type(obj)._default_manager.filter(pk=obj.pk)

    def answer(self, code: int = status.HTTP_200_OK) -> Response:
        """The row as it is now, serialized as the viewset serializes it."""
        view: Any = self
        return Response(view.get_serializer(view.get_object()).data, status=code)

    def changed(
        self, count: int, refused: str, code: int = status.HTTP_200_OK
    ) -> Response:
        """The answer to a transition that changed `count` rows: the row, or
        409 with `refused` when its state did not allow it (count 0)."""
        require_one(count, refused)
        return self.answer(code)


class ModelViewSet(StateActionsMixin, viewsets.ModelViewSet):
    # The base of every app's read-write viewset: queryset, serializer and
    # filterset are the subclass's; sorting is only by `ordering_fields`.

    # explicit: only indexed sorts (and no serializer introspection per request)
    ordering_fields: ClassVar[list[str]] = ["created_at"]


class ReadOnlyModelViewSet(StateActionsMixin, viewsets.ReadOnlyModelViewSet):
    # The base of every app's read-only viewset (its POSTs are state actions).

    ordering_fields: ClassVar[list[str]] = ["created_at"]


class GenericViewSet(viewsets.GenericViewSet):
    # The base of a viewset assembled from mixins (no model CRUD).
    pass


def django_errors_to_drf(exc: DjangoValidationError) -> ValidationError:
    if hasattr(exc, "error_dict"):
        return ValidationError(
            {
                ("non_field_errors" if k == "__all__" else k): v
                for k, v in exc.message_dict.items()
            }
        )
    return ValidationError({"non_field_errors": exc.messages})


class FullCleanModelSerializer(serializers.ModelSerializer):
    """Runs the model's full_clean (validators, clean(), constraints) so that
    every CHECK/UNIQUE rule answers 400 with the field before the database."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        model: type[Model] = self.Meta.model
        existing = self._existing_instance()
        refusal = edit_refusal(existing) if existing is not None else None
        if refusal:
            raise InvalidTransition(refusal)  # 409
        # A field the view deferred (platform accounts' encrypted auth_data) is
        # neither loaded (decrypted) nor validated here: loading it would make
        # the update save it again, re-encrypted, as if it had changed.
        deferred = existing.get_deferred_fields() if existing is not None else set()
        # a foreign key the edit leaves as it is needs no lookup: the
        # database's FOREIGN KEY holds it (config/validation.py)
        kept: list[str] = []
        if existing is not None:
            kept = [
                f.name
                for f in model._meta.concrete_fields
                if f.is_relation and f.name not in attrs
            ]
            instance = model(
                **{
                    f.attname: getattr(existing, f.attname)
                    for f in model._meta.concrete_fields
                    if f.attname not in deferred
                }
            )
            instance._state.adding = False
            # the related rows the view read with it (select_related) serve
            # the model's clean() too; a foreign key the edit sets replaces its own
            instance._state.fields_cache = dict(existing._state.fields_cache)
        else:
            instance = model()
        for key, value in attrs.items():
            field = model._meta.get_field(key) if key in self._model_fields() else None
            if field is not None and not field.many_to_many:
                setattr(instance, key, value)
        try:
            full_clean(
                instance,
                exclude=[*self._clean_exclude(), *(deferred - set(attrs))],
                trusted=kept,
            )
        except (DjangoValidationError, ObjectDoesNotExist) as exc:
            if existing is not None and not self._still_exists(existing):
                # deleted while this request ran (its parent's cascade, maybe)
                raise NotFound("This row was deleted meanwhile.") from None
            if isinstance(exc, ObjectDoesNotExist):
                raise  # a related row vanished: 409 (exception_handler)
            raise django_errors_to_drf(exc) from exc
        return attrs

    def _existing_instance(self) -> Model | None:
        """The row this data will change: ours, or (nested one-to-one, e.g. a
        character's personality in a PATCH of the character) the parent's."""
        if self.instance is not None:
            return self.instance
        parent_instance = getattr(self.parent, "instance", None)
        if parent_instance is None or not self.field_name:
            return None
        try:
            return getattr(parent_instance, self.source or self.field_name, None)
        except ObjectDoesNotExist:
            return None

    @staticmethod
    def _still_exists(instance: Model) -> bool:
        return type(instance)._base_manager.filter(pk=instance.pk).exists()

    def _model_fields(self) -> set[str]:
        model: type[Model] = self.Meta.model
        return {f.name for f in model._meta.concrete_fields}

    def update(self, instance: _M, validated_data: dict[str, Any]) -> _M:
        """DRF's update, but an UPDATE that finds no row (deleted meanwhile) is a
        404: a plain save() would INSERT the deleted row again."""
        raise_errors_on_nested_writes("update", self, validated_data)
        info = model_meta.get_field_info(type(instance))
        before = snapshot(instance)
        m2m = []
        for attr, value in validated_data.items():
            if attr in info.relations and info.relations[attr].to_many:
                m2m.append((attr, value))
            else:
                setattr(instance, attr, value)
        try:
            # only the columns this request changed, and only while the row is
            # in the state validation saw (config/edits.py): a PATCH racing the
            # engine's claim cannot hand the post back to the queue
            save_edit(instance, before)
        except RowDeleted:
            raise NotFound("This row was deleted meanwhile.") from None
        except DatabaseError as exc:
            if "did not affect any rows" not in str(exc):
                raise
            raise NotFound("This row was deleted meanwhile.") from None
        for attr, value in m2m:
            getattr(instance, attr).set(value)
        return instance

    def _clean_exclude(self) -> list[str]:
        return []


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus the project's: an invalid transition and a row
    deleted meanwhile are 409s, a database rule 409 naming the constraint, a
    value out of the database's range 400, Django's ValidationError 400."""
    if isinstance(exc, EditConflict):
        return Response(
            {"detail": exc.message, "code": "conflict"},
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, InvalidTransition):
        return Response(
            {"detail": exc.message, "code": "invalid_transition"},
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, DjangoValidationError):
        exc = django_errors_to_drf(exc)
    if isinstance(exc, ObjectDoesNotExist):
        # a related row vanished between reading and writing (a concurrent delete)
        return Response(
            {
                "detail": "A row this change depends on was deleted meanwhile; "
                "reload and try again.",
                "code": "conflict",
            },
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, DataError):
        # a value PostgreSQL cannot hold (validation should have caught it)
        return Response(
            {
                "detail": "A value is out of the range the database accepts.",
                "code": "invalid",
            },
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, IntegrityError):
        cause = getattr(exc, "__cause__", None)
        diag = getattr(cause, "diag", None)
        constraint = getattr(diag, "constraint_name", None)
        return Response(
            {
                "detail": "The request conflicts with a database rule"
                + (f" ({constraint})." if constraint else "."),
                "code": "integrity_error",
            },
            status=status.HTTP_409_CONFLICT,
        )
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict):
        code = getattr(exc, "default_code", None)
        if code and "detail" in response.data:
            detail = getattr(exc, "detail", None)
            response.data.setdefault("code", getattr(detail, "code", code))
    return response


def api_not_found(request: Any, *args: Any, **kwargs: Any) -> JsonResponse:
    """Every unknown URL under /api/ (a non-UUID id, a typo): JSON, like the API."""
    return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(allow_blank=False, max_length=5000)


def reason_given(request: Any) -> str:
    """The `reason` of a reject-like action's body (a 400 naming it if bad)."""
    body = ReasonSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    return str(body.validated_data["reason"])


__all__ = [
    "CONFLICT",
    "CreatedCursorPagination",
    "FullCleanModelSerializer",
    "GenericViewSet",
    "ModelPermissions",
    "ModelViewSet",
    "ReadOnlyModelViewSet",
    "ReasonSerializer",
    "StandardPagination",
    "StateActionsMixin",
    "exception_handler",
    "reason_given",
    "router",
    "state_action",
]
