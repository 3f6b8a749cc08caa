"""Client for a province's e-office system (hệ thống quản lý văn bản và điều hành), speaking
the API of docs/eoffice_api.md: OAuth2 client credentials, then
`GET {base}/api/v1/statistics/documents?month=YYYY-MM&page=&page_size=`, paged until the
answer's `total` (a total that changes between pages fails the fetch as incomplete).

Records come back as the system sent them (numbers may be strings, names in any Unicode
form): coercing and checking them is the validation's business.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from domain.periods import Month
from sources.errors import SourceResponseError
from sources.http import HttpOptions, HttpSource, without_credentials
from sources.onestop import ClientCredentialsHttp
from sources.paging import Page, collect_pages

DOCUMENTS_PATH = "/api/v1/statistics/documents"
MAX_PAGE_SIZE = 500


@dataclass(frozen=True)
class EOfficeConfig(ClientCredentialsHttp, HttpOptions):
    province_code: str
    base_url: str
    client_id: str
    client_secret: str = field(repr=False)  # never in a repr, log or error
    rate_per_second: float = field(default=5.0, kw_only=True)
    page_size: int = field(default=200, kw_only=True)

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_url", without_credentials(self.base_url))

    @property
    def source_name(self) -> str:
        return f"eoffice_{self.province_code}"


class EOfficeClient:
    """Monthly document statistics per unit of one province's e-office system."""

    def __init__(self, config: EOfficeConfig, http: HttpSource) -> None:
        self.config, self.http = config, http
        self.page_size = min(config.page_size, MAX_PAGE_SIZE)

    def documents(self, month: Month) -> list[dict[str, Any]]:
        """Every unit's record of the month (one per unit code; a repeated page adds
        nothing)."""
        what = f"{self.config.source_name} documents {month}"

        def fetch(page: int) -> Page:
            query = {"month": str(month), "page": page, "page_size": self.page_size}
            payload, _ = self.http.request_json("GET", DOCUMENTS_PATH, params=query,
                                                query=query)
            if not isinstance(payload, dict) or not isinstance(payload.get("items"), list):
                raise SourceResponseError(f"{what}: expected an object with items[], got "
                                          f"{type(payload).__name__}")
            if payload.get("month") != str(month):
                raise SourceResponseError(f"{what}: the answer is for {payload.get('month')!r}")
            try:
                total = int(payload["total"])
            except (KeyError, TypeError, ValueError) as exc:
                raise SourceResponseError(f"{what}: no usable total ({exc})") from exc
            return Page(payload["items"], total)

        records, _ = collect_pages(
            fetch, key=lambda r: (r.get("unit") or {}).get("code"),
            page_size=self.page_size, what=what)
        return records
