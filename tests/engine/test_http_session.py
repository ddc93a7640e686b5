"""The HTTP side the adapters share (platforms.adapters.http): one transport
per worker thread that keeps connections alive, reads the environment once
per host (proxy, CA bundle) and keeps no cookies between accounts; what each
transport failure means for exactly-once work; and the fakes' kept-alive
connections (tests/fakes/loopback.py)."""

import socket
import threading

import pytest
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from platforms.adapters import AdapterError, OutcomeUnknown, http
from platforms.adapters.telegram import TelegramAdapter
from tests import factories as f
from tests.fakes.loopback import LoopbackJSONServer
from tests.fakes.telegram import FakeTelegram


class CookieFake(LoopbackJSONServer):
    """Answers every call with a cookie and records the peer and the cookies
    it was sent."""

    keep_alive = True

    def __init__(self, *, keep_alive: bool = True):
        self.keep_alive = keep_alive
        super().__init__()

    def record_request(self, method, path, headers, body):
        return {"path": path, "cookie": headers.get("Cookie")}

    def answer(self, call):
        return 200, {"ok": True}, {"Set-Cookie": "session=account-a; Path=/"}


@pytest.fixture
def fresh_session():
    """Each test starts without this thread's shared transport."""
    http._local.__dict__.clear()
    yield
    http._local.__dict__.clear()


def get(url: str) -> http.Response:
    return http.shared_transport().request("GET", url, timeout=(5, 5))


def peers(server: LoopbackJSONServer) -> set:
    return {c["peer"] for c in server.calls}


@pytest.fixture
def peer_recording(monkeypatch):
    """The fake records which client port each call came from."""
    original = LoopbackJSONServer.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        handler = self.server.RequestHandlerClass
        record = self.record_request

        def with_peer(method, path, headers, body, _record=record):
            call = _record(method, path, headers, body)
            call["peer"] = with_peer.peer
            return call

        setup = handler.setup

        def remember(handler_self):
            setup(handler_self)
            with_peer.peer = handler_self.client_address[1]

        handler.setup = remember
        self.record_request = with_peer

    monkeypatch.setattr(LoopbackJSONServer, "__init__", init)


def test_calls_of_different_accounts_share_one_kept_alive_connection(
    fresh_session, peer_recording, settings
):
    with FakeTelegram() as fake:
        settings.TELEGRAM_API_BASE = fake.url
        for n in range(3):
            account = f.PlatformAccountFactory.build(
                platform="telegram", auth_data={"bot_token": f"{n}:t", "chat_id": "-1"}
            )
            TelegramAdapter(account)._call("sendMessage", data={"text": "hi"})
    assert len(fake.calls) == 3
    assert len(peers(fake)) == 1  # one connection for the three calls


def test_a_fake_without_keep_alive_closes_each_connection(
    fresh_session, peer_recording
):
    with CookieFake(keep_alive=False) as fake:
        for _ in range(2):
            get(fake.url + "/x")
    assert len(peers(fake)) == 2


def test_no_cookie_set_for_one_call_is_sent_with_the_next(fresh_session):
    with CookieFake() as fake:
        first = get(fake.url + "/a")
        get(fake.url + "/b")
    assert first.headers["Set-Cookie"].startswith("session=account-a")
    assert [c["cookie"] for c in fake.calls] == [None, None]


def test_the_environment_is_read_once_per_host(fresh_session, monkeypatch):
    reads = []
    original = http.get_environ_proxies

    def counted(url, *args):
        reads.append(url)
        return original(url, *args)

    monkeypatch.setattr(http, "get_environ_proxies", counted)
    with CookieFake() as one, CookieFake() as two:
        for _ in range(3):
            get(one.url + "/a")
            get(two.url + "/b")
    assert len(reads) == 2  # one per host, not one per call


def test_the_environment_still_decides_the_proxy(fresh_session, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    transport = http.shared_transport()
    assert transport.route("http://api.example/x")[0] == "http://proxy.invalid:3128"
    assert transport.route("http://127.0.0.1/x")[0] is None


@pytest.mark.parametrize("scheme", ["http://", ""])
def test_a_call_goes_through_the_proxy_the_environment_names(
    fresh_session, monkeypatch, scheme
):
    """A plain-HTTP call through a proxy names its whole target in the
    request line: the fake, standing in for the proxy, sees it. A proxy
    given as host:port is an HTTP proxy."""
    with CookieFake() as proxy:
        for name in ("HTTP_PROXY", "http_proxy"):
            monkeypatch.setenv(name, scheme + proxy.url.removeprefix("http://"))
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        get("http://api.example/v1/me")
    assert [c["path"] for c in proxy.calls] == ["http://api.example/v1/me"]


def test_the_ca_bundle_comes_from_the_environment(fresh_session, monkeypatch, tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    transport = http.Transport()
    assert transport.route("https://api.example/")[1] == http.DEFAULT_CA_BUNDLE_PATH
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    chosen = http.Transport().route("https://api.example/")[1]
    assert chosen == str(bundle)
    manager = http.Transport()._manager(None, chosen)
    assert manager.connection_pool_kw["ca_certs"] == str(bundle)


def test_an_idle_connection_is_not_reused(fresh_session, monkeypatch):
    first = http.shared_transport()
    now = http.time.monotonic()
    monkeypatch.setattr(
        http.time, "monotonic", lambda: now + http.KEEP_ALIVE_IDLE_SECONDS + 1
    )
    assert http.shared_transport() is not first


def test_a_chunked_request_closes_the_fakes_connection():
    with CookieFake() as fake:
        host, port = fake.server.server_address
        with socket.create_connection((host, port), timeout=5) as sock:
            sock.sendall(
                b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"3\r\nabc\r\n0\r\n\r\n"
            )
            answer = b""
            while chunk := sock.recv(4096):  # the server closes: recv ends
                answer += chunk
    assert answer.startswith(b"HTTP/1.1 200")


class BodyFake(CookieFake):
    """Records each call's path and body; `/old` redirects to `/new`; a
    call to `/drop` gets no answer (the connection is closed)."""

    def record_request(self, method, path, headers, body):
        return {"method": method, "path": path, "body": body}

    def answer(self, call):
        if call["path"] == "/drop":
            return None, None
        if call["path"] == "/old":
            return 302, None, {"Location": "/new"}
        return 200, {"ok": True, "path": call["path"]}


class CutShort:
    """A server that answers every request with a 200 whose body stops half
    way (Content-Length says more), then closes the connection."""

    ANSWER = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100\r\n\r\n"
        b'{"ok": tr'
    )

    def __enter__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.requests = 0
        threading.Thread(target=self._serve, daemon=True).start()
        return self

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)  # the request (small, in one piece)
                self.requests += 1
                conn.sendall(self.ANSWER)

    def __exit__(self, *exc):
        self.sock.close()


def call(url: str, *, sends: bool, read_timeout: float = 5.0) -> http.Response:
    return http.send(
        "POST" if sends else "GET",
        url,
        service="Fake",
        what="post" if sends else "read",
        sends=sends,
        timeout=(2.0, read_timeout),
        data={"text": "hello"} if sends else None,
    )


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        return sock.getsockname()[1]


def test_a_refused_connection_is_a_plain_retry_even_for_a_post(fresh_session):
    with pytest.raises(AdapterError) as caught:
        call(f"http://127.0.0.1:{free_port()}/x", sends=True)
    assert type(caught.value) is AdapterError  # not OutcomeUnknown
    assert caught.value.retryable
    assert caught.value.message == "Fake post: cannot connect"


def test_connect_failures_mean_nothing_was_sent():
    timed_out = http.failure(ConnectTimeoutError("timed out"), "X post", True, 5)
    refused = http.failure(NewConnectionError(None, "refused"), "X post", True, 5)
    assert type(timed_out) is AdapterError
    assert timed_out.message == "X post: connection timed out"
    assert type(refused) is AdapterError


def test_no_answer_in_time_is_outcome_unknown_for_a_post_only(fresh_session):
    with BodyFake() as fake:
        fake.mode, fake.slow_seconds = "slow", 1.0
        with pytest.raises(OutcomeUnknown) as sent:
            call(fake.url + "/post", sends=True, read_timeout=0.2)
        with pytest.raises(AdapterError) as read:
            call(fake.url + "/read", sends=False, read_timeout=0.2)
    assert sent.value.message == "Fake post: no answer in 0.2 s"
    assert not isinstance(read.value, OutcomeUnknown)


def test_a_connection_closed_without_an_answer_is_outcome_unknown_for_a_post(
    fresh_session,
):
    with BodyFake() as fake:
        with pytest.raises(OutcomeUnknown) as sent:
            call(fake.url + "/drop", sends=True)
        with pytest.raises(AdapterError) as read:
            call(fake.url + "/drop", sends=False)
    assert sent.value.message == "Fake post: connection lost before the answer"
    assert not isinstance(read.value, OutcomeUnknown)


def test_an_answer_cut_short_is_outcome_unknown_for_a_post(fresh_session):
    """The platform had the request and began to answer: trying again as if
    nothing happened could publish the post twice."""
    with CutShort() as server:
        with pytest.raises(OutcomeUnknown):
            call(server.url + "/post", sends=True)
        with pytest.raises(AdapterError) as read:
            call(server.url + "/read", sends=False)
    assert server.requests == 2
    assert not isinstance(read.value, OutcomeUnknown)


def test_a_read_follows_a_redirect_and_a_post_does_not(fresh_session):
    transport = http.shared_transport()
    with BodyFake() as fake:
        read = transport.request("GET", fake.url + "/old", timeout=(5, 5))
        post = transport.request("POST", fake.url + "/old", timeout=(5, 5))
    assert read.status_code == 200 and read.json()["path"] == "/new"
    assert post.status_code == 302
    assert [c["path"] for c in fake.calls] == ["/old", "/new", "/old"]


def test_fields_set_to_none_are_left_out_and_lists_repeat(fresh_session):
    with BodyFake() as fake:
        http.shared_transport().request(
            "POST",
            fake.url + "/form?v=1",
            timeout=(5, 5),
            params={"fields": "id,text", "cursor": None},
            data={"text": "a b&c", "tags": ["x", "y"], "reply_to": None},
        )
    (sent,) = fake.calls
    assert sent["path"] == "/form?v=1&fields=id%2Ctext"
    assert sent["body"] == b"text=a+b%26c&tags=x&tags=y"


def test_json_and_files_are_encoded_as_requests_did(fresh_session):
    with BodyFake() as fake:
        transport = http.shared_transport()
        transport.request("POST", fake.url + "/j", timeout=(5, 5), json={"a": 1})
        transport.request(
            "POST",
            fake.url + "/f",
            timeout=(5, 5),
            data={"command": "APPEND"},
            files={"media": ("chunk", b"\x00\x01", "image/png")},
        )
    assert fake.calls[0]["body"] == b'{"a": 1}'
    multipart = fake.calls[1]["body"]
    assert b'name="command"\r\n\r\nAPPEND\r\n' in multipart
    assert (
        b'name="media"; filename="chunk"\r\nContent-Type: image/png\r\n\r\n'
        b"\x00\x01\r\n" in multipart
    )
