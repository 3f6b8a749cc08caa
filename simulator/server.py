"""HTTP server of the portal simulator (stdlib ThreadingHTTPServer, 127.0.0.1 only).

Routes (shapes of shared/domain/SOURCES.md §1):
- `POST /jsp/rest.jsp` — legacy gateway; form field `params` (JSON) names the `service`.
- `POST /api/v1/reporting/evaluation/<group>` — reporting API (`service-results`, the
  metric groups `transparency`, `dossier-digitized`, `handling-satisfaction` and the tree
  groups `dvc-progress-tree`, `provide-online-tree`, `formality-online-payment-tree`).
- `/onestop/<province code>/...` — that province's one-stop system (simulator/onestop_api.py):
  OAuth2 token, iGate-style and OpenCPS-style statistics, paged dossier export.
- `/eoffice/<province code>/...` — that province's e-office system (simulator/eoffice.py,
  the API of docs/eoffice_api.md): OAuth2 token, monthly document statistics per unit.
- `GET /__sim/health`, `GET /__sim/requests` (request log), `POST /__sim/faults` (set plan).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from domain.periods import Month
from domain.units import UnitRegistry
from simulator.eoffice import EOfficeApi, EOfficeWorld
from simulator.errors import ApiError
from simulator.faults import FaultPlan
from simulator.legacy import LegacyGateway
from simulator.onestop_api import OneStopApi
from simulator.onestop_world import OneStopWorld, load_procedures
from simulator.reporting import ReportingApi
from simulator.responses import RawBody
from simulator.world import NationalPortalWorld

DEFAULT_UNITS = Path(__file__).resolve().parents[1] / "config" / "units"
DEFAULT_PROCEDURES = DEFAULT_UNITS.parent / "procedures.csv"
ONESTOP_ERA = dt.date(2025, 7, 1)  # the 34-province era (the one-stop systems of today)


class PortalSimulator:
    """Start with `with PortalSimulator(port=0) as sim:`; `sim.url` is the base URL."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, seed: int = 766,
                 faults: FaultPlan | None = None, units_dir: Path = DEFAULT_UNITS,
                 procedures_file: Path = DEFAULT_PROCEDURES,
                 dossiers_per_unit: float = 40.0, lookback_months: int = 4,
                 published_through: Month | None = None, revisions: bool = False) -> None:
        if host not in {"127.0.0.1", "localhost", "::1"}:
            raise ValueError("the simulator only listens on loopback")
        configured = UnitRegistry.from_folder(units_dir, reference=False)
        # revisions: the latest month's figures are preliminary, revised once the next
        # month has ended (the portal's dossier counts, the one-stop systems' late entries)
        self.world = NationalPortalWorld(configured, seed=seed,
                                         published_through=published_through,
                                         revisions=revisions)
        # The one-stop systems serve the detailed provinces' units that have an agency ID
        # in the pipeline's configuration (scheme onestop_agency), as a province would; a
        # merged province's system holds its predecessors' units before July 2025.
        portal = self.world.portal
        onestop_units = UnitRegistry(
            [*portal.detailed_units(ONESTOP_ERA - dt.timedelta(days=1)),
             *portal.detailed_units(ONESTOP_ERA)], configured.source_ids)
        self.faults = faults or FaultPlan()
        current_faults = lambda: self.faults  # noqa: E731  (tests swap the plan)
        self.legacy = LegacyGateway(self.world, current_faults)
        self.reporting = ReportingApi(self.world, current_faults)
        self.onestop = OneStopApi(
            OneStopWorld(onestop_units, load_procedures(procedures_file), seed=seed,
                         dossiers_per_unit=dossiers_per_unit,
                         lookback_months=lookback_months,
                         latest_complete=self.world.latest_scored if revisions else None),
            current_faults)
        # Each one-stop province also runs an e-office system, for the same units.
        self.eoffice = EOfficeApi(EOfficeWorld(self.onestop.world.units_of, seed=seed),
                                  current_faults, provinces={
                                      u.unit_code for u in onestop_units.units
                                      if u.level == "province" and u.valid_to is None})
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> PortalSimulator:
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="portal-simulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def __enter__(self) -> PortalSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log_request(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append(entry)

    # -- HTTP ----------------------------------------------------------------------------
    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        sim = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet by default
                pass

            def _send(self, status: int, body: bytes, content_type: str = "application/json",
                      headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", f"{content_type}; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def _json(self, status: int, payload: Any) -> None:
                self._send(status, json.dumps(payload, ensure_ascii=False).encode("utf-8"))

            def do_GET(self) -> None:
                if self.path == "/__sim/health":
                    self._json(200, {"status": "ok", "seed": sim.world.seed})
                elif self.path == "/__sim/requests":
                    with sim._lock:
                        self._json(200, list(sim.requests))
                else:
                    self._serve("GET", b"")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self.path == "/__sim/faults":
                    sim.faults = FaultPlan.parse(raw.decode() or None)
                    self._json(200, {"faults": sim.faults.counts})
                    return
                self._serve("POST", raw)

            def _serve(self, method: str, raw: bytes) -> None:
                """Apply the fault plan, then answer from the route."""
                sim.log_request({"t": time.monotonic(), "path": self.path, "method": method})
                fault = sim.faults.next_http_fault()
                if fault == "rate_limit":
                    retry_after = sim.faults.retry_after
                    header = str(int(retry_after)) if retry_after.is_integer() else str(
                        retry_after)
                    self._send(429, b'{"error": "Too Many Requests"}',
                               headers={"Retry-After": header})
                    return
                if fault == "server_error":
                    status = 500 if sim.faults.fired["server_error"] % 2 else 503
                    self._send(status, b"<html><body>Service Unavailable</body></html>",
                               content_type="text/html")
                    return
                if fault == "bad_request":
                    self._json(400, {"error": "Bad Request: invalid params"})
                    return
                if fault == "slow":
                    time.sleep(sim.faults.slow_seconds)
                try:
                    payload = self._route(method, raw)
                except ApiError as exc:
                    body = json.dumps({"error": str(exc)}).encode("utf-8")
                    self._send(exc.status, body, headers=exc.headers)
                    return
                content_type, headers = "application/json", {}
                if isinstance(payload, RawBody):
                    body, content_type, headers = (payload.body, payload.content_type,
                                                   payload.headers)
                else:
                    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
                if fault == "malformed_json":
                    body = body[: max(1, len(body) // 2)]
                # The client may have given up already (its timeout fired during `slow`).
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self._send(200, body, content_type=content_type, headers=headers)

            def _route(self, method: str, raw: bytes) -> Any:
                url = urllib.parse.urlsplit(self.path)
                if url.path.startswith("/eoffice/"):
                    query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
                    return sim.eoffice.handle(method, url.path, query, dict(self.headers), raw)
                if url.path.startswith("/onestop/"):
                    query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
                    return sim.onestop.handle(method, url.path, query, dict(self.headers), raw)
                if method == "POST" and self.path == "/jsp/rest.jsp":
                    form = urllib.parse.parse_qs(raw.decode("utf-8"))
                    if "params" not in form:
                        raise ApiError(400, "missing form field 'params'")
                    try:
                        params = json.loads(form["params"][0])
                    except json.JSONDecodeError as exc:
                        raise ApiError(400, f"params is not JSON: {exc}") from exc
                    return sim.legacy.handle(params)
                prefix = "/api/v1/reporting/evaluation/"
                if method == "POST" and self.path.startswith(prefix):
                    try:
                        body = json.loads(raw or b"{}")
                    except json.JSONDecodeError as exc:
                        raise ApiError(400, f"body is not JSON: {exc}") from exc
                    return sim.reporting.handle(self.path[len(prefix):], body)
                raise ApiError(404, f"no route {method} {self.path}")

        return Handler
