"""HTTP plumbing shared by every source client: timeouts, throttling, bounded retries.

- Timeouts on every request (connect, read) and a total deadline per request, body
  included (a source dripping bytes never holds a task beyond it).
- Throttle: at most `rate_per_second` requests per second per client (the national portal
  asks for about one a second); the clock is shared by all threads using the client.
- Retries (tenacity): 429, 5xx, timeouts, connection errors and unreadable bodies are
  retried with exponential backoff and jitter, honouring `Retry-After` (capped), up to
  `max_attempts`. Any other 4xx fails at once with a clear error.
- A 401 with renewable credentials (OAuth2 client credentials) drops the token and retries.
- Every answer, whatever its status (a 429, a 5xx page, a 4xx refusal), is handed byte for
  byte with its status and headers to an optional `on_response` callback (the raw zone)
  before it is judged or parsed, so even a body we cannot read or a refusal is kept.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
import urllib3
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from sources.errors import RetryableSourceError, SourceHTTPError

log = logging.getLogger(__name__)

RETRYABLE_STATUS = {429, 500, 502, 503, 504}


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    initial_wait: float = 1.0
    max_wait: float = 60.0
    jitter: float = 1.0
    retry_after_cap: float = 120.0


@dataclass(frozen=True, kw_only=True)
class HttpOptions:
    """How a client talks to its source: the options every source's configuration shares
    (a Connection's extra may set any of them). `http()` builds the session."""

    rate_per_second: float = 1.0
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    max_attempts: int = 5
    initial_wait: float = 1.0
    max_wait: float = 60.0
    page_size: int = 1000
    request_deadline: float = 120.0  # one request, its whole body included

    def _http(self, base_url: str, source_name: str, *,
              headers: Mapping[str, str] | None = None,
              auth: requests.auth.AuthBase | None = None,
              on_response: Callable[[FetchedResponse], None] | None = None) -> HttpSource:
        return HttpSource(
            base_url, source_name=source_name,
            timeout=(self.connect_timeout, self.read_timeout),
            rate_per_second=self.rate_per_second,
            retry=RetryPolicy(max_attempts=self.max_attempts, initial_wait=self.initial_wait,
                              max_wait=self.max_wait),
            headers=headers, auth=auth, on_response=on_response,
            deadline=self.request_deadline)


def option_overrides(extra: Mapping[str, Any]) -> dict[str, Any]:
    """The HttpOptions a Connection's extra sets, converted to each option's type."""
    import dataclasses

    types = {f.name: type(f.default) for f in dataclasses.fields(HttpOptions)}
    return {k: types[k](v) for k, v in extra.items() if k in types}


# Headers that may carry credentials or session state are never kept.
_WITHHELD_HEADERS = {"set-cookie", "cookie", "authorization", "proxy-authorization",
                     "www-authenticate"}


def kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """An answer's headers as the raw zone keeps them (credentials and cookies dropped)."""
    return {k: v for k, v in headers.items() if k.lower() not in _WITHHELD_HEADERS}


@dataclass(frozen=True)
class FetchedResponse:
    """One HTTP answer as received: bytes plus the metadata the raw zone keeps."""

    method: str
    url: str
    params: Mapping[str, Any]
    status: int
    fetched_at: str
    body: bytes
    content_type: str | None
    elapsed_ms: int
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    sha256: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha256", hashlib.sha256(self.body).hexdigest())

    def json(self) -> Any:
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            # Never the body itself: it may carry personal data (the raw zone has it, or
            # for personal-data sources its hash only).
            raise RetryableSourceError(
                f"unreadable JSON from {self.url} ({len(self.body)} bytes, sha256 "
                f"{self.sha256[:12]}): {type(exc).__name__} at position "
                f"{getattr(exc, 'pos', getattr(exc, 'start', '?'))}") from None


class Throttle:
    """Spaces requests at least `1 / rate_per_second` apart (thread-safe)."""

    def __init__(self, rate_per_second: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.interval = 1.0 / rate_per_second if rate_per_second > 0 else 0.0
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._next_slot = 0.0

    def wait(self) -> None:
        with self._lock:
            now = self._clock()
            slot = max(now, self._next_slot)
            self._next_slot = slot + self.interval
        if slot > now:
            self._sleep(slot - now)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


class _WaitRetryAfterOrBackoff:
    """tenacity wait: the server's Retry-After when it gave one (capped), else backoff."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self.backoff = wait_exponential_jitter(
            initial=policy.initial_wait, max=policy.max_wait, jitter=policy.jitter)

    def __call__(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RetryableSourceError) and exc.retry_after is not None:
            return min(exc.retry_after, self.policy.retry_after_cap)
        return self.backoff(state)


class HttpSource:
    """A requests session with the behaviour every source client needs."""

    def __init__(
        self,
        base_url: str,
        *,
        source_name: str,
        timeout: tuple[float, float] = (5.0, 30.0),
        rate_per_second: float = 1.0,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        on_response: Callable[[FetchedResponse], None] | None = None,
        session: requests.Session | None = None,
        auth: requests.auth.AuthBase | None = None,
        deadline: float = 120.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.deadline = deadline  # seconds for one request, body included
        self.source_name = source_name
        self.timeout = timeout
        self.throttle = Throttle(rate_per_second)
        self.retry = retry or RetryPolicy()
        self.on_response = on_response
        self.auth = auth
        self.session = session or requests.Session()
        self.session.headers.update({"Accept": "application/json",
                                     "User-Agent": "reformstats/0.1 (+reform office pipeline)"})
        if headers:
            self.session.headers.update(headers)
        self.attempts = 0  # requests actually sent, retries included (for logs and tests)

    def request_json(self, method: str, path: str, *, params: Mapping[str, Any],
                     data: Mapping[str, str] | None = None,
                     json_body: Mapping[str, Any] | None = None,
                     query: Mapping[str, Any] | None = None) -> tuple[Any, FetchedResponse]:
        """Send one logical request (with retries) and return (parsed JSON, raw response).

        `params` is what the raw zone records as this request's parameters; it must not
        hold secrets (credentials travel in headers, which are never recorded).
        """
        return self.request(method, path, params=params, data=data, json_body=json_body,
                            query=query, parse=FetchedResponse.json)

    def request(self, method: str, path: str, *, params: Mapping[str, Any],
                parse: Callable[[FetchedResponse], Any],
                data: Mapping[str, str] | None = None,
                json_body: Mapping[str, Any] | None = None,
                query: Mapping[str, Any] | None = None) -> tuple[Any, FetchedResponse]:
        """Like `request_json` with any parser; a parser raising RetryableSourceError (an
        unreadable body) makes the request be retried like a 5xx."""
        retrying = Retrying(
            stop=stop_after_attempt(self.retry.max_attempts),
            wait=_WaitRetryAfterOrBackoff(self.retry),
            retry=retry_if_exception_type(RetryableSourceError),
            before_sleep=self._log_retry,
            reraise=True,
        )
        return retrying(self._attempt, method, path, params, data, json_body, query, parse)

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning("%s: attempt %d failed (%s); retrying in %.1fs", self.source_name,
                    state.attempt_number, exc, wait)

    def _read_body(self, response: requests.Response, started: float, url: str) -> bytes:
        """The whole body, within the request's total deadline: the read timeout bounds
        each wait for bytes, not a source that drips them one by one."""
        body = bytearray()
        try:
            while chunk := response.raw.read1(64 * 1024, decode_content=True):
                body += chunk  # read1: whatever has arrived, so the deadline is checked often
                if time.monotonic() - started > self.deadline:
                    raise RetryableSourceError(
                        f"{self.source_name}: {url} took more than the {self.deadline:.0f} s "
                        f"deadline of a request ({len(body)} bytes received)")
        finally:
            response.close()
        return bytes(body)

    def _attempt(self, method: str, path: str, params: Mapping[str, Any],
                 data: Mapping[str, str] | None, json_body: Mapping[str, Any] | None,
                 query: Mapping[str, Any] | None,
                 parse: Callable[[FetchedResponse], Any]) -> tuple[Any, FetchedResponse]:
        url = f"{self.base_url}{path}"
        self.throttle.wait()
        self.attempts += 1
        started = time.monotonic()
        try:
            response = self.session.request(method, url, data=data, json=json_body,
                                            params=query, timeout=self.timeout, auth=self.auth,
                                            stream=True)
            body = self._read_body(response, started, url)
        except (requests.Timeout, requests.ConnectionError,
                requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError,
                urllib3.exceptions.HTTPError) as exc:  # incl. a body cut short mid-read
            raise RetryableSourceError(
                f"{self.source_name}: {type(exc).__name__} calling {url}") from None
        fetched = FetchedResponse(
            method=method, url=url, params=dict(params), status=response.status_code,
            fetched_at=dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
            body=body, content_type=response.headers.get("Content-Type"),
            elapsed_ms=int((time.monotonic() - started) * 1000),
            headers=kept_headers(response.headers),
        )
        if self.on_response is not None:  # every answer, refused ones included
            self.on_response(fetched)
        if response.status_code == 401 and hasattr(self.auth, "invalidate"):
            # The token expired or was revoked mid-run: drop it; the retry fetches a new one.
            self.auth.invalidate()
            raise RetryableSourceError(f"{self.source_name}: HTTP 401 from {url}; token "
                                       "renewed", retry_after=0.0)
        if response.status_code in RETRYABLE_STATUS:
            raise RetryableSourceError(
                f"{self.source_name}: HTTP {response.status_code} from {url}",
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        if response.status_code >= 400:
            raise SourceHTTPError(
                f"{self.source_name}: HTTP {response.status_code} from {url} (not retried; "
                f"{len(fetched.body)} bytes of {fetched.content_type or 'unknown type'}, "
                f"sha256 {fetched.sha256[:12]}, kept in the raw zone)",
                status=response.status_code,
            )
        return parse(fetched), fetched
