"""A loopback fake of the platforms' OAuth 2.0 authorization servers and of the
identity endpoints the back-office asks after connecting.

It behaves as the providers document it:
- X (OAuth 2.0 Authorization Code Flow with PKCE): /i/oauth2/authorize needs
  `code_challenge` with `code_challenge_method=S256`; /2/oauth2/token takes a
  confidential client's HTTP Basic credentials and the `code_verifier`, issues
  2-hour access tokens and, with `offline.access`, a refresh token that is
  rotated on every refresh; GET /2/users/me answers {"data": {id, name, username}}.
- Meta (Facebook Login): /dialog/oauth; GET /oauth/access_token exchanges the
  code (client id and secret as parameters), and `grant_type=fb_exchange_token`
  gives a long-lived token (expires_in about 60 days); /me/permissions,
  /me/accounts (Pages with Page tokens and linked Instagram business
  accounts), /<ig-user-id> and /<page-id>; errors as {"error": {"message",
  "type": "OAuthException", "code", "fbtrace_id"}}, code 190 for a bad token.
- Google: /o/oauth2/v2/auth (PKCE, access_type=offline); /token with the client
  credentials in the body; a refresh token on consent; YouTube
  /youtube/v3/channels?part=snippet&mine=true.
- Telegram Bot API getMe and getChat (the bot-token form).

The consent page has "Authorize app" (id=allow) and "Cancel" (id=deny)
buttons; a refused consent sends the browser back with error=access_denied,
as each provider does. Every request is recorded in `calls`.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

CLIENTS = {
    "x": ("fake-x-client", "fake-x-secret-5a1f"),
    "meta": ("1234567890", "fake-meta-secret-77b2"),
    "google": ("fake-google-client.apps.googleusercontent.com", "fake-google-secret"),
}


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class FakeOAuth:
    """Start with `with FakeOAuth() as fake:`; point settings at `fake.url`
    (`fake.settings()` gives them all) and register the redirect URI."""

    def __init__(self):
        self.calls: list[dict] = []
        self.redirect_uri = ""
        self.pending: dict[str, dict] = {}  # consent request id -> authorize params
        self.codes: dict[str, dict] = {}  # code -> what it was issued for
        self.tokens: dict[str, dict] = {}  # access token -> {family, expires_at}
        self.refresh_tokens: dict[str, str] = {}  # refresh token -> family
        self.issued: list[str] = []  # every token ever handed out
        self.refused_refresh = False  # the next refreshes answer invalid_grant
        self.token_endpoint_down = False  # 503 from every token endpoint
        self.x_user = {
            "id": "1500000000000000001",
            "name": "Luna",
            "username": "luna_x",
        }
        self.channel = {
            "id": "UCfakeChannel000000000001",
            "snippet": {"title": "Luna Vlogs", "customUrl": "@lunavlogs"},
        }
        self.pages = [
            {
                "id": "104000000000001",
                "name": "Luna Page",
                "ig": {"id": "17841400000000001", "username": "luna.ig"},
            }
        ]
        self.declined: set[str] = set()  # Meta permissions the person unticked
        self.bot = {
            "id": 7000001,
            "is_bot": True,
            "first_name": "Luna",
            "username": "luna_bot",
        }
        self.bot_token = "7000001:" + "B" * 35
        self.chats = {
            "@luna_channel": {
                "id": -1001000000001,
                "title": "Luna",
                "username": "luna_channel",
                "type": "channel",
            }
        }
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                """No access log: keep test output clean."""

            def do_GET(self):
                fake._handle(self, "GET")

            def do_POST(self):
                fake._handle(self, "POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # -- plumbing ---------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def settings(self) -> dict:
        """The settings that point the back-office at this fake."""
        return {
            "META_APP_ID": CLIENTS["meta"][0],
            "META_APP_SECRET": CLIENTS["meta"][1],
            "X_CLIENT_ID": CLIENTS["x"][0],
            "X_CLIENT_SECRET": CLIENTS["x"][1],
            "GOOGLE_CLIENT_ID": CLIENTS["google"][0],
            "GOOGLE_CLIENT_SECRET": CLIENTS["google"][1],
            "META_OAUTH_AUTHORIZE_URL": f"{self.url}/meta/dialog/oauth",
            "GRAPH_API_BASE": f"{self.url}/meta/graph",
            "INSTAGRAM_API_BASE": f"{self.url}/meta/graph",
            "GRAPH_API_VERSION": "v24.0",
            "X_OAUTH_AUTHORIZE_URL": f"{self.url}/x/i/oauth2/authorize",
            "X_OAUTH_TOKEN_URL": f"{self.url}/x/2/oauth2/token",
            "X_API_BASE": f"{self.url}/x",
            "GOOGLE_OAUTH_AUTHORIZE_URL": f"{self.url}/google/o/oauth2/v2/auth",
            "GOOGLE_OAUTH_TOKEN_URL": f"{self.url}/google/token",
            "YOUTUBE_API_ROOT": f"{self.url}/google/",
            "TELEGRAM_API_BASE": f"{self.url}/telegram",
        }

    def _handle(self, handler, method: str) -> None:
        parts = urlsplit(handler.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        form = {k: v[-1] for k, v in parse_qs(raw.decode()).items()}
        call = {
            "method": method,
            "path": parts.path,
            "query": query,
            "form": form,
            "headers": dict(handler.headers),
        }
        self.calls.append(call)
        status, body, headers = self._route(
            method, parts.path, query, form, handler.headers
        )
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
            headers = {"Content-Type": "application/json", **headers}
        else:
            data = body.encode()
            headers = {"Content-Type": "text/html; charset=utf-8", **headers}
        handler.send_response(status)
        for key, value in headers.items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _route(self, method, path, query, form, headers):
        if path in (
            "/x/i/oauth2/authorize",
            "/meta/dialog/oauth",
            "/google/o/oauth2/v2/auth",
        ):
            return self._authorize(path.split("/")[1], query)
        if path.endswith("/consent") and method == "POST":
            return self._consent(form)
        if path == "/x/2/oauth2/token" and method == "POST":
            return self._x_token(form, headers)
        if path == "/google/token" and method == "POST":
            return self._google_token(form)
        if path.startswith("/meta/graph/v24.0/"):
            path = "/meta/graph/" + path.removeprefix("/meta/graph/v24.0/")
        if path == "/meta/graph/oauth/access_token":
            return self._meta_token({**query, **form})
        if path == "/x/2/users/me":
            return self._x_me(headers)
        if path == "/google/youtube/v3/channels":
            return self._youtube_channels(query, headers)
        if path.startswith("/meta/graph/"):
            return self._graph(path.removeprefix("/meta/graph/"), query)
        if path.startswith("/telegram/bot"):
            return self._telegram(path.removeprefix("/telegram/bot"), query)
        return 404, {"error": "not found"}, {}

    # -- authorization ----------------------------------------------------------

    def _authorize(self, family: str, query: dict):
        client_id = query.get("client_id")
        problems = []
        if client_id != CLIENTS[family][0]:
            problems.append("unknown client_id")
        if query.get("redirect_uri") != self.redirect_uri:
            problems.append("redirect_uri is not the one registered for this app")
        if family != "meta" and query.get("response_type") != "code":
            problems.append("response_type must be code")
        if not query.get("state"):
            problems.append("state is missing")
        if family == "x" and (
            not query.get("code_challenge")
            or query.get("code_challenge_method") != "S256"
        ):
            problems.append("PKCE (code_challenge, S256) is required")
        if not query.get("scope"):
            problems.append("scope is missing")
        if problems:
            return 400, f"<h1>Error</h1><p>{html.escape('; '.join(problems))}</p>", {}
        request_id = secrets.token_urlsafe(8)
        self.pending[request_id] = {"family": family, **query}
        scopes = html.escape(query["scope"])
        page = (
            f"<!doctype html><title>Fake {family} sign-in</title>"
            f"<h1>Allow AInfluencer to use your {family} account?</h1>"
            f"<p>It asks for: <code id='scopes'>{scopes}</code></p>"
            f"<form method='post' action='/{family}/consent'>"
            f"<input type='hidden' name='request' value='{request_id}'>"
            "<button id='allow' name='decision' value='allow'>Authorize app</button> "
            "<button id='deny' name='decision' value='deny'>Cancel</button>"
            "</form>"
        )
        return 200, page, {}

    def _consent(self, form):
        pending = self.pending.pop(form.get("request", ""), None)
        if pending is None:
            return 400, "<p>This sign-in request expired.</p>", {}
        back = {"state": pending["state"]}
        if form.get("decision") != "allow":
            back["error"] = "access_denied"
            if pending["family"] == "meta":
                back.update(
                    error_code="200",
                    error_description="Permissions error",
                    error_reason="user_denied",
                )
            elif pending["family"] == "google":
                back["error_description"] = "The user denied the request."
        else:
            code = secrets.token_urlsafe(24)
            self.codes[code] = {**pending, "issued": time.time()}
            back["code"] = code
        return 302, "", {"Location": f"{pending['redirect_uri']}?{urlencode(back)}"}

    def approve(self, authorize_url: str, decision: str = "allow") -> str:
        """What a person's browser does on the consent page: returns the
        callback URL the provider sends the browser back to."""
        page = requests.get(authorize_url, timeout=10)
        assert page.status_code == 200, page.text
        request_id = page.text.split("name='request' value='")[1].split("'")[0]
        family = urlsplit(authorize_url).path.split("/")[1]
        answer = requests.post(
            f"{self.url}/{family}/consent",
            data={"request": request_id, "decision": decision},
            allow_redirects=False,
            timeout=10,
        )
        assert answer.status_code == 302, answer.text
        return answer.headers["Location"]

    # -- tokens -------------------------------------------------------------------

    def _issue(self, family: str, lifetime: int, *, refresh: bool) -> dict:
        access = f"FAKE-{family.upper()}-ACCESS-{secrets.token_hex(12)}"
        self.issued.append(access)
        self.tokens[access] = {"family": family, "expires_at": time.time() + lifetime}
        token = {"access_token": access, "token_type": "bearer", "expires_in": lifetime}
        if refresh:
            refresh_token = f"FAKE-{family.upper()}-REFRESH-{secrets.token_hex(12)}"
            self.refresh_tokens[refresh_token] = family
            self.issued.append(refresh_token)
            token["refresh_token"] = refresh_token
        return token

    def _redeem(self, family, code, redirect_uri, verifier):
        issued = self.codes.pop(code or "", None)
        if issued is None or issued["family"] != family:
            return None, "Value passed for the authorization code was invalid."
        if time.time() - issued["issued"] > 600:
            return None, "The authorization code expired."
        if redirect_uri != issued["redirect_uri"]:
            return None, "redirect_uri does not match the authorization request."
        challenge = issued.get("code_challenge")
        if challenge and s256(verifier or "") != challenge:
            return None, "code_verifier does not match the code_challenge."
        if family == "x" and not challenge:
            return None, "PKCE is required."
        return issued, None

    def _x_token(self, form, headers):
        if self.token_endpoint_down:
            return 503, {"title": "Service Unavailable"}, {}
        expected = base64.b64encode(":".join(CLIENTS["x"]).encode()).decode()
        if headers.get("Authorization") != f"Basic {expected}":
            return (
                401,
                {
                    "error": "unauthorized_client",
                    "error_description": "Missing valid authorization header",
                },
                {},
            )
        grant = form.get("grant_type")
        if grant == "authorization_code":
            issued, problem = self._redeem(
                "x",
                form.get("code"),
                form.get("redirect_uri"),
                form.get("code_verifier"),
            )
            if problem:
                return (
                    400,
                    {"error": "invalid_request", "error_description": problem},
                    {},
                )
            scope = issued["scope"]
            token = self._issue("x", 7200, refresh="offline.access" in scope.split())
            return 200, {**token, "scope": scope}, {}
        if grant == "refresh_token":
            old = form.get("refresh_token", "")
            if self.refused_refresh or self.refresh_tokens.pop(old, None) != "x":
                return (
                    400,
                    {
                        "error": "invalid_request",
                        "error_description": "Value passed for the token was invalid.",
                    },
                    {},
                )
            return (
                200,
                {
                    **self._issue("x", 7200, refresh=True),
                    "scope": "tweet.read tweet.write users.read offline.access",
                },
                {},
            )
        return 400, {"error": "unsupported_grant_type"}, {}

    def _google_token(self, form):
        if self.token_endpoint_down:
            return 503, {"error": "backend_error"}, {}
        if (form.get("client_id"), form.get("client_secret")) != CLIENTS["google"]:
            return (
                401,
                {"error": "invalid_client", "error_description": "Unauthorized"},
                {},
            )
        grant = form.get("grant_type")
        if grant == "authorization_code":
            issued, problem = self._redeem(
                "google",
                form.get("code"),
                form.get("redirect_uri"),
                form.get("code_verifier"),
            )
            if problem:
                return 400, {"error": "invalid_grant", "error_description": problem}, {}
            offline = issued.get("access_type") == "offline"
            token = self._issue("google", 3599, refresh=offline)
            return 200, {**token, "scope": issued["scope"], "token_type": "Bearer"}, {}
        if grant == "refresh_token":
            if (
                self.refused_refresh
                or self.refresh_tokens.get(form.get("refresh_token", "")) != "google"
            ):
                return (
                    400,
                    {
                        "error": "invalid_grant",
                        "error_description": "Token has been expired or revoked.",
                    },
                    {},
                )
            # Google keeps the refresh token: none in the answer
            token = self._issue("google", 3599, refresh=False)
            return 200, {**token, "token_type": "Bearer"}, {}
        return 400, {"error": "unsupported_grant_type"}, {}

    def _meta_error(self, message: str, code: int, status: int = 400):
        return (
            status,
            {
                "error": {
                    "message": message,
                    "type": "OAuthException",
                    "code": code,
                    "fbtrace_id": "AFakeTrace",
                }
            },
            {},
        )

    def _meta_token(self, params):
        if self.token_endpoint_down:
            return (
                500,
                {
                    "error": {
                        "message": "An unexpected error has occurred.",
                        "type": "OAuthException",
                        "code": 2,
                    }
                },
                {},
            )
        if (params.get("client_id"), params.get("client_secret")) != CLIENTS["meta"]:
            return self._meta_error("Error validating client secret.", 1)
        if params.get("grant_type") == "fb_exchange_token":
            current = self.tokens.get(params.get("fb_exchange_token", ""))
            if (
                self.refused_refresh
                or current is None
                or current["expires_at"] < time.time()
            ):
                return self._meta_error(
                    "Error validating access token: Session has expired.", 190
                )
            return 200, self._issue("meta", 5183944, refresh=False), {}
        issued, problem = self._redeem(
            "meta", params.get("code"), params.get("redirect_uri"), None
        )
        if problem:
            return self._meta_error(f"Invalid verification code format. {problem}", 100)
        return 200, self._issue("meta", 5400, refresh=False), {}

    # -- identity ---------------------------------------------------------------

    def _bearer(self, headers, family):
        value = headers.get("Authorization", "")
        token = value.removeprefix("Bearer ").strip()
        found = self.tokens.get(token)
        return (
            token
            if found and found["family"] == family and found["expires_at"] > time.time()
            else None
        )

    def _x_me(self, headers):
        if not self._bearer(headers, "x"):
            return (
                401,
                {
                    "title": "Unauthorized",
                    "type": "about:blank",
                    "status": 401,
                    "detail": "Unauthorized",
                },
                {},
            )
        return 200, {"data": self.x_user}, {}

    def _youtube_channels(self, query, headers):
        if not self._bearer(headers, "google"):
            return (
                401,
                {
                    "error": {
                        "code": 401,
                        "message": "Request had invalid authentication credentials.",
                        "status": "UNAUTHENTICATED",
                    }
                },
                {},
            )
        if query.get("mine") != "true" or "snippet" not in query.get("part", ""):
            return (
                400,
                {
                    "error": {
                        "code": 400,
                        "message": "No filter selected.",
                        "status": "INVALID_ARGUMENT",
                    }
                },
                {},
            )
        return (
            200,
            {
                "kind": "youtube#channelListResponse",
                "items": [{"kind": "youtube#channel", **self.channel}],
            },
            {},
        )

    def _graph(self, path, query):
        token = query.get("access_token", "")
        found = self.tokens.get(token)
        page_tokens = {
            f"FAKE-PAGE-{p['id']}": p for p in self.pages if not p.get("revoked")
        }
        if (
            found is None or found["expires_at"] < time.time()
        ) and token not in page_tokens:
            return self._meta_error(
                "Error validating access token: The session is invalid.", 190
            )
        if path == "me/permissions":
            granted = {
                "instagram_basic",
                "instagram_content_publish",
                "instagram_manage_comments",
                "instagram_manage_insights",
                "pages_show_list",
                "pages_read_engagement",
                "pages_manage_posts",
                "pages_manage_engagement",
                "read_insights",
                "business_management",
            }
            return (
                200,
                {
                    "data": [
                        {
                            "permission": p,
                            "status": "declined" if p in self.declined else "granted",
                        }
                        for p in sorted(granted)
                    ]
                },
                {},
            )
        if path == "me/accounts":
            data = []
            for p in self.pages:
                row = {
                    "id": p["id"],
                    "name": p["name"],
                    "access_token": f"FAKE-PAGE-{p['id']}",
                    "category": "Creator",
                    "tasks": ["CREATE_CONTENT", "MANAGE"],
                }
                if p.get("ig"):
                    row["instagram_business_account"] = dict(p["ig"])
                data.append(row)
            return (
                200,
                {"data": data, "paging": {"cursors": {"before": "x", "after": "y"}}},
                {},
            )
        for p in self.pages:
            if path == p["id"]:
                return (
                    200,
                    {
                        "id": p["id"],
                        "name": p["name"],
                        "link": f"https://www.facebook.com/{p['id']}",
                    },
                    {},
                )
            if p.get("ig") and path == p["ig"]["id"]:
                return (
                    200,
                    {
                        "id": p["ig"]["id"],
                        "username": p["ig"]["username"],
                        "name": p["name"],
                    },
                    {},
                )
        return self._meta_error(
            f"Unsupported get request. Object with ID '{path}' does not exist.", 100
        )

    def _telegram(self, rest, query):
        token, _, method = rest.partition("/")
        if token != self.bot_token:
            return (
                401,
                {"ok": False, "error_code": 401, "description": "Unauthorized"},
                {},
            )
        if method == "getMe":
            return 200, {"ok": True, "result": self.bot}, {}
        if method == "getChat":
            chat = self.chats.get(query.get("chat_id", ""))
            if chat is None:
                return (
                    400,
                    {
                        "ok": False,
                        "error_code": 400,
                        "description": "Bad Request: chat not found",
                    },
                    {},
                )
            return 200, {"ok": True, "result": chat}, {}
        return 404, {"ok": False, "error_code": 404, "description": "Not Found"}, {}

    # -- what tests look at -----------------------------------------------------------

    def revoke_all(self) -> None:
        """The person removed the app: every access and refresh token dies."""
        self.tokens.clear()
        self.refresh_tokens.clear()
        self.pages = [{**p, "revoked": True} for p in self.pages]

    def issued_secrets(self) -> list[str]:
        """Every token this fake handed out, and the apps' client secrets."""
        return [
            *self.issued,
            *(f"FAKE-PAGE-{p['id']}" for p in self.pages),
            *(secret for _, secret in CLIENTS.values()),
            self.bot_token,
        ]


def connect_in_admin(client, account, fake: FakeOAuth, decision: str = "allow"):
    """A person's connect in the admin, with a test client: Connect (POST), the
    provider's consent page, back to the callback. Returns the followed answer."""
    from django.urls import reverse

    start = client.post(
        reverse("admin:platforms_platformaccount_connect", args=[account.pk])
    )
    assert start.status_code == 302, start.content[:500]
    assert start["Location"].startswith(fake.url)
    back = urlsplit(fake.approve(start["Location"], decision))
    assert back.path == "/admin/platforms/platformaccount/oauth/callback/"
    return client.get(f"{back.path}?{back.query}", follow=True)
