"""`reformstats docs`: the data dictionary, generated from the warehouse's own comments."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

docs = typer.Typer(help="The data dictionary (docs/data_dictionary.md, and HTML), generated "
                        "from the warehouse's comments.", invoke_without_command=True)


def page_file() -> Path:
    from registry.settings import PROJECT_ROOT

    return PROJECT_ROOT / "docs" / "data_dictionary.md"


def build_page(url: str | None = None) -> tuple[str, str]:
    """(markdown, html) of the data dictionary read from the warehouse at `url` (which must
    be at this code's revision), by default from a DuckDB migrated for the purpose."""
    from registry.docs import datasets_section
    from registry.settings import load_registry
    from reports.dictionary import render_dictionary_html
    from warehouse.dictionary import migrated_dictionary, page_of, render_markdown

    page = page_of(migrated_dictionary(url), datasets_section(load_registry()))
    return render_markdown(page), render_dictionary_html(page)


@docs.callback()
def _default(ctx: typer.Context) -> None:
    """Without a command: `build` with its defaults (what `reformstats docs` always did)."""
    if ctx.invoked_subcommand is None:
        build()


@docs.command("build")
def build(
    url: Annotated[str | None, typer.Option(
        "--url", help="read the comments of this warehouse (SQLAlchemy URL or DuckDB file, "
                      "at this code's revision; it is not changed); default: a DuckDB "
                      "migrated in a temporary folder")] = None,
    out: Annotated[Path | None, typer.Option(
        help="also write data_dictionary.html (for offline reading) into this folder")] = None,
    page: Annotated[Path | None, typer.Option(
        help="the markdown page to write (default docs/data_dictionary.md)")] = None,
) -> None:
    """Write docs/data_dictionary.md from the warehouse's table, view and column comments
    (warehouse/dictionary.yaml, written by `reformstats db upgrade`), docs/dictionary/ and
    the dataset registry."""
    from warehouse.dictionary import DictionaryError
    from warehouse.migrate import SchemaNotCurrentError

    if url and "://" not in url:
        url = f"duckdb:///{Path(url).resolve()}"
    try:
        markdown, html = build_page(url)
    except (DictionaryError, SchemaNotCurrentError, FileNotFoundError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    target = page or page_file()
    changed = not target.exists() or target.read_text(encoding="utf-8") != markdown
    if changed:
        target.write_text(markdown, encoding="utf-8")
    typer.echo(f"{target}: {'written' if changed else 'already up to date'}")
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "data_dictionary.html").write_text(html, encoding="utf-8")
        typer.echo(f"{out / 'data_dictionary.html'}: written")
