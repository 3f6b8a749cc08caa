"""Personal-data minimisation for dossier records (dữ liệu cá nhân).

Applied in the client, on each page as it arrives, before anything is written anywhere:
citizen names, ID numbers, phones and addresses are dropped (never copied into the output),
and the source's dossier ID is replaced by a keyed hash (keyed BLAKE2b, 128 bits), so the same
dossier keeps the same key across fetches without the ID being recoverable without the key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pyarrow as pa

from transforms.dossiers import DOSSIER_SCHEMA


class MissingHashKeyError(RuntimeError):
    """No key for hashing dossier IDs: refuse to run rather than store raw IDs."""


# Our column <- (path in an export record as JSON, header in the export as CSV). Only these
# are read; the applicant's fields are in neither, so they are never copied.
EXPORT_FIELDS: dict[str, tuple[tuple[str, ...], str]] = {
    "source_unit_id": (("agency", "id"), "agencyId"),
    "procedure_code": (("procedure", "code"), "procedureCode"),
    "intake_channel": (("applyMethod", "id"), "applyMethod"),
    "received_at": (("acceptedDate",), "acceptedDate"),
    "promised_date": (("appointmentDate",), "appointmentDate"),
    "finished_at": (("completedDate",), "completedDate"),
    "returned_at": (("refusedDate",), "refusedDate"),
    "withdrawn_at": (("withdrawnDate",), "withdrawnDate"),
    "paused_at": (("pausedDate",), "pausedDate"),
    "result_returned_at": (("resultReturnedDate",), "resultReturnedDate"),
    "result_channel": (("resultReceivingMethod", "id"), "resultReceivingMethod"),
    "additional_requests": (("additionalRequestCount",), "additionalRequestCount"),
    "supplement_days": (("additionalDays",), "additionalDays"),
    "inputs_digitised": (("digitizedInput",), "digitizedInput"),
    "result_digitised": (("digitizedResult",), "digitizedResult"),
    "e_result": (("electronicResult",), "electronicResult"),
    "fee_bearing": (("feeRequired",), "feeRequired"),
    "paid_online": (("paidOnline",), "paidOnline"),
    "synced_to_portal": (("syncedToNationalPortal",), "syncedToNationalPortal"),
}


def _require_key(key: bytes) -> None:
    if not key:
        raise MissingHashKeyError(
            "no dossier hash key: set the Connection 'dossier_hash_key' (password) or "
            "REFORMSTATS_DOSSIER_HASH_KEY")


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
    _require_key(key)
    columns: dict[str, list[Any]] = {f.name: [] for f in DOSSIER_SCHEMA}
    for r in records:
        source_id = r.get("code") or r.get("id")
        agency_id = _get(r, "agency", "id")
        columns["dossier_key"].append(dossier_key(str(source_id), key) if source_id else None)
        columns["unit_code"].append(unit_codes.get(agency_id)
                                    if isinstance(agency_id, str) else None)
        for name, (path, _) in EXPORT_FIELDS.items():
            columns[name].append(_get(r, *path))
    errors: list[list[str]] = [[] for _ in records]
    arrays = [_column(columns[f.name], f, errors) for f in DOSSIER_SCHEMA
              if f.name != "parse_errors"]
    arrays.append(pa.array(["; ".join(e) or None for e in errors], pa.string()))
    return pa.Table.from_arrays(arrays, schema=DOSSIER_SCHEMA)


def _convert(values: list[Any], field: pa.Field) -> pa.Array:
    if pa.types.is_timestamp(field.type) or pa.types.is_date(field.type):
        return pa.array(values, pa.string()).cast(field.type)
    return pa.array(values, field.type)


def _convert_text(values: list[Any], field: pa.Field) -> pa.Array:
    """CSV values are all text: numbers and booleans are read from it too."""
    return pa.array(values, pa.string()).cast(field.type)


def described(value: Any) -> str:
    """A value that could not be read, as the parse errors name it: its kind and size,
    never its text. A field of the wrong type may hold anything (a note naming the
    applicant, a phone number where a day count belongs), and the parse errors travel on
    into the quarantine and the warehouse."""
    if isinstance(value, str):
        return (f"a text of {len(value)} character{'s' * (len(value) != 1)}"
                + (", all digits" if value.isdigit() else ""))
    if isinstance(value, Mapping):
        return f"an object of {len(value)} field{'s' * (len(value) != 1)}"
    if isinstance(value, list | tuple):
        return f"a list of {len(value)} item{'s' * (len(value) != 1)}"
    return f"a {type(value).__name__}"


def _column(values: list[Any], field: pa.Field, errors: list[list[str]],
            convert: Callable[[list[Any], pa.Field], pa.Array] = _convert) -> pa.Array:
    """Convert a whole column at once; on a bad value, convert one by one and note which
    rows could not be read (they become NULL and are quarantined by validation)."""
    try:
        return convert(values, field)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
        pass
    cleaned = []
    for row, value in enumerate(values):
        try:
            convert([value], field)
            cleaned.append(value)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
            cleaned.append(None)
            errors[row].append(f"{field.name}: cannot read {described(value)}")
    return convert(cleaned, field)


def minimise_export_csv(body: bytes, key: bytes, unit_codes: Mapping[str, str]) -> pa.Table:
    """A CSV export page -> DOSSIER_SCHEMA, vectorised (Arrow's C++ CSV reader).

    Only `code` and the headers in EXPORT_FIELDS are parsed (`include_columns`), so names,
    ID numbers, phones and addresses never become values beyond the response bytes.
    """
    import io

    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    _require_key(key)
    headers = ["code"] + [header for _, header in EXPORT_FIELDS.values()]
    table = pacsv.read_csv(io.BytesIO(body), convert_options=pacsv.ConvertOptions(
        include_columns=headers, column_types=dict.fromkeys(headers, pa.string()),
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
    for name, (_, header) in EXPORT_FIELDS.items():
        field = DOSSIER_SCHEMA.field(name)
        column = table[header].combine_chunks()
        try:
            arrays[name] = column.cast(field.type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            # one bad value: the others of the column are still read as text
            arrays[name] = _column(column.to_pylist(), field, errors, _convert_text)
    arrays["parse_errors"] = pa.array(["; ".join(e) or None for e in errors], pa.string())
    return pa.Table.from_arrays([arrays[f.name] for f in DOSSIER_SCHEMA], schema=DOSSIER_SCHEMA)
