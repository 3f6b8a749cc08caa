"""Local receivers for alerts, on 127.0.0.1: a mailbox (an SMTP server, aiosmtpd) and a
webhook receiver (HTTP). The demo starts both so that `make run` shows its alerts
delivered; the tests start them to read what was sent. The webhook receiver can be told to
be down (answer 503) or slow (hold each answer), as a real receiver sometimes is.
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def text(self) -> str:
        return self.message.get_content()


class _Handler:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.original_content or envelope.content,
                                          policy=email.policy.default)
        with self.box.lock:
            self.box.mails.append(Mail(envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


@dataclass
class Mailbox:
    """An SMTP server on 127.0.0.1 keeping every message it accepts; with `login` and
    `password` it asks clients to log in (AUTH PLAIN/LOGIN, over plain SMTP: local only)."""

    port: int = 0
    login: str | None = None
    password: str | None = None
    mails: list[Mail] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    logins: int = 0

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str,
                      auth_data: Any) -> Any:
        from aiosmtpd.smtp import AuthResult, LoginPassword

        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login.decode() == self.login
              and auth_data.password.decode() == self.password)
        self.logins += int(ok)
        return AuthResult(success=ok)

    def __enter__(self) -> Mailbox:
        from aiosmtpd.controller import Controller

        self.port = self.port or free_port()
        auth = ({"authenticator": self._authenticate, "auth_require_tls": False,
                 "auth_required": True} if self.login else {})
        # AUTH without TLS, on 127.0.0.1 on purpose (aiosmtpd warns at each connection)
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port,
                                      **auth)
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()

    @property
    def uri(self) -> str:
        """The Airflow Connection URI of this server (conn type smtp)."""
        return f"smtp://127.0.0.1:{self.port}?from_email=reformstats%40localhost"

    def to(self, address: str) -> list[Mail]:
        with self.lock:
            return [m for m in self.mails if address in m.recipients]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Mail]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.mails) >= count:
                    return list(self.mails)
            time.sleep(0.02)
        raise TimeoutError(f"{len(self.mails)} mails arrived, {count} expected")


@dataclass
class Post:
    path: str
    query: str
    headers: dict[str, str]
    body: Any


class WebhookReceiver:
    """An HTTP server on 127.0.0.1 keeping every JSON POST it accepts; `mode` is `up`,
    `down` (answers 503 and keeps nothing) or `slow` (holds each answer `delay` seconds)."""

    def __init__(self, mode: str = "up", delay: float = 3.0) -> None:
        self.mode, self.delay = mode, delay
        self.posts: list[Post] = []
        self.refused = 0
        self.lock = threading.Lock()

    def __enter__(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if receiver.mode == "slow":
                    time.sleep(receiver.delay)
                if receiver.mode == "down":
                    with receiver.lock:
                        receiver.refused += 1
                    self.send_response(503)
                    self.end_headers()
                    return
                path, _, query = self.path.partition("?")
                with receiver.lock:
                    receiver.posts.append(Post(path, query, dict(self.headers),
                                               json.loads(raw or b"null")))
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def at(self, path: str) -> list[Post]:
        with self.lock:
            return [p for p in self.posts if p.path == path]
