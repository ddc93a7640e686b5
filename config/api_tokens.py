"""API tokens: create (shown once), list, revoke, prune; and the revoke endpoints."""

import datetime as dt

from django.db.models import Q
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from knox.models import AuthToken
from knox.settings import knox_settings
from rest_framework import permissions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api_auth import TokenAuthentication

# --- services ------------------------------------------------------------------


def api_token_create(*, user, days: int | None = None):
    """A new token for `user`: returns (row, token). The token is not stored.

    `days` overrides API_TOKEN_TTL_DAYS (0: until revoked). Refused when the
    user already holds API_TOKEN_LIMIT_PER_USER live tokens.
    """
    limit = knox_settings.TOKEN_LIMIT_PER_USER
    if limit is not None and api_tokens_live(user=user).count() >= limit:
        raise ValueError(
            f"{user.get_username()} already has {limit} live tokens: revoke one first."
        )
    ttl = knox_settings.TOKEN_TTL if days is None else None
    if days:
        ttl = dt.timedelta(days=days)
    return AuthToken.objects.create(user=user, expiry=ttl)


def api_tokens_live(*, user):
    return AuthToken.objects.filter(user=user).filter(
        Q(expiry__isnull=True) | Q(expiry__gt=timezone.now())
    )


def api_tokens_revoke(*, user, key: str | None = None) -> int:
    """Revoke one token of `user` (by its first characters) or all of them."""
    tokens = AuthToken.objects.filter(user=user)
    if key:
        tokens = tokens.filter(token_key__startswith=key[:15])
    return tokens.delete()[0]


def api_tokens_prune() -> int:
    """Delete expired tokens (they are refused anyway)."""
    return AuthToken.objects.filter(expiry__lt=timezone.now()).delete()[0]


# --- API: revoke the token in use, or every token of its user -----------------


class RevokeTokenView(APIView):
    """POST: the token that authenticated this request stops working."""

    authentication_classes = [TokenAuthentication]
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        request.auth.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class RevokeAllTokensView(APIView):
    """POST: every token of this request's user stops working."""

    authentication_classes = [TokenAuthentication]
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        api_tokens_revoke(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
