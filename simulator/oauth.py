"""OAuth2 client credentials as the simulated systems grant them (one-stop, e-office): a
token endpoint, bearer tokens that expire, and the `expire_token` fault that revokes them
mid-run. A service mixing it in sets `client`, `token_ttl`, `tokens`, `tokens_issued` and
`_lock`, and has `faults`."""

from __future__ import annotations

import secrets
import threading
import time
import urllib.parse
from typing import Any

from simulator.errors import ApiError


class ClientCredentials:
    client: tuple[str, str]
    token_ttl: float
    tokens: dict[str, float]
    tokens_issued: int
    _lock: threading.Lock

    def _token(self, raw: bytes) -> dict[str, Any]:
        form = {k: v[-1] for k, v in urllib.parse.parse_qs(raw.decode("utf-8")).items()}
        if form.get("grant_type") != "client_credentials":
            raise ApiError(400, "unsupported_grant_type")
        if (form.get("client_id"), form.get("client_secret")) != self.client:
            raise ApiError(401, "invalid_client")
        token = secrets.token_urlsafe(24)
        with self._lock:
            self.tokens[token] = time.monotonic() + self.token_ttl
            self.tokens_issued += 1
        return {"access_token": token, "token_type": "Bearer",
                "expires_in": int(self.token_ttl), "scope": "statistics export"}

    def _authorise(self, headers: dict[str, str]) -> None:
        auth = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
        token = auth.removeprefix("Bearer ").strip()
        if self.faults.take("expire_token"):
            with self._lock:
                self.tokens.clear()
        with self._lock:
            expiry = self.tokens.get(token)
        if expiry is None or expiry < time.monotonic():
            raise ApiError(401, "invalid_token",
                           headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})

