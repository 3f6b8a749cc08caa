"""A province's e-office system (hệ thống quản lý văn bản và điều hành), serving the API of
docs/eoffice_api.md: monthly document statistics per unit, paged, behind OAuth2 client
credentials.

Counts are a pure function of (seed, unit, month): documents received and issued, issued
ones digitally signed (a share growing over the years), exchanged through the national hub,
work files and those handled online, documents handled on time or late. As real systems
answer: a share of the numbers as strings (`""` for 0), some names in NFD, some
departments' agency codes in the long fixed-width form (`000.00.05.H01` for `H01.05`), the
`missing_field` and `repeat_page` faults.
"""

from __future__ import annotations

import hashlib
import threading
import unicodedata
from collections.abc import Callable
from typing import Any

from domain.periods import Month
from domain.units import Unit
from simulator.errors import ApiError
from simulator.faults import FaultedService, FaultPlan
from simulator.oauth import ClientCredentials

COUNTS = ("incoming", "outgoing", "outgoing_signed", "hub_sent", "hub_received",
          "work_files", "work_files_online", "processed_on_time", "processed_late")
MAX_PAGE = 500
DEFAULT_CLIENT = ("reformstats-eoffice", "local-eoffice-secret")


def _random(seed: int, *parts: object) -> float:
    digest = hashlib.sha256(":".join(map(str, (seed, "eoffice", *parts))).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class EOfficeWorld:
    """Document counts per unit and month; `units_of(province, month)` says which units a
    province's system serves (the simulator gives it the one-stop systems' units)."""

    def __init__(self, units_of: Callable[[str, Month], list[Unit]], seed: int = 766) -> None:
        self.units_of = units_of
        self.seed = seed

    def counts(self, unit: Unit, month: Month) -> dict[str, int]:
        r = lambda *k: _random(self.seed, unit.unit_code, str(month), *k)  # noqa: E731
        size = {"province": 900, "department": 500, "commune": 160}.get(unit.level, 200)
        incoming = int(size * (0.6 + 0.8 * _random(self.seed, unit.unit_code, "size"))
                       * (0.9 + 0.2 * r("season")))
        outgoing = int(incoming * (0.35 + 0.2 * r("out")))
        years = month.index() - Month(2019, 1).index()
        signed_share = min(0.99, 0.45 + 0.007 * years + 0.05 * r("signed"))
        work_files = int(outgoing * (0.4 + 0.3 * r("files")))
        online_share = min(1.0, 0.3 + 0.008 * years + 0.1 * r("online"))
        processed = int(incoming * (0.85 + 0.1 * r("done")))
        late = int(processed * 0.06 * r("late"))
        return {"incoming": incoming, "outgoing": outgoing,
                "outgoing_signed": int(outgoing * signed_share),
                "hub_sent": int(outgoing * (0.5 + 0.3 * r("hub"))),
                "hub_received": int(incoming * (0.4 + 0.3 * r("hubin"))),
                "work_files": work_files,
                "work_files_online": int(work_files * online_share),
                "processed_on_time": processed - late, "processed_late": late}


class EOfficeApi(FaultedService, ClientCredentials):
    def __init__(self, world: EOfficeWorld, faults: Callable[[], FaultPlan],
                 provinces: set[str], client: tuple[str, str] = DEFAULT_CLIENT,
                 token_ttl: float = 300.0) -> None:
        super().__init__(faults)
        self.world, self.provinces = world, provinces
        self.client, self.token_ttl = client, token_ttl
        self.tokens: dict[str, float] = {}
        self.tokens_issued = 0
        self._lock = threading.Lock()

    def handle(self, method: str, path: str, query: dict[str, str], headers: dict[str, str],
               raw: bytes) -> Any:
        parts = path.split("/", 3)  # ['', 'eoffice', '<province>', 'rest']
        if len(parts) < 4 or parts[2] not in self.provinces:
            raise ApiError(404, f"no e-office system at {path}")
        province, route = parts[2], parts[3]
        if method == "POST" and route == "oauth2/token":
            return self._token(raw)
        self._authorise(headers)
        if method == "GET" and route == "api/v1/statistics/documents":
            return self.documents(province, query)
        raise ApiError(404, f"no route {method} {route}")

    def documents(self, province: str, query: dict[str, str]) -> dict[str, Any]:
        try:
            month = Month.parse(query["month"])
            page = int(query.get("page", 1))
            size = int(query.get("page_size", 200))
        except (KeyError, ValueError) as exc:
            raise ApiError(400, f"month (YYYY-MM), page and page_size: {exc}") from exc
        if page < 1 or not 1 <= size <= MAX_PAGE:
            raise ApiError(400, f"page >= 1 and 1 <= page_size <= {MAX_PAGE}")
        units = sorted(self.world.units_of(province, month), key=lambda u: u.unit_code)
        if query.get("unit_code"):
            units = [u for u in units if u.unit_code == query["unit_code"]]
        if page > 1 and self.faults.take("repeat_page"):
            page -= 1
        items = [self._item(unit, month) for unit in units[(page - 1) * size: page * size]]
        if items and self.faults.take("missing_field"):
            items[-1].pop("hub_received")
        return {"api_version": 1, "month": str(month), "revision": 1, "page": page,
                "page_size": size, "total": len(units), "items": items}

    def _item(self, unit: Unit, month: Month) -> dict[str, Any]:
        seed = self.world.seed
        name = unit.name_vi
        if _random(seed, unit.unit_code, str(month), "nfd") < 0.2:
            name = unicodedata.normalize("NFD", name)
        code = unit.unit_code
        if unit.level == "department" and "." in code \
                and _random(seed, code, str(month), "long-form") < 0.5:
            root, *levels = code.split(".")  # H01.05 -> 000.00.05.H01
            code = ".".join([*(f"{int(p):0{w}d}" for p, w in zip(
                reversed([*levels, *["0"] * (3 - len(levels))]), (3, 2, 2), strict=True)),
                root])
        item: dict[str, Any] = {"unit": {"id": hashlib.sha256(
            f"{seed}:eoffice-id:{unit.unit_code}".encode()).hexdigest()[:12],
            "code": code, "name": name}}
        for field, value in self.world.counts(unit, month).items():
            as_text = _random(seed, unit.unit_code, str(month), field, "str") < 0.2
            item[field] = ("" if value == 0 else str(value)) if as_text else value
        return item
