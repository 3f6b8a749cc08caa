"""The data dictionary lives in the database's comments (warehouse/dictionary.yaml, written
by every upgrade): every table, view and column of a migrated warehouse is described in
English and Vietnamese, on DuckDB and PostgreSQL; a file naming what the warehouse does not
have fails the upgrade; the committed docs/data_dictionary.md and its HTML are what the
generator makes from a freshly migrated warehouse. Expected values come from the
catalogs, queried here, not through the module under test."""

from __future__ import annotations

import difflib
import html
import re
import shutil
import unicodedata
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from typer.testing import CliRunner

from registry.docs import datasets_section
from registry.settings import PROJECT_ROOT, load_registry
from warehouse import dictionary
from warehouse.engine import make_engine
from warehouse.migrate import current, upgrade

PAGE = PROJECT_ROOT / "docs" / "data_dictionary.md"
REBUILD = "run `reformstats docs build` and commit docs/data_dictionary.md"

DUCKDB_CATALOG = (  # (kind, relation, column or None, comment)
    "SELECT 'table', table_name, NULL, comment FROM duckdb_tables() "
    "WHERE schema_name = current_schema() AND NOT internal "
    "UNION ALL SELECT 'view', view_name, NULL, comment FROM duckdb_views() "
    "WHERE schema_name = current_schema() AND NOT internal "
    "UNION ALL SELECT 'column', c.table_name, c.column_name, c.comment FROM duckdb_columns() c "
    "WHERE c.schema_name = current_schema() AND c.table_name IN ("
    "  SELECT table_name FROM duckdb_tables() WHERE NOT internal "
    "  UNION SELECT view_name FROM duckdb_views() WHERE NOT internal)")
POSTGRES_CATALOG = (
    "SELECT CASE c.relkind WHEN 'v' THEN 'view' ELSE 'table' END, c.relname, NULL, "
    "obj_description(c.oid, 'pg_class') FROM pg_class c JOIN pg_namespace n ON n.oid = "
    "c.relnamespace WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'v') "
    "UNION ALL SELECT 'column', c.relname, a.attname, col_description(c.oid, a.attnum) "
    "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON "
    "n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'v') "
    "AND a.attnum > 0 AND NOT a.attisdropped")


def catalog(url: str, sql: str) -> list[tuple[str, str, str | None, str | None]]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.exec_driver_sql(sql)]
    finally:
        engine.dispose()


def two_languages(comment: str | None) -> tuple[str, str]:
    """English before the line `vi: `, Vietnamese after it."""
    parts = re.split(r"(?m)^vi: ", comment or "", maxsplit=1)
    return parts[0].strip(), parts[1].strip() if len(parts) > 1 else ""


def undescribed(rows: list[tuple[str, str, str | None, str | None]]) -> list[str]:
    problems = []
    for kind, relation, column, comment in rows:
        what = f"{relation}.{column}" if column else f"{kind} {relation}"
        english, vietnamese = two_languages(comment)
        if not english:
            problems.append(f"{what}: no English")
        if not vietnamese:
            problems.append(f"{what}: no Vietnamese")
        elif (unicodedata.normalize("NFC", vietnamese) != vietnamese
              or not any(ord(ch) > 127 and ch.isalpha() for ch in vietnamese)
              or vietnamese == english):
            problems.append(f"{what}: the Vietnamese is not Vietnamese (NFC, with diacritics)")
    return problems


@pytest.fixture
def duck_url(tmp_path: Path, migrated_duckdb: Path) -> str:
    path = tmp_path / "warehouse.duckdb"
    shutil.copyfile(migrated_duckdb, path)
    return f"duckdb:///{path}"


def test_every_table_view_and_column_of_the_migrated_duckdb_is_described(duck_url) -> None:
    rows = catalog(duck_url, DUCKDB_CATALOG)
    assert {r[1] for r in rows if r[0] == "view"} >= {"v_portal_score", "v_scheme_ranking"}
    assert len([r for r in rows if r[0] == "column"]) > 500
    assert undescribed(rows) == []


@pytest.mark.postgres
def test_every_table_view_and_column_on_postgres_is_described(pg_url) -> None:
    rows = catalog(pg_url, POSTGRES_CATALOG)
    assert {r[1] for r in rows if r[0] != "column"} == {
        r[1] for r in catalog(pg_url, "SELECT 'x', table_name, NULL, NULL FROM "
                                      "information_schema.tables WHERE table_schema = "
                                      "current_schema()")}
    assert undescribed(rows) == []


@pytest.mark.postgres
def test_comments_hold_both_languages_as_written_and_are_read_back_alike(pg_url,
                                                                       duck_url) -> None:
    """Quotes, percent signs and newlines survive PostgreSQL as DuckDB; both engines give
    the same descriptions, and (tables) the same types."""
    def comments(url: str, sql: str) -> dict[tuple[str, str | None], str | None]:
        return {(r[1], r[2]): r[3] for r in catalog(url, sql)}

    on_postgres = comments(pg_url, POSTGRES_CATALOG)
    assert on_postgres == comments(duck_url, DUCKDB_CATALOG)
    assert "%" in on_postgres[("fact_portal_monthly_counters", None)]
    assert "'" in on_postgres[("fact_portal_monthly_counters", None)]
    pg, duck = (dictionary.migrated_dictionary(u) for u in (pg_url, duck_url))
    assert [(r.name, r.en, r.vi) for r in pg] == [(r.name, r.en, r.vi) for r in duck]
    assert [r.columns for r in pg if r.kind == "table"] == [
        r.columns for r in duck if r.kind == "table"]


def test_an_upgrade_puts_back_the_comments_a_recreated_view_lost(duck_url) -> None:
    engine = make_engine(duck_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP VIEW v_points_lost")
        conn.exec_driver_sql("CREATE VIEW v_points_lost AS SELECT * FROM v_criterion_score "
                             "WHERE points_lost > 0.005")
    engine.dispose()
    assert undescribed([r for r in catalog(duck_url, DUCKDB_CATALOG)
                        if r[1] == "v_points_lost"]) != []
    before = catalog(duck_url, DUCKDB_CATALOG)
    upgrade(duck_url)
    after = catalog(duck_url, DUCKDB_CATALOG)
    assert undescribed(after) == []
    changed = set(after) - set(before)
    assert changed and {r[1] for r in changed} == {"v_points_lost"}
    upgrade(duck_url)
    assert catalog(duck_url, DUCKDB_CATALOG) == after  # nothing left to write


def test_a_dictionary_entry_the_warehouse_lacks_fails_the_upgrade_naming_it(
        tmp_path, monkeypatch) -> None:
    data = yaml.safe_load(dictionary.DICTIONARY_FILE.read_text(encoding="utf-8"))
    data["tables"]["dim_unit"]["columns"]["no_such_column"] = {"en": "x", "vi": "ý"}
    data["tables"]["no_such_table"] = {"en": "x", "vi": "ý",
                                       "columns": {"a": {"en": "x", "vi": "ý"}}}
    wrong = tmp_path / "dictionary.yaml"
    wrong.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    monkeypatch.setattr(dictionary, "DICTIONARY_FILE", wrong)
    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    with pytest.raises(dictionary.DictionaryError) as error:
        upgrade(url)
    assert "column dim_unit.no_such_column does not exist" in str(error.value)
    assert "table no_such_table does not exist" in str(error.value)
    engine = make_engine(url)
    with engine.connect() as conn:
        assert current(conn) is None  # the whole upgrade rolled back
    engine.dispose()


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["tables"]["dim_unit"].pop("vi"), "table dim_unit: no vi description"),
    (lambda d: d["tables"]["dim_unit"]["columns"]["level"].update(vi="  "),
     "column dim_unit.level: no vi description"),
    (lambda d: d["tables"]["dim_unit"].update(en="x\nvi: y"), "a line starts with 'vi: '"),
    (lambda d: d["tables"]["dim_unit"].update(vi=unicodedata.normalize("NFD", "Đơn vị")),
     "table dim_unit: the vi text is not Unicode NFC"),
    (lambda d: d["views"]["v_points_lost"].update(columns_from="v_nowhere"),
     "columns_from 'v_nowhere' is not an entry above"),
])
def test_a_malformed_dictionary_is_refused_naming_the_entry(change, message) -> None:
    data = yaml.safe_load(dictionary.DICTIONARY_FILE.read_text(encoding="utf-8"))
    change(data)
    with pytest.raises(dictionary.DictionaryError, match=re.escape(message)):
        dictionary.parse_entries(data)


def test_a_key_given_twice_is_refused(tmp_path) -> None:
    twice = tmp_path / "twice.yaml"
    twice.write_text("tables:\n  t:\n    en: a\n    vi: ă\n    en: b\n", encoding="utf-8")
    with pytest.raises(dictionary.DictionaryError, match="'en' given twice"):
        dictionary.load_entries(twice)


def test_a_comment_reads_back_as_its_two_languages() -> None:
    for text in (dictionary.Text("one line", "một dòng"),
                 dictionary.Text("a\n\n- list\n", "b\n\n| bảng |")):
        comment = text.comment()
        assert two_languages(comment) == (text.en.strip(), text.vi.strip())
        assert dictionary.parse_comment(comment) == dictionary.Text(text.en.strip(),
                                                                      text.vi.strip())
    assert dictionary.parse_comment("English only") == dictionary.Text("English only", "")


def _generated(url: str) -> dictionary.Page:
    return dictionary.page_of(dictionary.migrated_dictionary(url),
                              datasets_section(load_registry()))


def test_the_committed_page_is_what_the_generator_makes(duck_url) -> None:
    made = dictionary.render_markdown(_generated(duck_url))
    committed = PAGE.read_text(encoding="utf-8")
    diff = "".join(list(difflib.unified_diff(
        committed.splitlines(keepends=True), made.splitlines(keepends=True),
        "docs/data_dictionary.md (committed)", "generated", n=1))[:40])
    assert committed == made, f"the data dictionary is out of date: {REBUILD}\n{diff}"


def test_the_page_has_every_table_view_and_column_of_the_catalog(duck_url) -> None:
    page = PAGE.read_text(encoding="utf-8")
    headings = {line[3:].strip() for line in page.splitlines() if line.startswith("## ")}
    rows = catalog(duck_url, DUCKDB_CATALOG)
    missing = [f"{kind} {name}" for kind, name, _, _ in rows
               if kind != "column" and name not in headings]
    missing += [f"{name}.{column}" for kind, name, column, _ in rows
                if kind == "column" and f"`{column}`" not in page]
    assert missing == [], REBUILD


def plain(text: str, *, markup: bool = False) -> str:
    """Markdown (or, with `markup`, HTML) as a reader sees the words: no tags, no
    markdown signs, single spaces."""
    if markup:
        text = html.unescape(re.sub(r"<[^>]+>", " ", text))
    return " ".join(re.sub(r"[`*|]", " ", text).split())


def test_the_html_has_every_table_and_view_in_both_languages(duck_url) -> None:
    from reports.dictionary import render_dictionary_html

    page = render_dictionary_html(_generated(duck_url))
    assert re.search(r'<html lang="vi">', page) and "Mục lục / Contents" in page
    assert not re.search(r'(src|href)="https?:|<link ', page)  # inline CSS, nothing fetched
    sections = dict(re.findall(r'<section id="(\w+)" class="relation">(.*?)</section>', page,
                               re.DOTALL))
    rows = catalog(duck_url, DUCKDB_CATALOG)
    assert set(sections) == {name for kind, name, _, _ in rows if kind != "column"}
    for kind, name, column, comment in rows:
        section = sections[name]
        if kind != "column":
            for lang, text in zip(("en", "vi"), two_languages(comment), strict=True):
                block = section.split(f'<div lang="{lang}">', 1)[1].split("<h3>", 2)[1]
                assert plain(text)[:60] in plain(block, markup=True), (name, lang)
            continue
        same_as = re.search(r'Các cột: giống <a href="#(\w+)"', section)
        shown = plain(sections[same_as[1]] if same_as else section, markup=True)
        for text in two_languages(comment):
            assert plain(text) in shown, (name, column, text)


def test_docs_build_writes_the_page_and_the_html(tmp_path) -> None:
    from commands.cli import app

    page = tmp_path / "data_dictionary.md"
    result = CliRunner().invoke(app, ["docs", "build", "--page", str(page), "--out",
                                      str(tmp_path / "html")])
    assert result.exit_code == 0, result.output
    assert page.read_text(encoding="utf-8") == PAGE.read_text(encoding="utf-8"), REBUILD
    html = (tmp_path / "html" / "data_dictionary.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and 'id="dim_unit"' in html


def test_docs_build_reads_a_given_warehouse_only_at_this_codes_revision(tmp_path) -> None:
    from commands.cli import app

    behind = tmp_path / "behind.duckdb"
    upgrade(f"duckdb:///{behind}", "0004")
    result = CliRunner().invoke(app, ["docs", "build", "--url", str(behind), "--page",
                                      str(tmp_path / "page.md")])
    assert result.exit_code == 1 and "reformstats db upgrade" in result.output
    assert not (tmp_path / "page.md").exists()
    engine = sa.create_engine(f"duckdb:///{behind}")
    with engine.connect() as conn:
        assert current(conn) == "0004"  # reading never migrates
    engine.dispose()
