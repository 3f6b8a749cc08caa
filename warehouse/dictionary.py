"""The data dictionary, kept where it cannot drift: in the database's own comments.

- `warehouse/dictionary.yaml` describes every table, view and column in English and in
  Vietnamese; it is the one source of descriptions (warehouse/schema.py takes its comments
  from it).
- Every `reformstats db upgrade` writes them into the warehouse (`COMMENT ON TABLE / VIEW /
  COLUMN`, only where a comment differs, so an upgrade with nothing to do changes
  nothing, and a view a migration recreated gets its comments back); an entry naming a
  table, view or column the warehouse does not have fails the upgrade, naming it.
- `read_dictionary` reads the comments back from a live DuckDB or PostgreSQL warehouse,
  and `render_markdown` turns them, with the hand-written sections of `docs/dictionary/`
  and the dataset registry's section (registry/docs.py), into docs/data_dictionary.md
  (`reformstats docs build`; reports/dictionary.py renders the same page as HTML).

A comment holds both languages: the English text, then a line starting with `vi: ` and the
Vietnamese text (after a blank line when either text has several lines), which reads well
in `psql \\d+` and is parsed back by `parse_comment`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
import yaml

DICTIONARY_FILE = Path(__file__).with_name("dictionary.yaml")
Kind = Literal["table", "view"]
SECTIONS: dict[str, Kind] = {"tables": "table", "views": "view"}
VI_MARK = "vi: "
_VI_LINE = re.compile(r"^vi: ", re.MULTILINE)
BUILD_COMMAND = "reformstats docs build"


class DictionaryError(ValueError):
    """The dictionary file is malformed, or names what the warehouse does not have."""


# -- the two languages in one comment ----------------------------------------------------
@dataclass(frozen=True)
class Text:
    """A description in English and Vietnamese (markdown)."""

    en: str
    vi: str

    def comment(self) -> str:
        """The database comment: English, then a line `vi: ` with the Vietnamese."""
        gap = "\n\n" if "\n" in self.en or "\n" in self.vi else "\n"
        return f"{self.en}{gap}{VI_MARK}{self.vi}"


def parse_comment(comment: str | None) -> Text:
    """A database comment back into its two languages; a comment without a `vi: ` line is
    all English (and has no Vietnamese)."""
    if not comment:
        return Text("", "")
    found = _VI_LINE.search(comment)
    if found is None:
        return Text(comment.strip(), "")
    return Text(comment[:found.start()].strip(), comment[found.end():].strip())


# -- the file --------------------------------------------------------------------------
@dataclass(frozen=True)
class Entry:
    """One table or view of the dictionary file, its columns in the file's order."""

    name: str
    kind: Kind
    text: Text
    columns: dict[str, Text] = field(default_factory=dict)


class _Loader(yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader):  # type: ignore[misc]
    """Safe YAML that refuses a key given twice (YAML would keep the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        keys = [(self.construct_object(k, deep=True), k.start_mark.line + 1)
                for k, _ in node.value]
        firsts: dict[Any, int] = {}
        for key, line in keys:
            if key in firsts:
                raise DictionaryError(f"line {line}: {key!r} given twice (first on line "
                                      f"{firsts[key]})")
            firsts[key] = line
        return super().construct_mapping(node, deep=deep)


def _text(value: Any, where: str, problems: list[str]) -> Text:
    if not isinstance(value, dict) or set(value) - {"en", "vi", "columns", "columns_from",
                                                     "columns_except"}:
        problems.append(f"{where}: needs en and vi (and, for a table or view, columns)")
        return Text("", "")
    texts = {}
    for lang in ("en", "vi"):
        text = value.get(lang)
        if not isinstance(text, str) or not text.strip():
            problems.append(f"{where}: no {lang} description")
            text = ""
        elif unicodedata.normalize("NFC", text) != text:
            problems.append(f"{where}: the {lang} text is not Unicode NFC")
        texts[lang] = text.strip()
    if _VI_LINE.search(texts["en"]) or _VI_LINE.search(texts["vi"]):
        problems.append(f"{where}: a line starts with {VI_MARK!r}, which marks the "
                        "Vietnamese text in a comment")
    return Text(**texts)


def parse_entries(data: Any) -> tuple[Entry, ...]:
    """The entries of a dictionary file's content; DictionaryError lists every problem.
    `columns_from: other` starts a view's columns with those of an earlier entry, less
    those `columns_except` lists (its own `columns` add to or override them)."""
    problems: list[str] = []
    if not isinstance(data, dict) or set(data) - set(SECTIONS):
        raise DictionaryError(f"{DICTIONARY_FILE.name}: the top level is tables: and views:")
    entries: dict[str, Entry] = {}
    for section, kind in SECTIONS.items():
        for name, value in (data.get(section) or {}).items():
            where = f"{kind} {name}"
            text = _text(value, where, problems)
            columns: dict[str, Text] = {}
            source = value.get("columns_from") if isinstance(value, dict) else None
            if source is not None:
                if source not in entries:
                    problems.append(f"{where}: columns_from {source!r} is not an entry above")
                else:
                    left_out = set(value.get("columns_except") or ())
                    if unknown := sorted(left_out - set(entries[source].columns)):
                        problems.append(f"{where}: columns_except names columns {source} "
                                        f"does not have: {unknown}")
                    columns.update({c: t for c, t in entries[source].columns.items()
                                    if c not in left_out})
            own = value.get("columns") if isinstance(value, dict) else None
            for column, described in (own or {}).items():
                columns[column] = _text(described, f"column {name}.{column}", problems)
            if not columns:
                problems.append(f"{where}: no columns")
            entries[name] = Entry(name, kind, text, columns)
    if problems:
        raise DictionaryError(f"{len(problems)} problem(s) in {DICTIONARY_FILE.name}:\n"
                              + "\n".join(f"  {p}" for p in problems))
    return tuple(entries.values())


@cache
def _load(path: Path) -> tuple[Entry, ...]:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except (yaml.YAMLError, DictionaryError) as exc:
        raise DictionaryError(f"{path.name}: {exc}") from None
    return parse_entries(data)


def load_entries(path: Path | None = None) -> tuple[Entry, ...]:
    """The dictionary file's tables, then its views, in the file's order (each file read
    once); by default DICTIONARY_FILE."""
    return _load((path or DICTIONARY_FILE).resolve())


def attach_comments(metadata: sa.MetaData, entries: Iterable[Entry] | None = None) -> None:
    """Give the SQLAlchemy tables and columns the comments an upgrade writes, so that the
    schema module and the database agree (Alembic's compare_metadata compares comments)."""
    by_name = {e.name: e for e in (load_entries() if entries is None else entries)}
    for table in metadata.tables.values():
        entry = by_name.get(table.name)
        table.comment = entry.text.comment() if entry else None
        for column in table.columns:
            text = entry.columns.get(column.name) if entry else None
            column.comment = text.comment() if text else None


# -- the database's catalog ------------------------------------------------------------
@dataclass(frozen=True)
class _Found:
    """A table or view as the catalog has it: (column, type, comment) in column order."""

    kind: Kind
    comment: str | None
    columns: tuple[tuple[str, str, str | None], ...]


_CATALOG = {
    "duckdb": (
        "SELECT table_name, 'table', comment FROM duckdb_tables() WHERE database_name = "
        "current_database() AND schema_name = current_schema() AND NOT internal AND NOT "
        "temporary UNION ALL SELECT view_name, 'view', comment FROM duckdb_views() WHERE "
        "database_name = current_database() AND schema_name = current_schema() AND NOT "
        "internal AND NOT temporary",
        "SELECT table_name, column_name, data_type, comment FROM duckdb_columns() WHERE "
        "database_name = current_database() AND schema_name = current_schema() "
        "ORDER BY table_name, column_index"),
    "postgresql": (
        "SELECT c.relname, CASE WHEN c.relkind = 'v' THEN 'view' ELSE 'table' END, "
        "obj_description(c.oid, 'pg_class') FROM pg_class c WHERE c.relnamespace = "
        "current_schema()::regnamespace AND c.relkind IN ('r', 'p', 'v')",
        "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), "
        "col_description(c.oid, a.attnum) FROM pg_attribute a JOIN pg_class c ON c.oid = "
        "a.attrelid WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN "
        "('r', 'p', 'v') AND a.attnum > 0 AND NOT a.attisdropped ORDER BY c.relname, "
        "a.attnum"),
}


def _catalog(conn: sa.Connection) -> dict[str, _Found]:
    queries = _CATALOG.get(conn.dialect.name)
    if queries is None:
        raise DictionaryError(f"comments are read and written on DuckDB and PostgreSQL, "
                              f"not {conn.dialect.name}")
    relations, columns = (conn.exec_driver_sql(q).fetchall() for q in queries)
    found_columns: dict[str, list[tuple[str, str, str | None]]] = {}
    for relation, column, type_, comment in columns:
        found_columns.setdefault(relation, []).append((column, type_, comment))
    return {name: _Found(kind, comment, tuple(found_columns.get(name, ())))
            for name, kind, comment in relations}


def _literal(text: str | None) -> str:
    # COMMENT takes no bound parameters on either engine; both read '' as one quote and
    # a backslash as itself (PostgreSQL's standard_conforming_strings).
    return "NULL" if text is None else "'" + text.replace("'", "''") + "'"


def apply_comments(conn: sa.Connection, entries: Sequence[Entry] | None = None) -> int:
    """Write the dictionary's descriptions as the comments of the warehouse on `conn`
    (the caller commits): every entry's table or view and its columns; a column of an
    entry that the file does not describe loses its comment. Only comments that differ
    are written; returns how many. Raises DictionaryError, writing nothing, when an entry
    names a table, view or column the warehouse does not have."""
    entries = load_entries() if entries is None else entries
    catalog = _catalog(conn)
    problems = []
    for entry in entries:
        found = catalog.get(entry.name)
        if found is None:
            problems.append(f"{entry.kind} {entry.name} does not exist")
            continue
        if found.kind != entry.kind:
            problems.append(f"{entry.name} is a {found.kind}, listed under {entry.kind}s")
        names = {c for c, _, _ in found.columns}
        problems += [f"column {entry.name}.{c} does not exist"
                     for c in entry.columns if c not in names]
    if problems:
        raise DictionaryError(f"{DICTIONARY_FILE.name} describes what the warehouse does not "
                              "have: " + "; ".join(problems))
    quote = conn.dialect.identifier_preparer.quote
    statements = []
    for entry in entries:
        found = catalog[entry.name]
        if found.comment != (wanted := entry.text.comment()):
            statements.append(f"COMMENT ON {entry.kind.upper()} {quote(entry.name)} IS "
                              f"{_literal(wanted)}")
        for column, _, comment in found.columns:
            text = entry.columns.get(column)
            if comment != (wanted := text.comment() if text else None):
                statements.append(f"COMMENT ON COLUMN {quote(entry.name)}.{quote(column)} "
                                  f"IS {_literal(wanted)}")
    percent = "%%" if conn.dialect.paramstyle in ("format", "pyformat") else "%"
    for statement in statements:  # psycopg reads a lone % as a placeholder
        conn.exec_driver_sql(statement.replace("%", percent))
    return len(statements)


# -- reading it back -------------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    name: str
    type: str  # as PostgreSQL shows it (see display_type)
    en: str
    vi: str


@dataclass(frozen=True)
class Relation:
    """A table or view with its description and its columns in the database's order."""

    name: str
    kind: Kind
    en: str
    vi: str
    columns: tuple[Column, ...]


_SPELLING = {  # PostgreSQL's format_type and DuckDB's names -> how the page writes them
    "character varying": "VARCHAR", "timestamp with time zone": "TIMESTAMPTZ",
    "timestamp without time zone": "TIMESTAMP", "double": "DOUBLE PRECISION",
    "decimal": "NUMERIC"}


def display_type(engine_type: str, declared: sa.types.TypeEngine | None = None) -> str:
    """A column type as the page writes it, PostgreSQL's way (VARCHAR(32), NUMERIC(6,2),
    DOUBLE PRECISION, TIMESTAMPTZ). DuckDB keeps no VARCHAR length and has no TEXT: for a
    table column, `declared` (its type in warehouse/schema.py) gives them back."""
    base, _, rest = engine_type.strip().lower().partition("(")
    shown = _SPELLING.get(base.strip(), base.strip()).upper() + (f"({rest}" if rest else "")
    shown = shown.replace(", ", ",")
    if shown == "VARCHAR" and isinstance(declared, sa.String):
        return "TEXT" if isinstance(declared, sa.Text) or not declared.length else (
            f"VARCHAR({declared.length})")
    return shown


# Alembic's own table, which warehouse/schema.py does not declare.
_ALEMBIC_VERSION = sa.Table("alembic_version", sa.MetaData(),
                            sa.Column("version_num", sa.String(32), primary_key=True))


def _order(names: Iterable[str]) -> dict[str, int]:
    return {name: i for i, name in enumerate(names)}


def read_dictionary(bind: sa.Engine | sa.Connection) -> tuple[Relation, ...]:
    """Every table, then every view, of the warehouse with the descriptions its comments
    hold: in the dictionary file's order, then those the file does not list, by name."""
    from warehouse.schema import metadata

    if isinstance(bind, sa.Engine):
        with bind.connect() as conn:
            return read_dictionary(conn)
    catalog = _catalog(bind)
    order = _order(e.name for e in load_entries())
    duck = bind.dialect.name == "duckdb"
    relations = []
    for name, found in catalog.items():
        declared = {**metadata.tables, _ALEMBIC_VERSION.name: _ALEMBIC_VERSION}.get(name) \
            if duck and found.kind == "table" else None
        columns = []
        for column, type_, comment in found.columns:
            text = parse_comment(comment)
            typed = declared.c[column].type if declared is not None and column in declared.c \
                else None
            columns.append(Column(column, display_type(type_, typed), text.en, text.vi))
        text = parse_comment(found.comment)
        relations.append(Relation(name, found.kind, text.en, text.vi, tuple(columns)))
    return tuple(sorted(relations, key=lambda r: (r.kind != "table", order.get(
        r.name, len(order)), r.name)))


# -- the page --------------------------------------------------------------------------
PARTIALS = Path(__file__).resolve().parents[1] / "docs" / "dictionary"
# The hand-written sections not about one table, before the tables and after the views.
BEFORE = ("introduction.md", "conventions.md", "personal_data.md", "loading.md")
AFTER = ("rules.md", "example_queries.md")
NOTICE = ("<!-- Generated by `reformstats docs build` from the warehouse's comments "
          "(warehouse/dictionary.yaml), docs/dictionary/*.md and config/datasets.yaml: "
          "edit those, not this page. -->")


@dataclass(frozen=True)
class Page:
    """The data dictionary page: markdown sections before the tables (the hand-written
    ones, then the datasets), the tables and views, markdown sections after them."""

    before: tuple[str, ...]
    relations: tuple[Relation, ...]
    after: tuple[str, ...]


def read_partials(folder: Path = PARTIALS) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The hand-written sections (before, after); a file there that the page does not
    include is an error, so that none is silently left out."""
    present = {p.name for p in folder.glob("*.md")}
    if stray := sorted(present - set(BEFORE) - set(AFTER)):
        raise DictionaryError(f"{folder}: {', '.join(stray)} not included in the page "
                              "(warehouse/dictionary.py BEFORE, AFTER)")
    if missing := sorted((set(BEFORE) | set(AFTER)) - present):
        raise DictionaryError(f"{folder}: missing {', '.join(missing)}")

    def read(names: tuple[str, ...]) -> tuple[str, ...]:
        return tuple((folder / n).read_text(encoding="utf-8").strip("\n") for n in names)

    return read(BEFORE), read(AFTER)


def page_of(relations: Sequence[Relation], datasets: str, folder: Path = PARTIALS) -> Page:
    before, after = read_partials(folder)
    return Page((*before, datasets.strip("\n")), tuple(relations), after)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def same_columns(relations: Sequence[Relation]) -> dict[str, str]:
    """{view: the earlier table or view with exactly its columns} (names, types and
    descriptions): the page shows such columns once."""
    first: dict[tuple[Column, ...], str] = {}
    same = {}
    for relation in relations:
        if relation.columns in first:
            same[relation.name] = first[relation.columns]
        else:
            first[relation.columns] = relation.name
    return same


def _section(relation: Relation, same: str | None) -> str:
    lines = [f"## {relation.name}", "", relation.en, "", relation.vi, ""]
    if same:
        lines.append(f"Columns: the same as [`{same}`](#{same}). / Các cột: giống "
                     f"[`{same}`](#{same}).")
    else:
        lines += ["| column | type | meaning (English) | ý nghĩa (Tiếng Việt) |",
                  "|---|---|---|---|"]
        lines += [f"| `{c.name}` | {c.type} | {_cell(c.en)} | {_cell(c.vi)} |"
                  for c in relation.columns]
    return "\n".join(lines)


def _index(relations: Sequence[Relation]) -> str:
    def links(kind: Kind) -> str:
        return ", ".join(f"[`{r.name}`](#{r.name})" for r in relations if r.kind == kind)

    return "\n".join(["## Tables and views / Bảng và view", "",
                      f"- **Tables / Bảng**: {links('table')}.",
                      f"- **Views / View**: {links('view')}."])


def render_markdown(page: Page) -> str:
    """docs/data_dictionary.md: the sections before, an index, the tables, the views (each
    with its description in both languages and a table of its columns), the sections
    after."""
    same = same_columns(page.relations)
    tables = [_section(r, same.get(r.name)) for r in page.relations if r.kind == "table"]
    views = [_section(r, same.get(r.name)) for r in page.relations if r.kind == "view"]
    *hand_written, datasets = page.before
    parts = [NOTICE, *hand_written, _index(page.relations), "---", datasets, *tables, "---",
             *views, *page.after]
    return "\n\n".join(p.strip("\n") for p in parts) + "\n"


def migrated_dictionary(url: str | None = None) -> tuple[Relation, ...]:
    """The dictionary read from the warehouse at `url` (which must be at this code's
    revision; it is not changed), or by default from a DuckDB file migrated for the
    purpose in a temporary folder."""
    import tempfile

    from warehouse.engine import make_engine
    from warehouse.migrate import require_current, upgrade

    if url is None:
        with tempfile.TemporaryDirectory(prefix="reformstats-dictionary-") as folder:
            scratch = f"duckdb:///{Path(folder) / 'warehouse.duckdb'}"
            upgrade(scratch)
            return migrated_dictionary(scratch)
    engine = make_engine(url, create=False, read_only=url.startswith("duckdb"))
    try:
        with engine.connect() as conn:
            require_current(conn, url)
            return read_dictionary(conn)
    finally:
        engine.dispose()
