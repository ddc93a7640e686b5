"""The HTTP side the adapters share (platforms.adapters.http): one session per
worker thread that keeps connections alive, reads the environment once per
host and keeps no cookies between accounts; and the fakes' kept-alive
connections (tests/fakes/loopback.py)."""

import socket

import pytest
import requests

from platforms.adapters import http
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
    """Each test starts without this thread's shared session."""
    http._local.__dict__.clear()
    yield
    http._local.__dict__.clear()


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
            http.shared_session().get(fake.url + "/x", timeout=5)
    assert len(peers(fake)) == 2


def test_no_cookie_set_for_one_call_is_sent_with_the_next(fresh_session):
    with CookieFake() as fake:
        first = http.shared_session().get(fake.url + "/a", timeout=5)
        http.shared_session().get(fake.url + "/b", timeout=5)
    assert first.headers["Set-Cookie"].startswith("session=account-a")
    assert [c["cookie"] for c in fake.calls] == [None, None]


def test_the_environment_is_read_once_per_host(fresh_session, monkeypatch):
    reads = []
    original = requests.Session.merge_environment_settings

    def counted(self, url, *args):
        reads.append(url)
        return original(self, url, *args)

    monkeypatch.setattr(requests.Session, "merge_environment_settings", counted)
    with CookieFake() as one, CookieFake() as two:
        for _ in range(3):
            http.shared_session().get(one.url + "/a", timeout=5)
            http.shared_session().get(two.url + "/b", timeout=5)
    assert len(reads) == 2  # one per host, not one per call


def test_the_environment_still_decides_the_proxy(fresh_session, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    session = http.shared_session()
    far = session.merge_environment_settings(
        "http://api.example/x", {}, None, None, None
    )
    near = session.merge_environment_settings(
        "http://127.0.0.1/x", {}, None, None, None
    )
    assert far["proxies"].get("http") == "http://proxy.invalid:3128"
    assert "http" not in near["proxies"]


def test_an_idle_connection_is_not_reused(fresh_session, monkeypatch):
    first = http.shared_session()
    now = http.time.monotonic()
    monkeypatch.setattr(
        http.time, "monotonic", lambda: now + http.KEEP_ALIVE_IDLE_SECONDS + 1
    )
    assert http.shared_session() is not first


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
