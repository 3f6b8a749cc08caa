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
import urllib.parse
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

from sources.errors import (
    RetryableSourceError,
    SourceDeadlineError,
    SourceHTTPError,
    SourceResponseError,
)

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
    extract_deadline: float = 3600.0  # all requests of one client (one extract), retries in

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
            deadline=self.request_deadline, extract_deadline=self.extract_deadline)


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
                f"unreadable JSON from {self.url} ({named_body(self.body)}): "
                f"{type(exc).__name__} at position "
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


_TRANSPORT_ERRORS = (requests.Timeout, requests.ConnectionError,
                     requests.exceptions.ChunkedEncodingError,
                     requests.exceptions.ContentDecodingError, urllib3.exceptions.HTTPError)


def without_credentials(url: str) -> str:
    """The URL without a user or password written into it (`https://user:pw@host/...`)."""
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit(parts._replace(netloc=host))


def named_body(body: bytes) -> str:
    """A body as errors may name it: its size and hash, never its bytes."""
    return f"{len(body)} bytes, sha256 {hashlib.sha256(body).hexdigest()[:12]}"


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
        extract_deadline: float = 3600.0,
    ) -> None:
        # A user and password in the URL are sent as basic auth (when no other auth is
        # given), never kept in the URL that errors, logs and the raw zone show.
        parts = urllib.parse.urlsplit(base_url)
        if auth is None and parts.username:
            auth = requests.auth.HTTPBasicAuth(urllib.parse.unquote(parts.username),
                                               urllib.parse.unquote(parts.password or ""))
        self.base_url = without_credentials(base_url).rstrip("/")
        self.deadline = deadline  # seconds for one request, body included
        # Seconds for everything this client sends (one extract), from its first request:
        # no retry starts, and no wait for one, past it.
        self.extract_deadline = extract_deadline
        self._first_request: float | None = None
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
            stop=stop_after_attempt(self.retry.max_attempts) | self._stop_at_extract_deadline,
            wait=_WaitRetryAfterOrBackoff(self.retry),
            retry=retry_if_exception_type(RetryableSourceError),
            before_sleep=self._log_retry,
            reraise=True,
        )
        return retrying(self._attempt, method, path, params, data, json_body, query, parse)

    def _extract_time_left(self) -> float:
        if self._first_request is None:
            self._first_request = time.monotonic()
        return self.extract_deadline - (time.monotonic() - self._first_request)

    def _stop_at_extract_deadline(self, state: RetryCallState) -> bool:
        """Give up when the wait before the next attempt would end past the extract's
        deadline (tenacity asks after choosing the wait, before sleeping)."""
        if self._extract_time_left() >= state.upcoming_sleep:
            return False
        last = state.outcome.exception() if state.outcome else None
        raise SourceDeadlineError(
            f"{self.source_name}: the extract's {self.extract_deadline:g} s deadline "
            f"leaves no time to retry after {self.attempts} requests; last: {last}")

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning("%s: attempt %d failed (%s); retrying in %.1fs", self.source_name,
                    state.attempt_number, exc, wait)

    def _read_body(self, response: requests.Response, started: float, url: str,
                   limit: float) -> bytes:
        """The whole body, within `limit` seconds of `started` (the request's deadline, or
        what is left of the extract's): the read timeout bounds each wait for bytes, not a
        source that drips them one by one. A body cut short is named by what arrived."""
        body = bytearray()
        promised = response.headers.get("Content-Length")
        try:
            while chunk := response.raw.read1(64 * 1024, decode_content=True):
                body += chunk  # read1: whatever has arrived, so the deadline is checked often
                if time.monotonic() - started > limit:
                    raise RetryableSourceError(
                        f"{self.source_name}: {url} took more than {limit:.3g} s, the "
                        f"deadline of the request ({self.deadline:g} s) or what was left "
                        f"of the extract's ({named_body(bytes(body))} received)")
        except _TRANSPORT_ERRORS as exc:
            raise RetryableSourceError(
                f"{self.source_name}: {type(exc).__name__} reading the body of {url} "
                f"(HTTP {response.status_code}; {named_body(bytes(body))} received of "
                f"{promised + ' promised' if promised else 'an unknown length'})") from None
        finally:
            response.close()
        return bytes(body)

    def _attempt(self, method: str, path: str, params: Mapping[str, Any],
                 data: Mapping[str, str] | None, json_body: Mapping[str, Any] | None,
                 query: Mapping[str, Any] | None,
                 parse: Callable[[FetchedResponse], Any]) -> tuple[Any, FetchedResponse]:
        url = f"{self.base_url}{path}"
        left = self._extract_time_left()
        if left <= 0:
            raise SourceDeadlineError(
                f"{self.source_name}: the extract's {self.extract_deadline:g} s deadline "
                f"passed after {self.attempts} requests; not calling {url}")
        self.throttle.wait()
        self.attempts += 1
        started = time.monotonic()
        try:
            response = self.session.request(method, url, data=data, json=json_body,
                                            params=query, timeout=self.timeout, auth=self.auth,
                                            stream=True)
            body = self._read_body(response, started, url, min(self.deadline, left))
        except _TRANSPORT_ERRORS as exc:  # before any answer: refused, reset, timed out
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
                f"{self.source_name}: HTTP {response.status_code} from {url} "
                f"({named_body(fetched.body)})",
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        if response.status_code >= 400:
            raise SourceHTTPError(
                f"{self.source_name}: HTTP {response.status_code} from {url} (not retried; "
                f"{named_body(fetched.body)} of {fetched.content_type or 'unknown type'}; "
                "the raw zone records it)",
                status=response.status_code,
            )
        try:
            return parse(fetched), fetched
        except (RetryableSourceError, SourceResponseError) as exc:
            if str(exc).startswith(f"{self.source_name}:"):
                raise
            # A parser's error names the URL and body; the source's name comes first.
            raise type(exc)(f"{self.source_name}: {exc}") from None
