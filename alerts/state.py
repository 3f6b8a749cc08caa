"""Alert state (alert_state) and the outbox (alert_message), in the warehouse so that they
survive restarts and every run sees what the last one did.

`reconcile` compares what is open now with the state: a new alert (or one open again) is
sent; one still open is sent again only when it got worse or the route's suppression
interval has passed; one no longer open is resolved (a recovery is sent) or, when its
period has left the lookback window, expired (closed without a message). Writers of
the state take turns through one lock name, like partition loads.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from alerts.model import Alert, worse
from alerts.render import Message
from alerts.routing import Routing
from domain.periods import VN_TZ
from warehouse.schema import alert_message, alert_state

STATE_LOCK = "alert_state"


def as_utc(value: Any) -> dt.datetime | None:
    """A timestamp as an aware UTC datetime (DuckDB may hand back naive UTC values)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


@dataclass
class Decisions:
    """What one reconcile decided, per route."""

    send: dict[str, list[Alert]] = field(default_factory=dict)        # new, or re-sent
    resent: dict[str, set[str]] = field(default_factory=dict)         # of those, re-sent
    recovered: dict[str, list[Alert]] = field(default_factory=dict)
    open_now: dict[str, list[Alert]] = field(default_factory=dict)    # all still open
    since: dict[str, dict[str, dt.datetime]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("opened", "resent", "suppressed", "resolved", "expired"), 0))


def read_state(conn: sa.Connection, status: str | None = "open"
               ) -> dict[tuple[str, str], dict[str, Any]]:
    query = sa.select(alert_state)
    if status:
        query = query.where(alert_state.c.status == status)
    return {(r.route, r.fingerprint): dict(r._mapping) for r in conn.execute(query)}


def _row(route: str, alert: Alert, now: dt.datetime, before: Mapping[str, Any] | None,
         *, sent: bool) -> dict[str, Any]:
    still_open = before is not None and before["status"] == "open"
    return {
        "route": route, "fingerprint": alert.fingerprint, "kind": alert.kind,
        "severity": alert.severity, "status": "open", "dataset": alert.dataset,
        "source": alert.source, "period_id": alert.period_id, "unit_code": alert.unit_code,
        "check_name": alert.check_name[:255], "rows_affected": alert.rows,
        "alert_json": alert.to_json(),
        "first_seen_at": before["first_seen_at"] if still_open else now,
        "last_seen_at": now,
        "last_sent_at": now if sent else (before or {}).get("last_sent_at"),
        "closed_at": None,
        "times_sent": (before["times_sent"] if before else 0) + int(sent),
        "times_suppressed": ((before["times_suppressed"] if still_open else 0)
                             + int(not sent)),
    }


def _write(conn: sa.Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Replace the state rows of these (route, fingerprint) keys."""
    for route in {r["route"] for r in rows}:
        keys = [r["fingerprint"] for r in rows if r["route"] == route]
        for start in range(0, len(keys), 500):
            conn.execute(sa.delete(alert_state).where(
                alert_state.c.route == route,
                alert_state.c.fingerprint.in_(keys[start:start + 500])))
    if rows:
        conn.execute(sa.insert(alert_state), list(rows))


def reconcile(conn: sa.Connection, routed: Mapping[str, Sequence[Alert]], routing: Routing,
              now: dt.datetime, window_start: dt.date) -> Decisions:
    """Update alert_state from what is open now (route -> alerts); say what to send."""
    from warehouse.engine import lock_for_write

    lock_for_write(conn, STATE_LOCK)
    known = read_state(conn, status=None)
    decided = Decisions()
    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for code, alerts in routed.items():
        route = routing.route(code)
        interval = dt.timedelta(hours=route.suppress_hours)
        unique = {a.fingerprint: a for a in alerts}  # one alert per failure and route
        for fingerprint, alert in unique.items():
            seen.add((code, fingerprint))
            before = known.get((code, fingerprint))
            is_open = before is not None and before["status"] == "open"
            last_sent = as_utc(before["last_sent_at"]) if is_open else None
            if not is_open:
                send, counter = True, "opened"
            elif worse(alert.severity, before["severity"]):
                send, counter = True, "worsened"
            elif last_sent is None or now - last_sent >= interval:
                send, counter = True, "resent"
            else:
                send, counter = False, "suppressed"
            decided.counts["resent" if counter == "worsened" else counter] += 1
            row = _row(code, alert, now, before, sent=send)
            rows.append(row)
            decided.open_now.setdefault(code, []).append(alert)
            decided.since.setdefault(code, {})[fingerprint] = as_utc(row["first_seen_at"])
            if send:
                decided.send.setdefault(code, []).append(alert)
            if counter == "resent":
                decided.resent.setdefault(code, set()).add(fingerprint)
    for key, before in known.items():
        if before["status"] != "open" or key in seen:
            continue
        alert = Alert.from_json(before["alert_json"])
        gone = key[0] not in routing.routes
        expired = gone or alert.period_last_day < window_start
        rows.append({**before, "status": "expired" if expired else "resolved",
                     "closed_at": now})
        decided.counts["expired" if expired else "resolved"] += 1
        if not expired:
            decided.recovered.setdefault(key[0], []).append(alert)
    _write(conn, rows)
    return decided


def digest_due(conn: sa.Connection, route: str, now: dt.datetime, digest_hour: int) -> bool:
    """Whether the route's daily digest is due: at or after the digest hour (Vietnam time)
    and none made yet that day."""
    local = now.astimezone(VN_TZ)
    if local.hour < digest_hour:
        return False
    day_start = local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(dt.UTC)
    made = conn.execute(sa.select(sa.func.count()).select_from(alert_message).where(
        alert_message.c.route == route, alert_message.c.kind == "digest",
        alert_message.c.created_at >= day_start)).scalar()
    return not made


def outbox_rows(message: Message, channels: Iterable[str], now: dt.datetime
                ) -> list[dict[str, Any]]:
    """One outbox row per channel (its body is rendered at delivery, per format)."""
    return [{"message_id": f"{message.message_id[:24]}{i:08x}", "route": message.route,
             "channel": channel[:255], "kind": message.kind, "subject": message.subject[:500],
             "body_json": json.dumps(message_dict(message), ensure_ascii=False),
             "alerts": len(message.alerts), "status": "pending", "attempts": 0,
             "last_error": None, "created_at": now, "next_attempt_at": now,
             "delivered_at": None} for i, channel in enumerate(channels)]


def enqueue(conn: sa.Connection, message: Message, channels: Iterable[str],
            now: dt.datetime) -> int:
    rows = outbox_rows(message, channels, now)
    if rows:
        conn.execute(sa.insert(alert_message), rows)
    return len(rows)


def message_dict(message: Message) -> dict[str, Any]:
    return {"route": message.route, "kind": message.kind, "subject": message.subject,
            "texts": message.texts, "alerts": message.alerts,
            "route_name": message.route_name, "message_id": message.message_id,
            "created_at": message.created_at}


def message_of(row: Mapping[str, Any]) -> Message:
    return Message(**json.loads(row["body_json"]))


def pending(conn: sa.Connection, now: dt.datetime) -> list[dict[str, Any]]:
    """Outbox rows due for a try: pending, or unconfigured (a channel set up since)."""
    query = (sa.select(alert_message)
             .where(alert_message.c.status.in_(("pending", "unconfigured")),
                    alert_message.c.next_attempt_at <= now)
             .order_by(alert_message.c.created_at, alert_message.c.message_id))
    return [dict(r._mapping) for r in conn.execute(query)]


def record_attempts(conn: sa.Connection, results: Sequence[Mapping[str, Any]]) -> None:
    """Write each delivery attempt's outcome (status, attempts, error, next attempt)."""
    for result in results:
        conn.execute(sa.update(alert_message)
                     .where(alert_message.c.message_id == result["message_id"])
                     .values(**{k: v for k, v in result.items() if k != "message_id"}))
