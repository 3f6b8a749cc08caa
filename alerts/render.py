"""Messages: one per route and run (new alerts, recoveries, a digest; ops failures), its text
in each of the route's languages from one Jinja2 template, and the body each channel
format sends (e-mail; webhook JSON, Slack or Teams).

The JSON payload (`schema: reformstats.alert/1`) is documented in docs/alerts.md. Nothing
in a message comes from a source's rows: units, periods, counts, check names, links.
"""

from __future__ import annotations

import datetime as dt
import functools
import secrets
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import yaml

from alerts.evaluate import province_of_source
from alerts.model import Alert
from alerts.routing import Route
from domain.periods import VN_TZ
from reports.tables import written_number, written_percent

HERE = Path(__file__).parent
SCHEMA = "reformstats.alert/1"
SECTIONS = ("rejected", "data_quality", "freshness", "target")
SLACK_TEXT_LIMIT = 2900   # a Slack section holds 3,000 characters
SLACK_SECTIONS = 48       # a Slack message holds 50 blocks (one is the header)
TEAMS_TEXT_LIMIT = 18000  # a Teams message holds about 28 KB, every language together


@functools.cache
def labels(lang: str) -> Mapping[str, Any]:
    return yaml.safe_load((HERE / "labels.yaml").read_text(encoding="utf-8"))[lang]


@functools.cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"),
                             undefined=jinja2.StrictUndefined, autoescape=False,
                             keep_trailing_newline=True)
    return env.get_template("message.txt.j2")


def describe(check_name: str, lang: str) -> str:
    """What a failed check means, in the language (see labels.yaml)."""
    checks = labels(lang)["checks"]
    name = check_name.removeprefix("rule:")
    if name in checks:
        return checks[name].format(arg="")
    for sep in ("(", ":"):
        if sep in name:
            head, arg = name.split(sep, 1)
            if head in checks:
                return checks[head].format(arg=arg.rstrip(")").split("=")[0])
    if name.endswith("_fits"):
        return checks["fits"].format(arg=name.removesuffix("_fits"))
    return labels(lang)["unknown_check"].format(check=check_name)


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def query_for(alert: Alert) -> str | None:
    """A query an analyst runs to see what the alert is about (counts, reasons, loads)."""
    where = (f"source = {_sql_text(alert.source)} AND dataset = {_sql_text(alert.dataset)} "
             f"AND period_id = {alert.period_id}")
    if alert.kind == "data_quality":
        unit = (f" AND unit_code = {_sql_text(alert.unit_code)}"
                if alert.unit_code and alert.source != f"onestop_{alert.unit_code}" else "")
        return (f"SELECT * FROM dq_result WHERE run_id = {_sql_text(alert.run_id or '')} AND "
                f"{where} AND check_name = {_sql_text(alert.check_name)}{unit}")
    if alert.kind == "rejected":
        return (f"SELECT reasons, count(*) FROM quarantine_row WHERE {where} "
                "GROUP BY reasons")
    if alert.kind == "freshness":
        return (f"SELECT * FROM load_audit WHERE source = {_sql_text(alert.source)} AND "
                f"dataset = {_sql_text(alert.dataset)} ORDER BY loaded_at DESC LIMIT 5")
    if alert.kind == "target":
        return (f"SELECT * FROM v_indicator_monthly WHERE unit_code = "
                f"{_sql_text(alert.unit_code or '')} AND period_id = {alert.period_id}")
    return None


@dataclass(frozen=True)
class Pages:
    """Where the report pages are (a URL, or the reports folder) and in which languages
    config/reports.yaml writes them."""

    base: str
    languages: tuple[str, ...] = ("vi",)

    def page(self, stem: str, lang: str) -> str:
        """The page in `lang` if it is written, else in the first language written."""
        written = lang if lang in self.languages else self.languages[0]
        return f"{self.base}/{stem}.{written}.html"


def link_for(alert: Alert, reports: Pages, lang: str) -> str:
    """The page a reader opens: the province's scorecard for targets, else the quality
    page."""
    if alert.kind == "target" and alert.province_code:
        return reports.page(f"{alert.province_code}/{alert.period}/scorecard", lang)
    return reports.page("quality", lang)


def view(alert: Alert, lang: str, reports: Pages, since: dt.datetime | None = None
         ) -> dict[str, Any]:
    """What the template shows of one alert, in one language."""
    t = labels(lang)
    province = province_of_source(alert.source)
    source = t["sources"].get(alert.source, alert.source)
    if province:
        name = alert.province_name if province == alert.province_code else None
        source = t["sources"][alert.source.partition("_")[0]].format(
            province=name or province)
    facts = dict(alert.facts)
    detail = None
    if alert.kind == "data_quality":
        what = describe(alert.check_name, lang)
        if "previous" in facts:  # a jump: the unit's value before and now
            detail = t["jump_detail"].format(
                before=facts["previous_period"], now=alert.period,
                previous=written_number(facts["previous"], lang, 0),
                current=written_number(facts["current"], lang, 0))
    elif alert.kind == "target":
        indicator = t["indicators"].get(alert.check_name, alert.check_name)
        what = t["target"].format(indicator=indicator,
                                  value=written_percent(facts["value"], lang),
                                  target=written_percent(facts["target"], lang),
                                  numerator=written_number(facts["numerator"], lang, 0),
                                  denominator=written_number(facts["denominator"], lang, 0),
                                  counted=t["counted"].get(alert.check_name,
                                                           t["counted"]["default"]))
    else:
        what = t["sections"][alert.kind]
        detail = t[alert.kind].format(**{k: written_number(v, lang, 0)
                                         if isinstance(v, int) else v
                                         for k, v in facts.items()})
    unit = (f"{alert.unit_name} ({alert.unit_code})" if alert.unit_name else
            alert.unit_code) if alert.unit_code else t["partition"]
    return {
        "what": what, "detail": detail, "unit": unit, "period": alert.period,
        "source": source, "dataset": t["datasets"].get(alert.dataset, alert.dataset),
        "severity": t["severity"].get(alert.severity, alert.severity),
        "rows": (written_number(alert.rows, lang, 0)
                 if alert.rows is not None and alert.kind != "target" else None),
        "link": link_for(alert, reports, lang), "query": query_for(alert),
        "since": (since.astimezone(VN_TZ).strftime("%Y-%m-%d %H:%M ") + t["vn_time"]
                  if since else None),
    }


@dataclass
class Message:
    """One message to one route: its subject and text per language, and its alerts."""

    route: str
    kind: str                      # alert | recovery | digest | ops
    subject: str
    texts: dict[str, str]          # language -> text
    alerts: list[dict[str, Any]]   # the alerts, as the JSON payload lists them
    route_name: dict[str, str]
    message_id: str = field(default_factory=lambda: secrets.token_hex(16))
    created_at: str = ""

    @property
    def text(self) -> str:
        """Every language's text, the route's first language first."""
        return "\n\n― ― ―\n\n".join(self.texts.values())


def _periods(alerts: Sequence[Alert]) -> str:
    return ", ".join(sorted({a.period for a in alerts}))


def compose(route: Route, kind: str, alerts: Sequence[Alert], *, reports: Pages,
            now: dt.datetime, since: Mapping[str, dt.datetime] | None = None,
            resent: Set[str] = frozenset()) -> Message:
    """The message for a route: `kind` alert (new alerts, and those re-sent after the
    suppression interval: `resent` fingerprints), recovery or digest."""
    since = since or {}
    again = sum(a.fingerprint in resent for a in alerts)
    texts, subject = {}, ""
    day = now.astimezone(VN_TZ).date().isoformat()
    ordered = sorted(alerts, key=lambda a: (SECTIONS.index(a.kind), a.period, a.unit_code
                                            or "", a.dataset, a.check_name))
    for lang in route.languages:
        t = labels(lang)
        sections = [(s, [view(a, lang, reports, since.get(a.fingerprint))
                         for a in ordered if a.kind == s]) for s in SECTIONS]
        texts[lang] = _template().render(
            kind=kind, t=t, route_name=route.name(lang), day=day,
            sections=[(s, items) for s, items in sections if items], alerts=ordered,
            new=len(ordered) - again, again=again,
            suppress_hours=written_number(route.suppress_hours, lang, 0), ops=None)
        if not subject:
            key = "subject_resent" if kind == "alert" and again == len(ordered) else (
                f"subject_{kind}")
            subject = t[key].format(
                brand=t["brand"], count=len(ordered), office=route.name(lang),
                periods=_periods(ordered), day=day)
    payload = [{
        "fingerprint": a.fingerprint, "kind": a.kind, "severity": a.severity,
        "dataset": a.dataset, "source": a.source, "period": a.period,
        "period_id": a.period_id, "unit_code": a.unit_code, "unit_name": a.unit_name,
        "province_code": a.province_code, "check": a.check_name,
        "what": {lang: view(a, lang, reports)["what"] for lang in ("vi", "en")},
        "rows": a.rows, "run_id": a.run_id, "facts": dict(a.facts),
        "link": {lang: link_for(a, reports, lang) for lang in ("vi", "en")},
        "query": query_for(a)} for a in ordered]
    return Message(route=route.code, kind=kind, subject=subject, texts=texts,
                   alerts=payload, route_name={"vi": route.name_vi, "en": route.name_en},
                   created_at=now.isoformat())


def compose_ops(route: Route, failure: Mapping[str, Any], now: dt.datetime) -> Message:
    """An ops message about a failed task or run (failure: dag_id, task_id, run_id, ...)."""
    texts, subject = {}, ""
    for lang in route.languages:
        t = labels(lang)
        title = t["subject_run" if failure.get("kind") == "run_failed" else "subject_ops"
                  ].format(brand=t["brand"], dag=failure.get("dag_id"),
                           task=failure.get("task_id"), run=failure.get("run_id"),
                           try_number=failure.get("try_number") or "—")
        texts[lang] = _template().render(kind="ops", ops={**failure, "title": title}, t=t)
        subject = subject or title
    return Message(route=route.code, kind="ops", subject=subject, texts=texts,
                   alerts=[dict(failure)],
                   route_name={"vi": route.name_vi, "en": route.name_en},
                   created_at=now.isoformat())


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _pieces(text: str, lang: str, limit: int, most: int) -> list[str]:
    """`text` in pieces of at most `limit` characters, cut at line ends, at most `most`
    of them; what does not fit is named (how many lines), never dropped silently."""
    pieces, current = [], ""
    lines = text.splitlines()
    for n, line in enumerate(lines):
        line = _clip(line, limit - 1)
        if current and len(current) + len(line) + 1 > limit:
            pieces.append(current)
            current = ""
            if len(pieces) == most:  # make room for the note with whole lines
                kept, left = pieces[-1].splitlines(), len(lines) - n
                while kept and sum(len(k) + 1 for k in kept) + 200 > limit:
                    kept.pop()
                    left += 1
                pieces[-1] = "".join(k + "\n" for k in kept) + labels(lang)["cut"].format(
                    lines=left)
                return pieces
        current += line + "\n"
    return [*pieces, current] if current else pieces


def body(message: Message, fmt: str) -> dict[str, Any]:
    """What a webhook of this format is sent."""
    if fmt == "slack":
        return {"text": message.subject, "blocks": [
            {"type": "header", "text": {"type": "plain_text",
                                        "text": _clip(message.subject, 150)}},
            *({"type": "section", "text": {"type": "mrkdwn", "text": piece}}
              for lang, text in message.texts.items()
              for piece in _pieces(text, lang, SLACK_TEXT_LIMIT,
                                   SLACK_SECTIONS // len(message.texts)))]}
    if fmt == "teams":
        return {"type": "message", "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None,
            "content": {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                        "type": "AdaptiveCard", "version": "1.4", "body": [
                            {"type": "TextBlock", "text": message.subject, "weight": "Bolder",
                             "size": "Medium", "wrap": True},
                            *({"type": "TextBlock", "text": _pieces(
                                text, lang, TEAMS_TEXT_LIMIT // len(message.texts), 1)[0],
                               "wrap": True} for lang, text in message.texts.items())]}}]}
    return {"schema": SCHEMA, "message_id": message.message_id, "kind": message.kind,
            "route": message.route, "route_name": message.route_name,
            "created_at": message.created_at, "subject": message.subject,
            "text": message.texts, "alerts": message.alerts}
