"""The API's JSON parser: DRF's, with a nesting limit and the body size limit."""

import codecs

import orjson
from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser
from rest_framework.settings import api_settings

from config.json_limits import TooDeep, depth_problem, loads


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
        if codecs.lookup(encoding).name == "utf-8":
            return self._parse_utf8(raw)
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

    @staticmethod
    def _parse_utf8(raw: bytes):
        """orjson: strict JSON (no NaN or Infinity, like STRICT_JSON), several
        times faster than the json module; the same depth limit afterwards."""
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            if "recursion" in str(exc).lower():
                # orjson stops at 1024 levels: far past the limit anyway
                raise ParseError(str(TooDeep(depth_message()))) from None
            raise ParseError(f"JSON parse error - {exc}") from None
        problem = depth_problem(data)
        if problem:
            raise ParseError(problem)
        return data


def depth_message() -> str:
    from config.json_limits import max_depth

    return f"JSON is nested more than {max_depth()} levels deep."
