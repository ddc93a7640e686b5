"""Connecting accounts with OAuth 2.0 and keeping their tokens fresh.

The authorization code grant, client side, through Authlib's requests client:
`begin` builds the provider's authorize URL (state, PKCE S256 where the
provider supports it), `complete` exchanges the code, takes Meta's long-lived
token (and the Page token), asks the platform who the account is and returns
what to store; `refresh` renews a token before it expires.

Providers (app credentials from the environment, never from the database):
- Instagram and Facebook Pages: one Meta app (META_APP_ID / META_APP_SECRET),
  Facebook Login for Business; no PKCE; the code is exchanged at the Graph
  API's /oauth/access_token (GET), then for a long-lived user token (about 60
  days, `fb_exchange_token`), which is also how it is renewed. The Page
  token read with a long-lived user token does not expire.
- X: PKCE required; a confidential client (HTTP Basic at the token endpoint);
  `offline.access` brings a refresh token, which X rotates on every refresh.
- YouTube: Google's endpoints; PKCE; `access_type=offline` and
  `prompt=consent` so that Google issues a refresh token every time.

What is stored in `auth_data` is described in platforms/identity.py. No token
ever reaches an exception message, a log line or a page: errors say what the
provider answered (its error code and description, scrubbed, cut short).
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from dataclasses import dataclass, field

import requests
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from django.conf import settings
from django.utils import timezone

from logs.scrub import scrub_text
from platforms import identity
from platforms.identity import Identity, IdentityError
from platforms.models import Platform

LABELS = dict(Platform.choices)


class OAuthFailure(Exception):
    """Connecting or refreshing failed; `message` is safe to show a person.

    `permanent`: the provider refused (a revoked grant, a refused consent, a
    bad configuration); otherwise trying again later may work.
    """

    def __init__(self, message: str, *, permanent: bool = True):
        super().__init__(message)
        self.message = message
        self.permanent = permanent


@dataclass(frozen=True)
class Provider:
    """One platform's OAuth client configuration."""

    platform: str
    family: str  # meta, x, google: shared app credentials and refresh rules
    client_id_setting: str
    client_secret_setting: str
    authorize_url_setting: str
    scopes: tuple[str, ...]
    pkce: bool
    token_auth_method: str = "client_secret_post"
    scope_separator: str = " "
    authorize_params: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        return LABELS.get(self.platform, self.platform)

    @property
    def client_id(self) -> str:
        return getattr(settings, self.client_id_setting, "")

    @property
    def client_secret(self) -> str:
        return getattr(settings, self.client_secret_setting, "")

    @property
    def authorize_url(self) -> str:
        return getattr(settings, self.authorize_url_setting)

    @property
    def token_url(self) -> str:
        if self.family == "meta":
            base = settings.GRAPH_API_BASE.rstrip("/")
            return f"{base}/{settings.GRAPH_API_VERSION}/oauth/access_token"
        if self.family == "x":
            return settings.X_OAUTH_TOKEN_URL
        return settings.GOOGLE_OAUTH_TOKEN_URL

    @property
    def scope(self) -> str:
        return self.scope_separator.join(self.scopes)


def _meta(platform: str, scopes: tuple[str, ...]) -> Provider:
    """Instagram and Facebook Pages: one Meta app, Facebook Login, no PKCE."""
    return Provider(
        platform=platform,
        family="meta",
        client_id_setting="META_APP_ID",
        client_secret_setting="META_APP_SECRET",
        authorize_url_setting="META_OAUTH_AUTHORIZE_URL",
        scopes=scopes,
        pkce=False,
        scope_separator=",",
    )


PROVIDERS = {
    "instagram": _meta(
        "instagram",
        (
            "instagram_basic",
            "instagram_content_publish",
            "instagram_manage_comments",
            "instagram_manage_insights",
            "pages_show_list",
            "pages_read_engagement",
            "business_management",
        ),
    ),
    "facebook": _meta(
        "facebook",
        (
            "pages_show_list",
            "pages_read_engagement",
            "pages_manage_posts",
            "pages_manage_engagement",
            "read_insights",
            "business_management",
        ),
    ),
    "twitter": Provider(
        platform="twitter",
        family="x",
        client_id_setting="X_CLIENT_ID",
        client_secret_setting="X_CLIENT_SECRET",
        authorize_url_setting="X_OAUTH_AUTHORIZE_URL",
        scopes=(
            "tweet.read",
            "tweet.write",
            "users.read",
            "like.write",
            "follows.write",
            "media.write",
            "offline.access",
        ),
        pkce=True,
        token_auth_method="client_secret_basic",
    ),
    "youtube": Provider(
        platform="youtube",
        family="google",
        client_id_setting="GOOGLE_CLIENT_ID",
        client_secret_setting="GOOGLE_CLIENT_SECRET",
        authorize_url_setting="GOOGLE_OAUTH_AUTHORIZE_URL",
        scopes=(
            "https://www.googleapis.com/auth/youtube.upload",
            "https://www.googleapis.com/auth/youtube.readonly",
            "https://www.googleapis.com/auth/youtube.force-ssl",
        ),
        pkce=True,
        authorize_params={
            "access_type": "offline",
            "prompt": "consent",
            "include_granted_scopes": "true",
        },
    ),
}
# Permissions without which a Meta account cannot do its job: a person who
# unticks one in Meta's dialog is told, instead of a half-working account.
META_REQUIRED = {
    "instagram": {"instagram_basic", "instagram_content_publish", "pages_show_list"},
    "facebook": {"pages_show_list", "pages_manage_posts"},
}


def provider_for(platform: str) -> Provider | None:
    return PROVIDERS.get(platform)


def missing_settings(provider: Provider) -> list[str]:
    """The environment variables a connect needs that are not set."""
    missing = [
        name
        for name in (provider.client_id_setting, provider.client_secret_setting)
        if not getattr(settings, name, "")
    ]
    if not settings.OAUTH_REDIRECT_URI:
        missing.append("OAUTH_REDIRECT_URI")
    return missing


def _session(provider: Provider, *, scope: str | None = None) -> OAuth2Session:
    return OAuth2Session(
        client_id=provider.client_id,
        client_secret=provider.client_secret,
        scope=scope,
        redirect_uri=settings.OAUTH_REDIRECT_URI,
        token_endpoint_auth_method=provider.token_auth_method,
        code_challenge_method="S256" if provider.pkce else None,
    )


@dataclass(frozen=True)
class Authorization:
    url: str
    state: str
    code_verifier: str | None


def begin(provider: Provider) -> Authorization:
    """The provider's authorize URL for a new flow, with its state and verifier."""
    missing = missing_settings(provider)
    if missing:
        raise OAuthFailure(
            f"{provider.label} cannot be connected: set {', '.join(missing)} in "
            "the environment (see README, 'Connecting accounts')."
        )
    verifier = secrets.token_urlsafe(64) if provider.pkce else None
    with _session(provider, scope=provider.scope) as session:
        url, state = session.create_authorization_url(
            provider.authorize_url,
            state=secrets.token_urlsafe(32),
            code_verifier=verifier,
            **provider.authorize_params,
        )
    return Authorization(url=url, state=state, code_verifier=verifier)


class _NoClientAuth(requests.auth.AuthBase):
    """Meta's GET token endpoint takes the client id and secret as parameters."""

    def __call__(self, request):
        return request


def _provider_error(provider: Provider, exc: Exception) -> OAuthFailure:
    """An OAuthFailure for what went wrong, never quoting a URL or a token."""
    if isinstance(exc, OAuthError):
        error = exc.error
        if isinstance(error, dict):  # Meta: {"message", "type", "code", ...}
            text = f"{error.get('type') or 'error'}: {error.get('message') or ''}"
        else:
            text = f"{error}: {exc.description or ''}" if exc.description else error
        return OAuthFailure(
            f"{provider.label} refused: {scrub_text(str(text))[:200]}",
            permanent=True,
        )
    if isinstance(exc, requests.Timeout):
        return OAuthFailure(
            f"{provider.label} did not answer in time.", permanent=False
        )
    if isinstance(exc, requests.ConnectionError):
        return OAuthFailure(f"{provider.label} cannot be reached.", permanent=False)
    if isinstance(exc, requests.HTTPError):
        status = getattr(exc.response, "status_code", None)
        return OAuthFailure(
            f"{provider.label}'s token endpoint answered HTTP {status}.",
            permanent=status is not None and status < 500 and status != 429,
        )
    if isinstance(exc, ValueError):
        return OAuthFailure(
            f"{provider.label}'s token endpoint answered something that is not a "
            "token.",
            permanent=False,
        )
    return OAuthFailure(f"{provider.label}: {type(exc).__name__}.", permanent=False)


def _fetch(provider: Provider, action) -> dict:
    try:
        token = action()
    except (OAuthError, requests.RequestException, ValueError) as exc:
        raise _provider_error(provider, exc) from None
    if not isinstance(token, dict) or not token.get("access_token"):
        raise OAuthFailure(f"{provider.label} answered without an access token.")
    return dict(token)


def _meta_long_lived(provider: Provider, token: str) -> dict:
    """Exchange a Meta user token for a long-lived one (also its renewal)."""
    try:
        response = requests.get(
            provider.token_url,
            params={
                "grant_type": "fb_exchange_token",
                "client_id": provider.client_id,
                "client_secret": provider.client_secret,
                "fb_exchange_token": token,
            },
            headers={"Accept": "application/json"},
            timeout=settings.OAUTH_TIMEOUT,
        )
    except requests.RequestException as exc:
        raise _provider_error(provider, exc) from None
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise OAuthFailure(
            f"{provider.label}'s token endpoint answered HTTP "
            f"{response.status_code} without a token.",
            permanent=response.status_code < 500,
        )
    if "error" in body or not body.get("access_token"):
        raise _provider_error(
            provider,
            OAuthError(error=body.get("error") or "no access token"),
        )
    if body.get("expires_in"):
        body["expires_at"] = int(time.time()) + int(body["expires_in"])
    return body


def _scopes(token: dict, provider: Provider) -> list[str]:
    granted = token.get("scope")
    if isinstance(granted, str) and granted.strip():
        return sorted(granted.replace(",", " ").split())
    if isinstance(granted, list):
        return sorted(granted)
    return list(provider.scopes)


def stored_token(token: dict, provider: Provider, previous: dict | None = None) -> dict:
    """The token part of auth_data (kept keys of `previous` are not touched)."""
    data = dict(previous or {})
    data["access_token"] = token["access_token"]
    data["token_type"] = str(token.get("token_type") or "bearer").lower()
    if token.get("refresh_token"):
        data["refresh_token"] = token["refresh_token"]
    if token.get("expires_at"):
        data["expires_at"] = int(token["expires_at"])
    else:
        data.pop("expires_at", None)
    if token.get("scope") or "scopes" not in data:
        data["scopes"] = _scopes(token, provider)
    data["obtained_at"] = timezone.now().isoformat()
    return data


def expires_at(auth_data: dict | None) -> dt.datetime | None:
    """When the stored access token expires (None: it does not, or unknown)."""
    value = (auth_data or {}).get("expires_at")
    if not value:
        return None
    return dt.datetime.fromtimestamp(int(value), tz=dt.UTC)


@dataclass(frozen=True)
class Connected:
    """What a finished flow stores: the credentials and the account's identity."""

    auth_data: dict
    identity: Identity


def complete(
    provider: Provider,
    *,
    code: str,
    code_verifier: str | None,
    account_id: str | None = None,
) -> Connected:
    """Exchange the authorization code and find out whose account it is.

    `account_id` (the account's stored platform id, when staff set one) picks
    the Page or Instagram account among several the person manages.
    """
    if provider.family == "meta":
        with _session(provider) as session:
            short = _fetch(
                provider,
                lambda: session.fetch_token(
                    provider.token_url,
                    method="GET",
                    auth=_NoClientAuth(),
                    code=code,
                    client_id=provider.client_id,
                    client_secret=provider.client_secret,
                    timeout=settings.OAUTH_TIMEOUT,
                ),
            )
        token = _meta_long_lived(provider, short["access_token"])
        auth_data = stored_token(token, provider)
        try:
            granted = identity.meta_granted_permissions(
                auth_data["access_token"], provider.platform
            )
            missing = META_REQUIRED[provider.platform] - set(granted)
            if missing:
                raise OAuthFailure(
                    f"{provider.label} was connected without "
                    f"{', '.join(sorted(missing))}: connect again and allow "
                    "every permission asked for."
                )
            auth_data["scopes"] = granted
            return _meta_account(provider, auth_data, account_id)
        except IdentityError as exc:
            raise OAuthFailure(
                exc.message, permanent=exc.credentials_rejected
            ) from None
    with _session(provider) as session:
        token = _fetch(
            provider,
            lambda: session.fetch_token(
                provider.token_url,
                code=code,
                code_verifier=code_verifier,
                timeout=settings.OAUTH_TIMEOUT,
            ),
        )
    auth_data = stored_token(token, provider)
    if provider.platform == "twitter" and "refresh_token" not in auth_data:
        raise OAuthFailure(
            "X issued no refresh token (offline.access was not granted): the "
            "account would stop working within two hours. Connect again."
        )
    try:
        who = identity.whoami(provider.platform, auth_data)
    except IdentityError as exc:
        raise OAuthFailure(exc.message, permanent=exc.credentials_rejected) from None
    # the adapters address the account by these ids
    auth_data[ACCOUNT_ID_KEY[provider.platform]] = who.account_id
    return Connected(auth_data=auth_data, identity=who)


# Where the adapters read the platform's own id of the account in auth_data.
ACCOUNT_ID_KEY = {"twitter": "user_id", "youtube": "channel_id"}


def _meta_account(
    provider: Provider, auth_data: dict, account_id: str | None
) -> Connected:
    """Choose the Facebook Page (or the Instagram account linked to a Page)."""
    pages = identity.meta_pages(auth_data["access_token"], provider.platform)
    if provider.platform == "instagram":
        candidates = [
            (page, page["instagram_business_account"])
            for page in pages
            if (page.get("instagram_business_account") or {}).get("id")
        ]
        if not candidates:
            raise OAuthFailure(
                "No Instagram professional account is linked to a Facebook Page "
                "you manage: link one in Instagram's settings, then connect again."
            )
        chosen = _choose(
            candidates,
            account_id,
            key=lambda pair: (str(pair[1]["id"]), pair[0]["id"]),
            describe=lambda pair: f"@{pair[1].get('username', '?')} ({pair[1]['id']})",
            what="Instagram accounts",
        )
        page, ig = chosen
        auth_data.update(
            ig_user_id=str(ig["id"]),
            page_id=str(page["id"]),
            page_access_token=page.get("access_token") or "",
        )
    else:
        if not pages:
            raise OAuthFailure(
                "This Facebook login manages no Page (or none was shared with the "
                "app): choose the Page in Meta's dialog, then connect again."
            )
        page = _choose(
            pages,
            account_id,
            key=lambda p: (str(p["id"]),),
            describe=lambda p: f"{p.get('name', '?')} ({p['id']})",
            what="Pages",
        )
        if not page.get("access_token"):
            raise OAuthFailure("Meta returned the Page without a Page access token.")
        auth_data.update(
            page_id=str(page["id"]), page_access_token=page["access_token"]
        )
    try:
        who = identity.whoami(provider.platform, auth_data)
    except IdentityError as exc:
        raise OAuthFailure(exc.message, permanent=exc.credentials_rejected) from None
    return Connected(auth_data=auth_data, identity=who)


def _meta_page_token(provider: Provider, user_token: str, page_id: str) -> str:
    """The Page's token as Meta gives it now for `user_token` ('' when Meta
    gives none, as for some Instagram logins); OAuthFailure when the login no
    longer manages the Page."""
    try:
        pages = identity.meta_pages(user_token, provider.platform)
    except IdentityError as exc:
        raise OAuthFailure(exc.message, permanent=exc.credentials_rejected) from None
    for page in pages:
        if str(page.get("id")) == str(page_id):
            return str(page.get("access_token") or "")
    raise OAuthFailure(
        f"The Facebook Page {page_id} is no longer among the Pages this login "
        "manages (or shares with the app): connect the account again."
    )


def _choose(candidates: list, account_id: str | None, *, key, describe, what: str):
    if account_id:
        for candidate in candidates:
            if str(account_id) in key(candidate):
                return candidate
        raise OAuthFailure(
            f"The account id {account_id} is not among the {what} this login "
            f"manages ({', '.join(describe(c) for c in candidates)})."
        )
    if len(candidates) == 1:
        return candidates[0]
    raise OAuthFailure(
        f"This login manages several {what} "
        f"({', '.join(describe(c) for c in candidates)}): enter the id of the one "
        "to connect in the account's 'Account id' field, save, and connect again."
    )


def refresh(platform: str, auth_data: dict | None) -> dict:
    """Renew the stored access token; returns the new auth_data.

    Raises OAuthFailure: permanent when the provider refused (revoked or
    expired grant, no refresh token), temporary otherwise.
    """
    provider = provider_for(platform)
    if provider is None:
        raise OAuthFailure(f"{LABELS.get(platform, platform)} has no OAuth tokens.")
    missing = [
        name
        for name in (provider.client_id_setting, provider.client_secret_setting)
        if not getattr(settings, name, "")
    ]
    if missing:
        raise OAuthFailure(
            f"{provider.label} tokens cannot be renewed: set {', '.join(missing)} "
            "in the environment."
        )
    auth_data = dict(auth_data or {})
    if provider.family == "meta":
        current = auth_data.get("access_token")
        if not current:
            raise OAuthFailure(
                f"The {provider.label} account has no token: connect it."
            )
        token = _meta_long_lived(provider, current)
        renewed = stored_token(token, provider, previous=auth_data)
        if renewed.get("page_id"):
            # The Page token publishes (Facebook). Taken from a long-lived user
            # token it does not expire, but one that did (taken from a
            # short-lived token, or refused with Meta's 190/463) is only
            # renewed by asking for the Page again with the new user token.
            renewed["page_access_token"] = _meta_page_token(
                provider, renewed["access_token"], renewed["page_id"]
            ) or renewed.get("page_access_token", "")
        return renewed
    refresh_token = auth_data.get("refresh_token")
    if not refresh_token:
        raise OAuthFailure(
            f"The {provider.label} account has no refresh token: connect it again."
        )
    with _session(provider) as session:
        token = _fetch(
            provider,
            lambda: session.refresh_token(
                provider.token_url,
                refresh_token=refresh_token,
                timeout=settings.OAUTH_TIMEOUT,
            ),
        )
    return stored_token(token, provider, previous=auth_data)


def refresh_ahead(platform: str) -> dt.timedelta | None:
    """How long before expiry `platform`'s tokens are renewed (None: never)."""
    provider = provider_for(platform)
    if provider is None:
        return None
    return dt.timedelta(minutes=settings.OAUTH_REFRESH_AHEAD_MINUTES[provider.family])
