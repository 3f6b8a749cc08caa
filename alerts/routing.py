"""Routing as data: config/alerts.yaml, read into routes (ops, and one per reform office).

An office oversees units by code (`unit`) or by parent (`parent`: the parent and every unit
under it, following the unit hierarchy valid on the last day of the alert's period, so a
commune moved to another province in 2025 is routed by the province it had then). Light
on purpose (stdlib + PyYAML): the Airflow notifier reads it in a failure callback.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

LANGUAGES = ("vi", "en")
KINDS = ("data_quality", "rejected", "freshness", "target")
FORMATS = ("json", "slack", "teams")
OPS = "ops"


class RoutingError(ValueError):
    """config/alerts.yaml is not as documented: the message names the route and key."""


@dataclass(frozen=True)
class Channel:
    type: str                                # email | webhook
    to: tuple[str, ...] = ()                 # email: the recipients
    url_env: str | None = None               # webhook: the variable holding the URL
    format: str = "json"                     # webhook: json | slack | teams

    @property
    def name(self) -> str:
        """How the channel is named in the outbox: never the URL (a secret)."""
        return f"email:{','.join(self.to)}" if self.type == "email" else (
            f"webhook:{self.format}:{self.url_env}")


@dataclass(frozen=True)
class Route:
    code: str
    name_vi: str
    name_en: str
    channels: tuple[Channel, ...]
    languages: tuple[str, ...]
    suppress_hours: float
    receives: frozenset[str]
    units: frozenset[str] = frozenset()
    parents: frozenset[str] = frozenset()
    # None: no target alerts; {}: the catalogue's targets; else indicator -> target
    targets: Mapping[str, float] | None = None

    def oversees(self, ancestry: Sequence[str]) -> bool:
        """Whether the route oversees a unit, given the unit and its ancestors (nearest
        first) in the period's hierarchy."""
        return bool(ancestry) and (ancestry[0] in self.units
                                   or any(code in self.parents for code in ancestry))

    def name(self, lang: str) -> str:
        return self.name_vi if lang == "vi" else self.name_en


@dataclass(frozen=True)
class Routing:
    ops: Route
    offices: Mapping[str, Route]
    digest_hour: int
    lookback_months: int
    max_attempts: int
    reports_url: str
    smtp_connection_id: str
    source: Path | None = field(default=None, compare=False)

    @property
    def routes(self) -> dict[str, Route]:
        return {OPS: self.ops, **self.offices}

    def route(self, code: str) -> Route:
        if code not in self.routes:
            raise RoutingError(f"no route {code!r} in config/alerts.yaml; known: "
                               f"{sorted(self.routes)}")
        return self.routes[code]

    def offices_for(self, ancestry: Sequence[str], kind: str) -> list[Route]:
        """The offices overseeing the unit (ancestry: the unit, then its parents) that
        receive this kind of alert."""
        return [r for r in self.offices.values() if kind in r.receives and r.oversees(ancestry)]

    @classmethod
    def from_file(cls, path: Path) -> Routing:
        try:
            raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise RoutingError(f"{path}: cannot be read as YAML: {exc}") from exc
        return cls.from_dict(raw, source=Path(path))

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], *, source: Path | None = None) -> Routing:
        where = source.name if source else "alerts.yaml"
        _only(raw, {"defaults", "links", "smtp", "ops", "offices"}, where)
        defaults = raw.get("defaults") or {}
        _only(defaults, {"language", "suppress_hours", "digest_hour", "lookback_months",
                         "max_attempts"}, f"{where}: defaults")
        if "ops" not in raw:
            raise RoutingError(f"{where}: an `ops` route is required (task failures and "
                               "alerts no office oversees go there)")
        ops = _route(OPS, raw["ops"], defaults, f"{where}: ops", office=False)
        offices = {code: _route(str(code), entry or {}, defaults, f"{where}: {code}",
                                office=True)
                   for code, entry in (raw.get("offices") or {}).items()}
        links, smtp = raw.get("links") or {}, raw.get("smtp") or {}
        _only(links, {"reports_url"}, f"{where}: links")
        _only(smtp, {"connection_id"}, f"{where}: smtp")
        digest_hour = _number(defaults.get("digest_hour", 7), f"{where}: digest_hour", int)
        if not 0 <= digest_hour <= 23:
            raise RoutingError(f"{where}: digest_hour is an hour of the day, 0 to 23")
        return cls(ops=ops, offices=offices, digest_hour=digest_hour,
                   lookback_months=_number(defaults.get("lookback_months", 3),
                                           f"{where}: lookback_months", int),
                   max_attempts=_number(defaults.get("max_attempts", 12),
                                        f"{where}: max_attempts", int),
                   reports_url=str(links.get("reports_url") or "").rstrip("/"),
                   smtp_connection_id=str(smtp.get("connection_id") or "reformstats_smtp"),
                   source=source)


def _only(raw: Any, known: set[str], where: str) -> None:
    if not isinstance(raw, Mapping):
        raise RoutingError(f"{where}: expected a mapping, got {raw!r}")
    unknown = set(raw) - known
    if unknown:
        raise RoutingError(f"{where}: unknown keys {sorted(unknown)}; known: {sorted(known)}")


def _number(value: Any, where: str, kind: type) -> Any:
    try:
        number = kind(value)
    except (TypeError, ValueError) as exc:
        raise RoutingError(f"{where}: expected a number, got {value!r}") from exc
    if number < 0:
        raise RoutingError(f"{where}: must not be negative")
    return number


def _channel(raw: Any, where: str) -> Channel:
    _only(raw, {"type", "to", "url_env", "format"}, where)
    if raw.get("type") == "email":
        to = raw.get("to")
        if not isinstance(to, list) or not to or not all(
                isinstance(a, str) and "@" in a for a in to):
            raise RoutingError(f"{where}: an email channel needs `to`: a list of addresses")
        return Channel("email", to=tuple(to))
    if raw.get("type") == "webhook":
        url_env, fmt = raw.get("url_env"), raw.get("format", "json")
        if not isinstance(url_env, str) or not url_env.isidentifier():
            raise RoutingError(f"{where}: a webhook channel needs `url_env`, the NAME of the "
                               "environment variable holding its URL (never the URL)")
        if fmt not in FORMATS:
            raise RoutingError(f"{where}: format must be one of {FORMATS}, got {fmt!r}")
        return Channel("webhook", url_env=url_env, format=fmt)
    raise RoutingError(f"{where}: type must be email or webhook, got {raw.get('type')!r}")


def _languages(value: Any, where: str) -> tuple[str, ...]:
    found = (value,) if isinstance(value, str) else tuple(value or ())
    if not found or set(found) - set(LANGUAGES):
        raise RoutingError(f"{where}: language is some of {LANGUAGES}, got {value!r}")
    return found


def _targets(value: Any, where: str) -> Mapping[str, float] | None:
    if value is None or value is False:
        return None
    if value is True:
        return {}
    if not isinstance(value, Mapping):
        raise RoutingError(f"{where}: targets is true or a mapping indicator -> target")
    found = {str(k): _number(v, f"{where}.{k}", float) for k, v in value.items()}
    if any(v > 1 for v in found.values()):
        raise RoutingError(f"{where}: a target is a fraction (0.98 for 98%)")
    return found


def _route(code: str, raw: Mapping[str, Any], defaults: Mapping[str, Any], where: str, *,
           office: bool) -> Route:
    known = {"name_vi", "name_en", "channels", "language", "suppress_hours", "receives"}
    _only(raw, known | ({"oversees", "targets"} if office else set()), where)
    if not raw.get("name_vi"):
        raise RoutingError(f"{where}: name_vi is required (alerts name the office)")
    channels = raw.get("channels") or []
    if not isinstance(channels, list):
        raise RoutingError(f"{where}: channels is a list")
    units: set[str] = set()
    parents: set[str] = set()
    for i, item in enumerate(raw.get("oversees") or []):
        _only(item, {"unit", "parent"}, f"{where}.oversees[{i}]")
        if len(item) != 1:
            raise RoutingError(f"{where}.oversees[{i}]: one of unit or parent")
        (units if "unit" in item else parents).add(str(next(iter(item.values()))))
    if office and not (units or parents):
        raise RoutingError(f"{where}: an office oversees some unit (oversees: unit / parent)")
    receives = raw.get("receives", list(KINDS))
    if not isinstance(receives, list) or set(receives) - set(KINDS):
        raise RoutingError(f"{where}: receives is some of {KINDS}")
    return Route(
        code=code, name_vi=str(raw["name_vi"]), name_en=str(raw.get("name_en") or
                                                            raw["name_vi"]),
        channels=tuple(_channel(c, f"{where}.channels[{i}]") for i, c in enumerate(channels)),
        languages=_languages(raw.get("language", defaults.get("language", ["vi"])),
                             f"{where}: language"),
        suppress_hours=_number(raw.get("suppress_hours", defaults.get("suppress_hours", 168)),
                               f"{where}: suppress_hours", float),
        receives=frozenset(receives), units=frozenset(units), parents=frozenset(parents),
        targets=_targets(raw.get("targets"), f"{where}: targets") if office else None)


def load_routing(config_dir: Path) -> Routing:
    """config/alerts.yaml of a config folder."""
    return Routing.from_file(Path(config_dir) / "alerts.yaml")
