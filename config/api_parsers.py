"""The API's JSON parser: DRF's, with a nesting limit and the body size limit."""

import codecs

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser
from rest_framework.settings import api_settings

from config.json_limits import TooDeep, loads


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


def _refuse_constant(name):
    raise ValueError(f"Out of range float values are not JSON compliant: {name!r}")


class LimitedJSONParser(JSONParser):
    """A body (and every JSON field inside it) nested deeper than JSON_MAX_DEPTH
    is a 400, never a RecursionError; one over DATA_UPLOAD_MAX_MEMORY_SIZE a 413."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(raw) > limit:
            raise PayloadTooLarge()
        try:
            text = codecs.decode(raw, encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        kwargs = (
            {"parse_constant": _refuse_constant} if api_settings.STRICT_JSON else {}
        )
        try:
            return loads(text, **kwargs)
        except TooDeep as exc:
            raise ParseError(str(exc)) from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
