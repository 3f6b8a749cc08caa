"""The raw (landing) zone: what each source sent, byte for byte, never overwritten, whether
it came as HTTP answers or as a file dropped by an office.

Layout (one folder per fetch, so a re-fetch adds a version beside the old one):

    {root}/{source}/{dataset}/month=YYYY-MM/fetch={fetch_id}/
        responses/000001.body        the bytes as received
        responses/000001.meta.json   method, url, params, status, fetched_at, sha256, ...
        files/<name>                 or a dropped file, byte for byte
        files/<name>.meta.json       its original name, size, sha256, landed_at
        records.parquet              the parsed records (one JSON text per record + lineage)
        parts/part-00001.parquet     or, for dossier exports, minimised records in batches
        _manifest.json               written last: status, counts, response hashes

Dossier exports carry citizens' personal data, so their bodies are never written: the
metadata (with the body's sha256 and size) is, and the minimised records are.

A fetch without `_manifest.json` (or with status other than "complete") was interrupted
and is never picked up by the next step.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from domain.periods import Month, Period
from sources.http import FetchedResponse

MANIFEST = "_manifest.json"
RECORDS = "records.parquet"
# The headers kept beside a personal-data answer whose body is withheld.
TRANSFER_HEADERS = {"content-type", "content-length", "content-encoding", "date", "etag",
                    "last-modified", "retry-after", "x-total-count"}


def new_fetch_id(now: dt.datetime | None = None) -> str:
    """Sortable and unique: UTC time to the microsecond plus a random suffix."""
    now = now or dt.datetime.now(dt.UTC)
    return f"{now:%Y%m%dT%H%M%S%fZ}-{secrets.token_hex(3)}"


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


@dataclass(frozen=True)
class FetchRef:
    """What XCom carries between tasks: a pointer into the raw zone, never the data."""

    source: str
    dataset: str
    month: str
    fetch_id: str
    path: str

    def to_dict(self) -> dict[str, str]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FetchRef:
        """The reference within a step's result dict (other keys, e.g. staging, ignored)."""
        return cls(**{name: data[name] for name in cls.__dataclass_fields__})


class FetchWriter:
    """Writes one fetch: call `record_response` for every answer, then `finish`."""

    def __init__(self, folder: Path, ref: FetchRef) -> None:
        self.folder = folder
        self.ref = ref
        self.responses: list[dict[str, Any]] = []
        (folder / "responses").mkdir(parents=True, exist_ok=False)

    def _record(self, response: FetchedResponse, body: bytes | None,
                headers: Mapping[str, str] | None = None, **extra: Any) -> None:
        """Write one answer's metadata (and its bytes unless `body` is None)."""
        number = len(self.responses) + 1
        stem = self.folder / "responses" / f"{number:06d}"
        if body is not None:
            _atomic_write(stem.with_suffix(".body"), body)
        meta = {
            "number": number, "method": response.method, "url": response.url,
            "params": response.params, "status": response.status,
            "fetched_at": response.fetched_at, "sha256": response.sha256,
            "bytes": len(response.body), "content_type": response.content_type,
            "elapsed_ms": response.elapsed_ms,
            "headers": dict(response.headers if headers is None else headers), **extra,
        }
        _atomic_write(stem.with_suffix(".meta.json"),
                      json.dumps(meta, ensure_ascii=False, indent=1).encode("utf-8"))
        self.responses.append(meta)

    def record_response(self, response: FetchedResponse) -> None:
        """Keep an answer byte for byte, with its metadata: status and headers too, so a
        refusal (4xx) or an error page (5xx) is kept like data."""
        self._record(response, response.body)

    def record_response_metadata(
            self, response: FetchedResponse,
            because: str = "personal data; minimised records are in parts/") -> None:
        """Keep an answer's metadata, size and sha256 but not its bytes: for answers that
        carry personal data (dossier exports), which must never reach disk. Of its headers
        only those that describe the transfer are kept: a system may echo anything in its
        own (an error detail naming the applicant)."""
        headers = {k: v for k, v in response.headers.items()
                   if k.lower() in TRANSFER_HEADERS}
        self._record(response, None, headers=headers, body_kept=False,
                     body_withheld_because=because,
                     headers_withheld=sorted(set(response.headers) - set(headers)))

    def record_file(self, path: Path) -> dict[str, Any]:
        """Keep a dropped file byte for byte with its hash (the manifest lists it like an
        answer). The original stays where it is: the caller archives it once loaded."""
        data = Path(path).read_bytes()
        folder = self.folder / "files"
        folder.mkdir(exist_ok=True)
        kept = folder / Path(path).name
        _atomic_write(kept, data)
        meta = {"number": len(self.responses) + 1, "file": kept.name,
                "original_path": str(path), "sha256": hashlib.sha256(data).hexdigest(),
                "bytes": len(data),
                "landed_at": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")}
        _atomic_write(kept.with_name(kept.name + ".meta.json"),
                      json.dumps(meta, ensure_ascii=False, indent=1).encode("utf-8"))
        self.responses.append(meta)
        return meta

    def write_part(self, table: pa.Table) -> Path:
        """Append one Parquet part (e.g. a batch of minimised dossiers) to the fetch."""
        parts = self.folder / "parts"
        parts.mkdir(exist_ok=True)
        path = parts / f"part-{len(list(parts.glob('part-*.parquet'))) + 1:05d}.parquet"
        pq.write_table(table, path)
        return path

    def write_records(self, records: Iterable[tuple[str | None, dict[str, Any]]]) -> int:
        """Store parsed records as (request_key, record) pairs; returns how many."""
        keys, texts = [], []
        for request_key, record in records:
            keys.append(request_key)
            texts.append(json.dumps(record, ensure_ascii=False, sort_keys=True))
        table = pa.table({
            "record_index": pa.array(range(len(texts)), pa.int64()),
            "request_key": pa.array(keys, pa.string()),
            "record_json": pa.array(texts, pa.string()),
        })
        pq.write_table(table, self.folder / RECORDS)
        return len(texts)

    def finish(self, status: str, **summary: Any) -> dict[str, Any]:
        manifest = {
            **self.ref.to_dict(), "status": status,
            "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
            "responses": len(self.responses),
            "bytes": sum(r["bytes"] for r in self.responses),
            "sha256": [r["sha256"] for r in self.responses],
            **summary,
        }
        _atomic_write(self.folder / MANIFEST,
                      json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8"))
        return manifest


class RawZone:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def month_folder(self, source: str, dataset: str, month: Month | Period) -> Path:
        """A partition's folder: `month=2026-03`, or `period=2026-Q1` for a dataset
        partitioned by period (whose FetchRef.month then holds the period's label)."""
        if isinstance(month, Period):
            return self.root / source / dataset / f"period={month}"
        return self.root / source / dataset / f"month={month}"

    def new_fetch(self, source: str, dataset: str, month: Month | Period) -> FetchWriter:
        fetch_id = new_fetch_id()
        folder = self.month_folder(source, dataset, month) / f"fetch={fetch_id}"
        ref = FetchRef(source, dataset, str(month), fetch_id, str(folder))
        return FetchWriter(folder, ref)

    def land_file(self, source: str, dataset: str, month: Month, path: Path) -> FetchRef:
        """A dropped file as a complete fetch of its own (an office's monthly report)."""
        writer = self.new_fetch(source, dataset, month)
        meta = writer.record_file(path)
        writer.finish("complete", files=[meta["file"]])
        return writer.ref

    def fetches(self, source: str, dataset: str, month: Month) -> list[Path]:
        """Every fetch folder of a partition, oldest first."""
        folder = self.month_folder(source, dataset, month)
        return sorted(folder.glob("fetch=*")) if folder.exists() else []

    def latest_complete(self, source: str, dataset: str, month: Month) -> FetchRef | None:
        for folder in reversed(self.fetches(source, dataset, month)):
            manifest = read_manifest(folder)
            if manifest and manifest.get("status") == "complete":
                return FetchRef(source, dataset, str(month), manifest["fetch_id"], str(folder))
        return None


def read_manifest(folder: Path | str) -> dict[str, Any] | None:
    path = Path(folder) / MANIFEST
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def read_records(ref: FetchRef) -> list[tuple[str | None, dict[str, Any]]]:
    """The parsed records of a fetch as (request_key, record), in their original order."""
    table = pq.read_table(Path(ref.path) / RECORDS, partitioning=None)
    keys = table.column("request_key").to_pylist()
    texts = table.column("record_json").to_pylist()
    return [(key, json.loads(text)) for key, text in zip(keys, texts, strict=True)]
