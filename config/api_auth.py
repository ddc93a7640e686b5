"""API token authentication (kept apart from config.api_tokens: DRF imports
DEFAULT_AUTHENTICATION_CLASSES while rest_framework.views is still loading).

API tokens: django-rest-knox, stored hashed, with an expiry, revocable one by one.

A token is shown once, when it is created (`manage.py api_token create`, the
admin's "Auth tokens" add page); the database
keeps only its SHA-512 digest and its first 15 characters (to find it).
"""

from django.utils import timezone
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from rest_framework import exceptions
from rest_framework.authentication import get_authorization_header

from config import api_gate


class TokenAuthentication(KnoxTokenAuthentication):
    """knox's token check without its per-request scan of the user's other tokens.

    knox reads every token of the user on each request to delete the expired
    ones; here an expired token is refused (and deleted) when it is used, and
    the others are removed by `manage.py api_token prune` (the nightly task).
    One query per request: the token with its user; and none at all while
    this process holds the token, validated in the gate's one Redis round
    trip (config.api_gate).
    """

    def authenticate(self, request):
        auth = get_authorization_header(request).split()
        if len(auth) != 2 or auth[0].lower() != b"token":
            return super().authenticate(request)  # knox's answers and errors
        try:
            token = auth[1].decode("utf-8")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        found = api_gate.authenticate(request, token)
        if found is not None:
            return found
        stamp = api_gate.versions()  # before the database is read
        user, auth_token = super().authenticate(request)
        api_gate.remember(token, user, auth_token, stamp)
        return user, auth_token

    def _cleanup_token(self, auth_token) -> bool:
        if auth_token.expiry is not None and auth_token.expiry < timezone.now():
            auth_token.delete()
            return True
        return False

    def authenticate_credentials(self, token):
        try:
            return super().authenticate_credentials(token)
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
