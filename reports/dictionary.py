"""The data dictionary as one HTML page for offline reading: the same page as
docs/data_dictionary.md (warehouse/dictionary.py), every heading and description in
Vietnamese and English, a table of contents, inline CSS and nothing fetched at view time."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import jinja2
from markdown_it import MarkdownIt
from markupsafe import Markup

from warehouse.dictionary import Page, Relation, same_columns

TEMPLATES = Path(__file__).with_name("templates")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


@dataclass(frozen=True)
class _Section:
    """A hand-written section (or the datasets), rendered, with its anchor and title."""

    anchor: str
    title: str
    html: Markup


@cache
def _markdown() -> MarkdownIt:
    # Raw HTML in the texts is shown as text, never passed through.
    return MarkdownIt("commonmark", {"html": False}).enable("table")


def anchor(title: str) -> str:
    """An ASCII id for a heading: `Quy ước` -> `quy-uoc`."""
    plain = unicodedata.normalize("NFKD", title.replace("đ", "d").replace("Đ", "D"))
    plain = "".join(c for c in plain if not unicodedata.combining(c)).lower()
    return re.sub(r"[^a-z0-9_]+", "-", plain).strip("-")


def _html(text: str) -> Markup:
    return Markup(_markdown().render(_COMMENT.sub("", text)))  # escaped by markdown-it


def _inline(text: str) -> Markup:
    return Markup(_markdown().renderInline(text))  # escaped by markdown-it


def _sections(texts: tuple[str, ...]) -> list[_Section]:
    """Markdown documents cut at their `## ` headings (a `# ` title is the page's own)."""
    sections = []
    for text in texts:
        text = _COMMENT.sub("", text)
        for part in re.split(r"^(?=## )", text, flags=re.MULTILINE):
            lines = [line for line in part.strip("\n").split("\n") if not line.startswith("# ")]
            if not "".join(lines).strip():
                continue
            title = lines[0][3:].strip() if lines[0].startswith("## ") else ""
            body = "\n".join(lines[1:] if title else lines)
            sections.append(_Section(anchor(title) if title else "", title, _html(body)))
    return sections


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                              autoescape=jinja2.select_autoescape(["html", "j2"]),
                              undefined=jinja2.StrictUndefined, trim_blocks=True,
                              lstrip_blocks=True)


def render_dictionary_html(page: Page) -> str:
    """The whole data dictionary as a standalone HTML page (`<html lang="vi">`)."""
    relations: list[Relation] = list(page.relations)
    same = same_columns(relations)
    described = [{
        "relation": r,
        "en": _html(r.en), "vi": _html(r.vi),
        "same_as": same.get(r.name),
        "columns": [{"column": c, "en": _inline(c.en), "vi": _inline(c.vi)}
                    for c in r.columns],
    } for r in relations]
    return _environment().get_template("dictionary.html.j2").render(
        before=_sections(page.before), after=_sections(page.after),
        tables=[d for d in described if d["relation"].kind == "table"],
        views=[d for d in described if d["relation"].kind == "view"])
