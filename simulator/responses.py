"""A non-JSON answer (e.g. a CSV export page) with its content type and headers."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RawBody:
    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)
