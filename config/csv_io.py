"""CSV through the API with django-import-export's resources: the body
parser, the import report (dry run or all-or-none) and the export response.
The admin uses the same resources through the library's own pages."""

from __future__ import annotations

import codecs
import uuid
from typing import Any

import tablib
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from import_export.formats.base_formats import CSV
from rest_framework import serializers
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser
from rest_framework.response import Response

from config.api_parsers import PayloadTooLarge


def uuid_or_none(value: Any) -> uuid.UUID | None:
    """A cell's UUID, or None when it holds none."""
    try:
        return uuid.UUID(str(value).strip())
    except ValueError:
        return None


def column_uuids(dataset: tablib.Dataset, name: str) -> set[uuid.UUID]:
    """Every UUID in one column (none when the file has no such column)."""
    if name not in (dataset.headers or []):
        return set()
    index = dataset.headers.index(name)
    return {pk for row in dataset if (pk := uuid_or_none(row[index])) is not None}


class CSVTextParser(BaseParser):
    """A text/csv body as its text (UTF-8, a BOM dropped), within
    DATA_UPLOAD_MAX_MEMORY_SIZE."""

    media_type = "text/csv"

    def parse(
        self, stream: Any, media_type: Any = None, parser_context: Any = None
    ) -> Any:  # the text: DRF hands it on as request.data
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(raw) > limit:
            raise PayloadTooLarge()
        try:
            return codecs.decode(raw, "utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ParseError(f"The CSV is not UTF-8: {exc}") from None


def read_csv(text: str) -> tablib.Dataset:
    """The rows of a CSV text; ValidationError when it is not one."""
    if not text.strip():
        raise ValidationError("The CSV is empty: send a header row and rows.")
    try:
        dataset = CSV().create_dataset(text)
    except Exception as exc:  # tablib's parsers raise many kinds  # noqa: BLE001
        raise ValidationError(f"This is not a CSV file: {exc}") from None
    if not dataset.headers:
        raise ValidationError("The CSV has no header row.")
    return dataset


def import_report(
    resource: Any, text: str, *, dry_run: bool, user: Any = None
) -> dict[str, Any]:
    """Import a CSV with the resource, all or none: on a dry run, or when a
    row is wrong, nothing stays. The report: each wrong row's errors by
    column, and what was written."""
    dataset = read_csv(text)
    result = resource.import_data(
        dataset,
        dry_run=dry_run,
        raise_errors=False,
        use_transactions=True,
        rollback_on_validation_errors=True,
        user=user,
    )
    errors = [
        {"row": invalid.number, "errors": invalid.error_dict}
        for invalid in result.invalid_rows
    ]
    for number, row_errors in result.row_errors():
        errors.append(
            {"row": number, "errors": {"__all__": [str(e.error) for e in row_errors]}}
        )
    file_errors = [_message(e.error) for e in result.base_errors]
    if file_errors:
        errors = []  # the rows were not read: the file's problem says why
    failed = bool(errors or file_errors)
    return {
        "dry_run": dry_run,
        "imported": 0 if dry_run or failed else len(dataset),
        "rows": len(dataset),
        "valid": len(dataset) - len(errors),
        "errors": sorted(errors, key=lambda e: e["row"]),
        "file_errors": file_errors,
    }


def import_response(resource: Any, request: Any) -> Response:
    """An API import: the CSV body through the resource, ?dry_run=1 for the
    report only. 200 (dry run) / 201 (imported) / 400 with the row errors."""
    dry_run = request.query_params.get("dry_run") in ("1", "true", "yes")
    text = request.data if isinstance(request.data, str) else ""
    report = import_report(resource, text, dry_run=dry_run, user=request.user)
    failed = report["errors"] or report["file_errors"]
    code = 400 if failed else (200 if dry_run else 201)
    return Response(ImportReportSerializer(report).data, status=code)


def _message(error: Any) -> str:
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    return str(error)


def export_response(resource: Any, queryset: Any, filename: str) -> HttpResponse:
    """The queryset as a CSV download, by the resource's columns."""
    dataset = resource.export(queryset=queryset)
    response = HttpResponse(
        CSV().export_data(dataset), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class ImportRowSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="1 is the first row under the header.")
    # the answer's key; only ever serialized, never validated, so the
    # Serializer.errors property it shadows is not used
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField())
    )


class ImportReportSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField()
    imported = serializers.IntegerField(
        help_text="Rows written (0 on a dry run or an error)."
    )
    rows = serializers.IntegerField()
    valid = serializers.IntegerField()
    errors = ImportRowSerializer(many=True)  # type: ignore[assignment]
    file_errors = serializers.ListField(child=serializers.CharField())


# what an import action declares in the OpenAPI schema
IMPORT_SCHEMA: dict[str, Any] = {
    "request": {"text/csv": str},
    "responses": {
        200: ImportReportSerializer,
        201: ImportReportSerializer,
        400: OpenApiResponse(
            description="The report (as for 200) with each bad row's errors by "
            "column, or a body that is not a UTF-8 CSV ({detail})."
        ),
    },
    "parameters": [
        OpenApiParameter(
            "dry_run", bool, description="1: check every row, write nothing."
        )
    ],
}
