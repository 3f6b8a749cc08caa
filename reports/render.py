"""The scorecard as a static HTML page that opens offline: Jinja2 templates, inline CSS,
Plotly charts with plotly.js inlined once (no network at view time), numbers written the
way the language writes them (98,50 % in Vietnamese, 98.50% in English)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from reports.scorecard import Scorecard, Trend
from reports.settings import Labels
from reports.tables import Column, written_number, written_percent

TEMPLATES = Path(__file__).with_name("templates")
LEVEL_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")


def format_value(value: Any, fmt: str, lang: str) -> str:
    """A cell as a reader sees it; "—" for a missing value, never 0."""
    if value is None or value == "":
        return "—" if fmt != "text" else ""
    if fmt == "text":
        return str(value)
    if fmt == "bool":
        return Labels(lang)("met_yes" if value else "met_no")
    number = float(value)
    if fmt == "int":
        return written_number(number, lang, 0)
    if fmt == "signed":
        return (("+" if number > 0 else "") + written_number(number, lang, 0)) if number \
            else "0"
    if fmt == "ratio":
        return written_percent(number, lang)
    return written_number(number, lang)  # decimal, percent


def _cell_class(column: Column, value: Any) -> str:
    if column.fmt == "bool":
        return "" if value is None else ("met" if value else "unmet")
    if column.fmt == "signed" and value:
        return "up" if value > 0 else "down"
    return "num" if column.fmt != "text" else ""


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                             autoescape=jinja2.select_autoescape(["html", "j2"]),
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    env.globals.update(cell_class=_cell_class)
    return env


@cache
def _plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def trend_chart(trend: Trend, lang: str, div_id: str) -> str:
    """One indicator's monthly values per level, as a Plotly figure (a <div> and the
    script that draws it; plotly.js itself is inlined once per page)."""
    import plotly.graph_objects as go

    t = Labels(lang)
    fig = go.Figure()
    for colour, (level, values) in zip(LEVEL_COLOURS, trend.values.items(), strict=False):
        fig.add_trace(go.Scatter(
            x=list(trend.months), y=[None if v is None else round(v * 100, 2) for v in values],
            mode="lines+markers", name=level, line={"color": colour}, connectgaps=False))
        targets = trend.targets.get(level) or []
        if any(x is not None for x in targets):
            fig.add_trace(go.Scatter(
                x=list(trend.months), y=[None if v is None else v * 100 for v in targets],
                mode="lines", name=f"{t('target')} — {level}",
                line={"color": colour, "dash": "dash", "width": 1}, hoverinfo="skip"))
    fig.update_layout(
        title={"text": trend.name, "font": {"size": 14}}, height=360,
        margin={"l": 50, "r": 20, "t": 50, "b": 30}, template="plotly_white",
        separators=",." if lang == "vi" else ".,",
        yaxis={"title": "%", "rangemode": "tozero"}, xaxis={"type": "category"},
        legend={"orientation": "h", "y": -0.3, "yanchor": "top"})
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
                       config={"displaylogo": False, "responsive": True})


def render_scorecard(card: Scorecard, *, other_language_href: str | None = None) -> str:
    """The page of one scorecard."""
    t = Labels(card.lang)
    charts = [trend_chart(trend, card.lang, f"trend-{i}") for i, trend in
              enumerate(card.trends)]
    return _environment().get_template("scorecard.html.j2").render(
        card=card, t=t, lang=card.lang, fmt=lambda v, f: format_value(v, f, card.lang),
        number=lambda v: format_value(v, "decimal", card.lang), charts=charts,
        plotly_js=_plotly_js() if charts else "", other_language_href=other_language_href)
