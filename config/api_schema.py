"""The API's OpenAPI AutoSchema (apart from config.api: DRF imports it while
rest_framework.generics is still loading)."""

from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from drf_spectacular.openapi import AutoSchema as DrfSpectacularAutoSchema
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField(required=False)


class AutoSchema(DrfSpectacularAutoSchema):
    """Documents the error answers every operation can give."""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        errors = {
            "401": "Not authenticated.",
            "403": "No permission.",
            "429": "Throttled.",
        }
        method = self.method.upper()
        if (
            method in ("POST", "PUT", "PATCH")
            or self.get_filter_backends()
            # a view that checks its own query parameters
            or getattr(self.view, "validates_query_params", False)
        ):
            errors["400"] = "Invalid input; the body names the fields."
        # Detail routes, and lists too (a page number past the end).
        errors["404"] = "Not found."
        if method in ("POST", "PUT", "PATCH", "DELETE"):
            errors["409"] = "Conflicts with the current state or a database rule."
        for code, description in errors.items():
            if code in responses:
                continue
            if code == "400":
                # Field errors: {"field": ["message", ...], "nested": {...}} or
                # {"detail": "...", "code": "..."} for a malformed body.
                responses[code] = {
                    "content": {
                        "application/json": {
                            "schema": {"type": "object", "additionalProperties": {}}
                        }
                    },
                    "description": description,
                }
                continue
            responses[code] = self._get_response_for_code(ErrorSerializer, code)
            responses[code]["description"] = description
        return responses


class TokenScheme(KnoxTokenScheme):
    """The project's knox token class in the schema (`Authorization: Token …`)."""

    target_class = "config.api_auth.TokenAuthentication"
    name = "tokenAuth"
