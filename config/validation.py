"""Model validation for the API's writes in fewer round trips.

Django's `Model.full_clean` asks the database once per CHECK constraint
(`Q.check`: `SELECT 1 WHERE <condition>` with the row's values) and once per
foreign key (does the referenced row exist?). A PATCH of a scheduled post's
caption made 17 queries, 11 of them these. Here:

- every plain CheckConstraint of the model is evaluated in one SELECT, one
  boolean column per constraint, with Django's own expressions: the same
  conditions, the same NULL-is-accepted rule (COALESCE(..., true)), the same
  messages; a database error falls back to Django's per-constraint check;
- a foreign key an edit did not change is not looked up again: the database's
  own FOREIGN KEY guarantees the row it points to (the ORM's check uses the
  base manager, so a soft-deleted character passed it anyway).

Everything else is Django's full_clean, step for step.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from contextlib import nullcontext
from functools import partial

from django.core.exceptions import NON_FIELD_ERRORS, FieldError, ValidationError
from django.db import DatabaseError, connections, models, router, transaction
from django.db.models import BooleanField, Value
from django.db.models.functions import Coalesce
from django.db.models.sql import Query
from django.db.models.sql.constants import SINGLE

logger = logging.getLogger(__name__)


def full_clean(
    instance: models.Model,
    *,
    exclude: Iterable[str] = (),
    trusted: Iterable[str] = (),
) -> None:
    """Django's full_clean; the fields in `trusted` skip their field checks
    (their value is the stored one) but still take part in the row's
    constraints and uniqueness."""
    excluded = set(exclude)
    errors: dict = {}
    try:
        instance.clean_fields(exclude=excluded | set(trusted))
    except ValidationError as e:
        errors = e.update_error_dict(errors)
    try:
        instance.clean()
    except ValidationError as e:
        errors = e.update_error_dict(errors)
    # uniqueness, then constraints, only for the fields that passed so far
    for step in (instance.validate_unique, partial(validate_constraints, instance)):
        excluded |= {name for name in errors if name != NON_FIELD_ERRORS}
        try:
            step(exclude=excluded)
        except ValidationError as e:
            errors = e.update_error_dict(errors)
    if errors:
        raise ValidationError(errors)


def validate_constraints(
    instance: models.Model, exclude: set[str] | None = None
) -> None:
    """Model.validate_constraints, its CHECK constraints in one query."""
    exclude = exclude or set()
    using = router.db_for_write(type(instance), instance=instance)
    errors: dict = {}
    checks: list[models.CheckConstraint] = []
    for model_class, constraints in instance.get_constraints():
        for constraint in constraints:
            if type(constraint) is models.CheckConstraint and model_class is type(
                instance
            ):
                checks.append(constraint)
                continue
            try:
                constraint.validate(model_class, instance, exclude=exclude, using=using)
            except ValidationError as e:
                fields: tuple[str, ...] = tuple(getattr(constraint, "fields", ()))
                if getattr(e, "code", None) == "unique" and len(fields) == 1:
                    errors.setdefault(fields[0], []).append(e)
                else:
                    errors = e.update_error_dict(errors)
    for constraint in _failed_checks(instance, checks, exclude, using):
        errors = ValidationError(
            constraint.get_violation_error_message(),
            code=constraint.violation_error_code,
        ).update_error_dict(errors)
    if errors:
        raise ValidationError(errors)


def _failed_checks(
    instance: models.Model,
    checks: list[models.CheckConstraint],
    exclude: set[str],
    using: str,
) -> list[models.CheckConstraint]:
    """The constraints among `checks` that the row's values break."""
    if not checks:
        return []
    query = Query(None)
    meta = instance._meta
    # the row's values as expressions, as Django's CheckConstraint.validate reads them
    against = instance._get_field_expression_map(  # type: ignore[attr-defined]
        meta=meta, exclude=exclude
    )
    for name, value in against.items():
        if not hasattr(value, "resolve_expression"):
            value = Value(value)
        query.add_annotation(value, name, select=False)
    asked = []
    for n, constraint in enumerate(checks):
        try:
            query.add_annotation(
                Coalesce(constraint.condition, True, output_field=BooleanField()),
                f"check_{n}",
            )
        except FieldError:
            continue  # it reads an excluded field: not checked (as Django does)
        asked.append(constraint)
    if not asked:
        return []
    connection = connections[using]
    atomic = (
        transaction.atomic(using=using) if connection.in_atomic_block else nullcontext()
    )
    try:
        with atomic:
            row = query.get_compiler(using=using).execute_sql(SINGLE)
    except DatabaseError as e:
        logger.warning("checking %s's constraints at once: %s", meta.label, e)
        failed = []
        for constraint in asked:
            try:
                constraint.validate(
                    type(instance), instance, exclude=exclude, using=using
                )
            except ValidationError:
                failed.append(constraint)
        return failed
    return [c for c, ok in zip(asked, row, strict=True) if not ok]
