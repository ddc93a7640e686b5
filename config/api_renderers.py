"""The API's JSON renderer: DRF's output, written by orjson.

DRF's JSONRenderer goes through `json.dumps` with its own encoder; orjson
writes the same compact UTF-8 JSON several times faster (a page of 50 posts
is most of a request's rendering). What orjson does not know natively, or
would write differently from DRF (dates and times, Decimals, lazy strings,
querysets), goes through DRF's own encoder, so every answer is unchanged.
"""

from __future__ import annotations

import hashlib

import orjson
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

_encoder = JSONEncoder()
# dates and times through DRF's encoder (its ISO format, milliseconds, 'Z')
_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
# DRF escapes these two (valid JSON, but not valid JavaScript before ES2019)
_LINE_SEPARATORS = ("\u2028".encode(), "\u2029".encode())


class ORJSONRenderer(JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        renderer_context = renderer_context or {}
        if self.get_indent(accepted_media_type, renderer_context):
            # ?indent / Accept: ...; indent=4 asks for pretty output: DRF's own
            return super().render(data, accepted_media_type, renderer_context)
        out = orjson.dumps(data, default=_encoder.default, option=_OPTIONS)
        if _LINE_SEPARATORS[0] in out or _LINE_SEPARATORS[1] in out:
            out = out.replace(_LINE_SEPARATORS[0], b"\\u2028").replace(
                _LINE_SEPARATORS[1], b"\\u2029"
            )
        return out


def answer_etag(data) -> str:
    """A strong ETag of the JSON answer `data` (what ORJSONRenderer writes)."""
    body = ORJSONRenderer().render(data)
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'
