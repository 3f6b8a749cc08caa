"""Paging until complete, for sources that repeat or drop records between pages."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from sources.errors import IncompleteFetchError


@dataclass(frozen=True)
class Page:
    records: list[dict[str, Any]]
    total: int | None  # what the source says it has in all, when it says


def collect_pages(
    fetch_page: Callable[[int], Page],
    *,
    key: Callable[[dict[str, Any]], Hashable | None],
    page_size: int,
    what: str,
    max_pages: int = 10_000,
    max_refetch: int = 3,
) -> tuple[list[dict[str, Any]], int | None]:
    """Fetch pages 1, 2, … until the source is exhausted; return (records, source total).

    - A record already seen (same key) is dropped, so a repeated page adds nothing.
    - A page made only of records already seen is asked for again (up to `max_refetch`
      times): the page we should have had was lost.
    - Paging stops at a short page, or once the source's total is reached; when the source
      gave a total, the number of distinct records must equal it, else IncompleteFetchError.
    - The total must not change between pages (a list that grows or shrinks while it is
      read is not one list), and the first total bounds the pages asked for, so a source
      whose total keeps growing cannot hold the task for hours.
    Records whose key is None cannot be de-duplicated and are all kept.
    """
    seen: dict[Hashable, dict[str, Any]] = {}
    keyless: list[dict[str, Any]] = []
    total: int | None = None
    page_number, refetches = 1, 0
    while True:
        if page_number > max_pages:
            raise IncompleteFetchError(f"{what}: more than {max_pages} pages; giving up")
        page = fetch_page(page_number)
        if page.total is not None:
            if total is not None and page.total != total:
                raise IncompleteFetchError(
                    f"{what}: the source's total changed from {total} to {page.total} at "
                    f"page {page_number}: the list changed while it was read")
            if total is None:
                max_pages = min(max_pages, -(-page.total // max(page_size, 1)) + 1)
            total = page.total
        fresh = 0
        duplicates = 0
        for record in page.records:
            record_key = key(record)
            if record_key is None:
                keyless.append(record)
                fresh += 1
            elif record_key in seen:
                duplicates += 1
            else:
                seen[record_key] = record
                fresh += 1
        if page.records and fresh == 0:
            refetches += 1
            if refetches > max_refetch:
                raise IncompleteFetchError(
                    f"{what}: page {page_number} repeated earlier records {refetches} times")
            continue
        refetches = 0
        collected = len(seen) + len(keyless)
        if total is not None and collected >= total:
            break
        if len(page.records) < page_size:
            break
        page_number += 1
    records = list(seen.values()) + keyless
    if total is not None and len(records) != total:
        raise IncompleteFetchError(
            f"{what}: collected {len(records)} distinct records but the source reports "
            f"{total}")
    return records, total
