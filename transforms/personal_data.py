"""Personal-data minimisation for dossier records (dữ liệu cá nhân).

Applied in the client, on each page as it arrives, before anything is written anywhere:
citizen names, ID numbers, phones and addresses are dropped (never copied into the output),
and the source's dossier ID is replaced by a keyed hash (keyed BLAKE2b, 128 bits), so the same
dossier keeps the same key across fetches without the ID being recoverable without the key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from transforms.dossiers import DOSSIER_SCHEMA

# Fields of the source record that may identify a citizen: never read into our output.
PERSONAL_FIELDS = ("applicant",)


class MissingHashKeyError(RuntimeError):
    """No key for hashing dossier IDs: refuse to run rather than store raw IDs."""


def dossier_key(source_id: str, key: bytes) -> str:
    """Keyed BLAKE2b (RFC 7693, a keyed hash designed as a MAC) of the source's dossier ID,
    128 bits as hex. About 3x cheaper than HMAC-SHA256 here, which matters at 10M rows."""
    if len(key) > 64:  # BLAKE2b keys are at most 64 bytes
        key = hashlib.sha256(key).digest()
    return hashlib.blake2b(source_id.encode("utf-8"), key=key, digest_size=16).hexdigest()


def _get(record: Mapping[str, Any], *path: str) -> Any:
    value: Any = record
    for step in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(step)
    return value


def minimise_export_page(records: Sequence[Mapping[str, Any]], key: bytes,
                         unit_codes: Mapping[str, str]) -> pa.Table:
    """iGate-style export records -> a DOSSIER_SCHEMA table with no personal data.

    `unit_codes` maps the source's agency IDs to our unit codes (the crosswalk); an unknown
    agency gives a NULL unit_code, which validation quarantines. Only the fields named here
    are read: anything else in the record (the applicant block included) is left behind.
    """
    if not key:
        raise MissingHashKeyError(
            "no dossier hash key: set the Connection 'dossier_hash_key' (password) or "
            "REFORMSTATS_DOSSIER_HASH_KEY")
    columns: dict[str, list[Any]] = {f.name: [] for f in DOSSIER_SCHEMA}
    for r in records:
        source_id = r.get("code") or r.get("id")
        agency_id = _get(r, "agency", "id")
        columns["dossier_key"].append(dossier_key(str(source_id), key) if source_id else None)
        columns["source_unit_id"].append(agency_id)
        columns["unit_code"].append(unit_codes.get(agency_id) if agency_id else None)
        columns["procedure_code"].append(_get(r, "procedure", "code"))
        columns["intake_channel"].append(_get(r, "applyMethod", "id"))
        columns["received_at"].append(r.get("acceptedDate"))
        columns["promised_date"].append(r.get("appointmentDate"))
        columns["finished_at"].append(r.get("completedDate"))
        columns["returned_at"].append(r.get("refusedDate"))
        columns["withdrawn_at"].append(r.get("withdrawnDate"))
        columns["paused_at"].append(r.get("pausedDate"))
        columns["result_returned_at"].append(r.get("resultReturnedDate"))
        columns["result_channel"].append(_get(r, "resultReceivingMethod", "id"))
        columns["additional_requests"].append(r.get("additionalRequestCount"))
        columns["supplement_days"].append(r.get("additionalDays"))
        columns["inputs_digitised"].append(r.get("digitizedInput"))
        columns["result_digitised"].append(r.get("digitizedResult"))
        columns["e_result"].append(r.get("electronicResult"))
        columns["fee_bearing"].append(r.get("feeRequired"))
        columns["paid_online"].append(r.get("paidOnline"))
        columns["synced_to_portal"].append(r.get("syncedToNationalPortal"))
    errors: list[list[str]] = [[] for _ in records]
    arrays = [_column(columns[f.name], f, errors) for f in DOSSIER_SCHEMA
              if f.name != "parse_errors"]
    arrays.append(pa.array(["; ".join(e) or None for e in errors], pa.string()))
    return pa.Table.from_arrays(arrays, schema=DOSSIER_SCHEMA)


def _convert(values: list[Any], field: pa.Field) -> pa.Array:
    if pa.types.is_timestamp(field.type) or pa.types.is_date(field.type):
        return pa.array(values, pa.string()).cast(field.type)
    return pa.array(values, field.type)


def _column(values: list[Any], field: pa.Field, errors: list[list[str]]) -> pa.Array:
    """Convert a whole column at once; on a bad value, convert one by one and note which
    rows could not be read (they become NULL and are quarantined by validation)."""
    try:
        return _convert(values, field)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
        pass
    cleaned = []
    for row, value in enumerate(values):
        try:
            _convert([value], field)
            cleaned.append(value)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
            cleaned.append(None)
            errors[row].append(f"{field.name}: cannot read {str(value)[:40]!r}")
    return _convert(cleaned, field)


# The CSV export's columns we read; the applicant's columns are not even parsed.
CSV_FIELDS = {
    "code": None, "agencyId": "source_unit_id", "procedureCode": "procedure_code",
    "applyMethod": "intake_channel", "acceptedDate": "received_at",
    "appointmentDate": "promised_date", "completedDate": "finished_at",
    "refusedDate": "returned_at", "withdrawnDate": "withdrawn_at", "pausedDate": "paused_at",
    "resultReturnedDate": "result_returned_at", "resultReceivingMethod": "result_channel",
    "additionalRequestCount": "additional_requests", "additionalDays": "supplement_days",
    "digitizedInput": "inputs_digitised", "digitizedResult": "result_digitised",
    "electronicResult": "e_result", "feeRequired": "fee_bearing", "paidOnline": "paid_online",
    "syncedToNationalPortal": "synced_to_portal",
}


def minimise_export_csv(body: bytes, key: bytes, unit_codes: Mapping[str, str]) -> pa.Table:
    """A CSV export page -> DOSSIER_SCHEMA, vectorised (Arrow's C++ CSV reader).

    Only the columns in CSV_FIELDS are parsed (`include_columns`), so names, ID numbers,
    phones and addresses never become values in this process beyond the response bytes.
    """
    import io

    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    if not key:
        raise MissingHashKeyError(
            "no dossier hash key: set the Connection 'dossier_hash_key' (password) or "
            "REFORMSTATS_DOSSIER_HASH_KEY")
    table = pacsv.read_csv(io.BytesIO(body), convert_options=pacsv.ConvertOptions(
        include_columns=list(CSV_FIELDS), column_types=dict.fromkeys(CSV_FIELDS, pa.string()),
        strings_can_be_null=True))
    n = table.num_rows
    errors: list[list[str]] = [[] for _ in range(n)]
    codes = table["code"].to_pylist()
    keyed = pa.array([dossier_key(c, key) if c else None for c in codes], pa.string())
    agency = table["agencyId"].combine_chunks()
    mapping_keys = pa.array(list(unit_codes), pa.string())
    mapping_values = pa.array(list(unit_codes.values()), pa.string())
    unit = pc.take(mapping_values, pc.index_in(agency, value_set=mapping_keys))
    arrays = {"dossier_key": keyed, "unit_code": unit}
    for source_name, name in CSV_FIELDS.items():
        if name is None:
            continue
        field = DOSSIER_SCHEMA.field(name)
        column = table[source_name].combine_chunks()
        try:
            arrays[name] = column.cast(field.type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            arrays[name] = _column(column.to_pylist(), field, errors)
    arrays["parse_errors"] = pa.array(["; ".join(e) or None for e in errors], pa.string())
    return pa.Table.from_arrays([arrays[f.name] for f in DOSSIER_SCHEMA], schema=DOSSIER_SCHEMA)
