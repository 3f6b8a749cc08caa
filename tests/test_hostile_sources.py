"""Sources that misbehave, on 127.0.0.1: a body cut short, a total that changes while the
list is read, refusals and broken pages full of personal data, a token answer that cannot
be read. Each test is bounded in time by the client's own short timeouts."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from domain.periods import Month
from sources.errors import (
    IncompleteFetchError,
    RetryableSourceError,
    SourceDeadlineError,
    SourceHTTPError,
    SourceResponseError,
)
from sources.national_portal import LegacyGatewayClient
from tests.conftest import fast_config

# What a source may echo back about an applicant: none of it may reach an error text.
PERSONAL = ["Nguyễn Văn An", "079203001234", "0912345678", "12 Lê Lợi, phường Bến Thành"]
PERSONAL_BODY = json.dumps({"error": "invalid dossier", "applicant": {
    "name": PERSONAL[0], "idNumber": PERSONAL[1], "phone": PERSONAL[2],
    "address": PERSONAL[3]}}, ensure_ascii=False).encode("utf-8")

Answer = Callable[[BaseHTTPRequestHandler, int], None]  # (handler, request number)


@pytest.fixture
def hostile() -> Iterator[Callable[[Answer], str]]:
    """Factory: a server on 127.0.0.1 answering every request with `answer`; its URL."""
    servers: list[ThreadingHTTPServer] = []

    def start(answer: Answer) -> str:
        count = {"n": 0}

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                count["n"] += 1
                answer(self, count["n"])

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def send(handler: BaseHTTPRequestHandler, status: int, body: bytes,
         length: int | None = None) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json; charset=utf-8")
    handler.send_header("Content-Length", str(len(body) if length is None else length))
    handler.end_headers()
    handler.wfile.write(body)
    handler.wfile.flush()


def rows(first: int, count: int, total: int) -> bytes:
    return json.dumps([{"ID": str(i), "TOTAL": str(total), "TEN": f"Đơn vị {i}"}
                       for i in range(first, first + count)]).encode()


def test_a_body_cut_short_is_retried_and_named_by_its_url(hostile) -> None:
    def answer(handler, n):
        if n == 1:  # promises 4 kB, sends 10 bytes, hangs up
            send(handler, 200, b'[{"ID": "1', length=4096)
            handler.close_connection = True
        else:
            send(handler, 200, rows(1, 3, 3))

    client = LegacyGatewayClient(fast_config(hostile(answer)).http(), page_size=10)
    assert len(client.report_766(Month(2025, 10))) == 3
    assert client.http.attempts == 2

    def always_cut(handler, n):
        send(handler, 200, b'[{"ID": "1', length=4096)
        handler.close_connection = True

    url = hostile(always_cut)
    client = LegacyGatewayClient(fast_config(url, max_attempts=2).http(), page_size=10)
    with pytest.raises(RetryableSourceError, match=f"(ProtocolError|ChunkedEncodingError) "
                                                   f"reading the body of {url}") as info:
        client.report_766(Month(2025, 10))
    assert "HTTP 200; 10 bytes, sha256 " in str(info.value)  # what arrived, by size
    assert "received of 4096 promised" in str(info.value)


@pytest.mark.parametrize("change", [+5, -2], ids=["growing", "shrinking"])
def test_a_total_that_changes_between_pages_fails_the_fetch(hostile, change) -> None:
    def answer(handler, n):
        send(handler, 200, rows(10 * (n - 1), 10, 25 + change * (n - 1)))

    client = LegacyGatewayClient(fast_config(hostile(answer)).http(), page_size=10)
    with pytest.raises(IncompleteFetchError, match="total changed from 25 to"):
        client.report_766(Month(2025, 10))
    assert client.http.attempts == 2  # stopped at the second page, not 10,000


def test_a_refusal_full_of_personal_data_is_named_without_its_body(hostile) -> None:
    kept = []
    url = hostile(lambda handler, n: send(handler, 400, PERSONAL_BODY))
    client = LegacyGatewayClient(fast_config(url).http(on_response=kept.append))
    with pytest.raises(SourceHTTPError) as info:
        client.report_766(Month(2025, 10))
    text = str(info.value) + repr(info.value.__cause__)
    assert "HTTP 400" in text and url in text and f"{len(PERSONAL_BODY)} bytes" in text
    assert not [value for value in PERSONAL if value in text]
    assert kept[0].body == PERSONAL_BODY  # the raw zone's to keep (minimised where needed)


def test_an_unreadable_page_full_of_personal_data_is_named_without_its_body(hostile) -> None:
    broken = PERSONAL_BODY[: len(PERSONAL_BODY) // 2]
    url = hostile(lambda handler, n: send(handler, 200, broken))
    client = LegacyGatewayClient(fast_config(url, max_attempts=2).http())
    with pytest.raises(RetryableSourceError) as info:
        client.report_766(Month(2025, 10))
    text = str(info.value) + repr(info.value.__cause__) + repr(info.value.__context__)
    assert "unreadable JSON" in text and "sha256" in text
    assert not [value for value in PERSONAL if value[:8] in text]


def test_a_token_answer_with_an_unreadable_lifetime_fails_naming_the_endpoint(
        hostile) -> None:
    from sources.onestop import ClientCredentialsAuth

    url = hostile(lambda handler, n: send(handler, 200, json.dumps(
        {"access_token": "t0k3n", "expires_in": "soon"}).encode()))
    auth = ClientCredentialsAuth(f"{url}/oauth2/token", "client", "s3cret")
    with pytest.raises(SourceResponseError, match=r"token endpoint .*/oauth2/token: "
                                                  "expires_in is not a number") as info:
        auth.token()
    assert "t0k3n" not in str(info.value) and "s3cret" not in str(info.value)


def test_a_source_that_drips_its_body_is_cut_at_the_request_deadline(hostile) -> None:
    import time

    def drip(handler, n):
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", "200")
        handler.end_headers()
        try:
            for _ in range(200):  # one byte every 50 ms: no read ever times out
                handler.wfile.write(b" ")
                handler.wfile.flush()
                time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError):
            pass

    config = fast_config(hostile(drip), max_attempts=1, read_timeout=2.0,
                         request_deadline=0.5)
    client = LegacyGatewayClient(config.http())
    started = time.monotonic()
    with pytest.raises(RetryableSourceError, match=r"took more than 0.5 s, the deadline "
                                                   r"of the request \(0.5 s\)"):
        client.report_766(Month(2025, 10))
    assert time.monotonic() - started < 3  # not the 10 s the body would take


def test_an_extract_whose_pages_keep_failing_stops_at_its_total_deadline(hostile) -> None:
    import time

    # Every page fails with a 503 asking to come back in 1 s: retrying would take
    # max_attempts × 1 s per page; the extract's deadline (2 s) ends it first.
    def answer(handler, n):
        handler.send_response(503)
        handler.send_header("Retry-After", "1")
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    url = hostile(answer)
    config = fast_config(url, max_attempts=50, extract_deadline=2.0)
    client = LegacyGatewayClient(config.http())
    started = time.monotonic()
    with pytest.raises(SourceDeadlineError, match=r"national_portal: the extract's 2 s "
                                                  r"deadline leaves no time to retry") as info:
        client.report_766(Month(2025, 10))
    assert time.monotonic() - started < 3
    assert 2 <= client.http.attempts <= 3 and "HTTP 503 from " + url in str(info.value)


def test_a_request_started_near_the_extract_deadline_gets_only_what_is_left(
        hostile) -> None:
    import time

    def slow_pages(handler, n):  # each page takes ~0.6 s to drip out
        body = rows(10 * (n - 1), 10, 1000)
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        try:
            for i in range(0, len(body), len(body) // 6 + 1):
                handler.wfile.write(body[i:i + len(body) // 6 + 1])
                handler.wfile.flush()
                time.sleep(0.1)
        except (BrokenPipeError, ConnectionResetError):
            pass

    config = fast_config(hostile(slow_pages), max_attempts=1, request_deadline=30.0,
                         extract_deadline=1.5)
    client = LegacyGatewayClient(config.http(), page_size=10)
    started = time.monotonic()
    # The third page starts with ~0.3 s of the extract left: that is its deadline.
    with pytest.raises(RetryableSourceError, match=r"the deadline of the request \(30 s\) "
                                                   "or what was left of the extract's"):
        client.report_766(Month(2025, 10))
    assert time.monotonic() - started < 2.5  # not 100 pages × 0.6 s


def test_credentials_in_a_portal_url_are_sent_as_basic_auth_and_never_shown(
        hostile) -> None:
    seen = []

    def answer(handler, n):
        seen.append(handler.headers.get("Authorization"))
        send(handler, 400, PERSONAL_BODY)

    url = hostile(answer)
    kept = []
    secret_url = url.replace("http://", "http://ops:p%40ss-w0rd@")
    client = LegacyGatewayClient(fast_config(secret_url).http(on_response=kept.append))
    with pytest.raises(SourceHTTPError) as info:
        client.report_766(Month(2025, 10))
    import base64

    assert seen == ["Basic " + base64.b64encode(b"ops:p@ss-w0rd").decode()]
    shown = str(info.value) + kept[0].url + json.dumps(dict(kept[0].headers))
    assert url in str(info.value) and "p%40ss-w0rd" not in shown and "ops:" not in shown
