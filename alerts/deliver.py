"""Delivering outbox messages: e-mail through SMTP (standard library), webhooks through
requests, each with short timeouts, so that a receiver that is down or slow never fails or
hangs a run: the message stays pending, its attempt is counted, and a later run tries it
again with a growing wait, until `max_attempts`.

Secrets stay where they are: the SMTP password comes from the Connection, a webhook URL
from the environment variable its channel names; neither is logged, stored or put in an
error (an error is recorded as its type, or the HTTP status).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import smtplib
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any
from urllib.parse import urlsplit

from alerts.render import Message, body
from alerts.routing import Channel, Routing

log = logging.getLogger("reformstats.alerts")

CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 5.0
RUN_BUDGET_SECONDS = 60.0   # one run delivers for at most this long; the rest waits
MAX_BACKOFF = dt.timedelta(hours=6)


class NotConfigured(Exception):
    """A channel has no URL or no SMTP server to use: nothing to retry until it is set."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 25
    login: str | None = None
    password: str | None = None
    from_email: str = "reformstats@localhost"
    starttls: bool = False
    use_ssl: bool = False
    timeout: float = 10.0

    def __repr__(self) -> str:  # never the password
        return f"SmtpSettings(host={self.host!r}, port={self.port}, login={self.login!r})"

    @classmethod
    def from_fields(cls, *, host: str, port: int | None, login: str | None,
                    password: str | None, extra: Mapping[str, Any]) -> SmtpSettings:
        def flag(name: str, default: bool) -> bool:
            value = extra.get(name, default)
            return value if isinstance(value, bool) else str(value).lower() in ("1", "true",
                                                                                  "yes")

        use_ssl = flag("ssl", False)
        return cls(host=host, port=int(port or (465 if use_ssl else 25)), login=login or None,
                   password=password or None,
                   from_email=str(extra.get("from_email") or "reformstats@localhost"),
                   starttls=flag("starttls", False), use_ssl=use_ssl,
                   timeout=float(extra.get("timeout", 10)))


def smtp_from_environment(connection_id: str) -> SmtpSettings | None:
    """The SMTP Connection from the environment (AIRFLOW_CONN_<ID>, a URI or JSON), parsed
    as Airflow parses it."""
    from airflow.sdk.definitions.connection import Connection

    value = os.environ.get(f"AIRFLOW_CONN_{connection_id.upper()}")
    if not value:
        return None
    conn = (Connection.from_json(value, conn_id=connection_id)
            if value.lstrip().startswith("{") else Connection.from_uri(value, connection_id))
    return SmtpSettings.from_fields(host=conn.host or "", port=conn.port, login=conn.login,
                                    password=conn.password, extra=conn.extra_dejson)


def send_email(smtp: SmtpSettings | None, to: tuple[str, ...], message: Message) -> None:
    if smtp is None or not smtp.host:
        raise NotConfigured("no SMTP connection")
    mail = EmailMessage()
    mail["Subject"] = message.subject
    mail["From"] = smtp.from_email
    mail["To"] = ", ".join(to)
    mail["Message-ID"] = make_msgid(idstring=message.message_id, domain="reformstats")
    mail["X-Reformstats-Message"] = message.message_id
    mail.set_content(message.text, charset="utf-8")
    context = ssl.create_default_context()
    if smtp.use_ssl:
        client: smtplib.SMTP = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout,
                                                context=context)
    else:
        client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
    with client:
        if smtp.starttls:
            client.starttls(context=context)
        if smtp.login:
            client.login(smtp.login, smtp.password or "")
        client.send_message(mail)


class _HideWebhookUrls(logging.Filter):
    """urllib3 logs each request's path and query at DEBUG; a webhook's path or query is
    its token (Slack, Teams), so those of the URLs posted to are masked in its records."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def remember(self, url: str) -> None:
        parts = urlsplit(url)
        self.secrets |= {p for p in (parts.path + ("?" + parts.query if parts.query else ""),
                                     parts.query, parts.path) if len(p) > 1}

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        found = [s for s in self.secrets if s in text]
        if found:
            for secret in sorted(found, key=len, reverse=True):
                text = text.replace(secret, "/<webhook>")
            record.msg, record.args = text, None
        return True


_HIDE = _HideWebhookUrls()
logging.getLogger("urllib3.connectionpool").addFilter(_HIDE)


def post_webhook(channel: Channel, message: Message) -> None:
    import requests

    url = os.environ.get(channel.url_env or "")
    if not url:
        raise NotConfigured(f"{channel.url_env} is not set")
    _HIDE.remember(url)
    response = requests.post(url, json=body(message, channel.format),
                             timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
                             headers={"X-Reformstats-Message": message.message_id})
    if response.status_code >= 300:
        raise WebhookRefused(response.status_code)


class WebhookRefused(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


def _error_text(exc: BaseException) -> str:
    """Why an attempt failed, without anything that may carry a URL or a secret."""
    if isinstance(exc, WebhookRefused | NotConfigured):
        return str(exc)[:255]
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{type(exc).__name__} {exc.smtp_code}"
    return type(exc).__name__


def backoff(attempts: int) -> dt.timedelta:
    """Wait before the next try: 1, 2, 4 … minutes, at most 6 hours."""
    return min(dt.timedelta(minutes=2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def channel_of(routing: Routing, route: str, name: str) -> Channel | None:
    found = routing.routes.get(route)
    return next((c for c in found.channels if c.name == name), None) if found else None


def deliver_rows(rows: list[Mapping[str, Any]], routing: Routing, smtp: SmtpSettings | None,
                 now: Callable[[], dt.datetime],
                 budget_seconds: float = RUN_BUDGET_SECONDS) -> list[dict[str, Any]]:
    """Try each pending outbox row once; return what to record for each row tried.

    A receiver that fails (a webhook URL, or the one SMTP server for every e-mail channel)
    is not tried again in this run (its other messages wait for the next run instead of
    each waiting out a timeout), and delivery stops when the run's budget is spent. A
    channel without a URL or server is `unconfigured` and tried again by later runs, like a
    failure, until `max_attempts`."""
    from alerts.state import message_of

    started = time.monotonic()
    failed_channels: set[str] = set()
    results = []
    for row in rows:
        if time.monotonic() - started > budget_seconds:
            log.warning("alert delivery budget of %.0f s spent; %d messages wait for the "
                        "next run", budget_seconds, len(rows) - len(results))
            break
        receiver = "smtp" if row["channel"].startswith("email:") else row["channel"]
        if receiver in failed_channels:
            continue
        channel = channel_of(routing, row["route"], row["channel"])
        attempts = int(row["attempts"]) + 1
        give_up = attempts >= routing.max_attempts
        result: dict[str, Any] = {"message_id": row["message_id"], "attempts": attempts}
        try:
            if channel is None:
                raise NotConfigured("the channel is no longer in config/alerts.yaml")
            message = message_of(row)
            if channel.type == "email":
                send_email(smtp, channel.to, message)
            else:
                post_webhook(channel, message)
        except NotConfigured as exc:  # tried again once it is configured
            result |= {"status": "abandoned" if give_up else "unconfigured",
                       "last_error": _error_text(exc),
                       "next_attempt_at": now() + backoff(attempts)}
            log.warning("alert %s to %s not sent: %s", row["message_id"], row["channel"],
                        _error_text(exc))
        except Exception as exc:  # a receiver down, slow or refusing: try again later
            failed_channels.add(receiver)
            result |= {"status": "abandoned" if give_up else "pending",
                       "last_error": _error_text(exc),
                       "next_attempt_at": now() + backoff(attempts)}
            log.warning("alert %s to %s failed (attempt %d%s): %s", row["message_id"],
                        row["channel"], attempts, ", abandoned" if give_up else "",
                        _error_text(exc))
        else:
            result |= {"status": "delivered", "delivered_at": now(), "last_error": None}
        results.append(result)
    return results
