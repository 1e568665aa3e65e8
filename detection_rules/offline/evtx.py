"""Native Windows ``.evtx`` files as flat events, read with the ``evtx`` package (pyevtx-rs).

Binary XML is no format to parse by hand; ``evtx`` is fast and maintained and gives each
record as JSON nested as the XML was (``Event.System.TimeCreated.#attributes.SystemTime``).
Sigma's Windows rules name fields flatly (``EventID``, ``Channel``, ``Image``), so the record
is flattened the way Chainsaw, Hayabusa and Zircolite flatten it, and the shared test data
was: System fields first (attributes under their own names, ``Provider_Name``), then every
EventData/UserData field by its name, unnamed ``<Data>`` items joined into ``Data``.

``ingest.parsers.evtx_file`` uses ``flatten_record`` too (exported as
``detection_rules.flatten_evtx_record``), so the service stores the fields rules expect.

The records are read in file order (one thread), so correlation windows see them in the
order Windows wrote them. A record the library cannot decode is reported and skipped; a file
that ends inside a chunk is reported, since its last records are lost.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, BinaryIO, Final

import evtx
import orjson

from detection_rules.offline.records import BadRecord, Report

EVTX_MAGIC: Final = b"ElfFile\x00"
FILE_HEADER_BYTES: Final = 4096
CHUNK_BYTES: Final = 65536
# EventData names that would overwrite a System field are kept as ``EventData_<name>``.
_SYSTEM_NAMES: Final = frozenset(
    {"EventID", "Channel", "Provider_Name", "Computer", "SystemTime", "EventRecordID"}
)
# System attributes renamed so they say whose they are (``Provider Name="…"``).
_RENAMED: Final = {("Provider", "Name"): "Provider_Name", ("Provider", "Guid"): "Provider_Guid"}
_LIBRARY_ERRORS: Final = (RuntimeError, OSError, ValueError)


def read_evtx(stream: BinaryIO, name: str, report: Report) -> Iterator[dict[str, Any]]:
    """The flat events of the EVTX file open as ``stream``; unreadable records reported."""
    try:
        records: Iterator[Any] = evtx.PyEvtxParser(stream, number_of_threads=1).records_json()
    except _LIBRARY_ERRORS as error:
        report(BadRecord(name, None, f"cannot be read as EVTX: {evtx_error_reason(error)}"))
        return
    position = 0
    while True:
        try:
            record = next(records)
        except StopIteration:
            break
        except _LIBRARY_ERRORS as error:
            position += 1
            reason = evtx_error_reason(error)
            number = re.search(r"record number (\d+)", reason)
            where = int(number.group(1)) if number else position
            report(BadRecord(name, where, f"unreadable record: {reason}", unit="record"))
            continue
        position += 1
        flat = _flat_record(record)
        if isinstance(flat, str):
            report(BadRecord(name, position, flat, unit="record"))
        else:
            yield flat
    truncated = _truncated_bytes(stream)
    if truncated:
        reason = f"the file ends inside a chunk: its last {truncated} bytes cannot be read"
        report(BadRecord(name, None, reason))


def _flat_record(record: Any) -> dict[str, Any] | str:
    """The flat event of one library record, or why there is none."""
    data = record.get("data") if isinstance(record, dict) else None
    try:
        parsed = orjson.loads(data) if isinstance(data, str) else None
    except orjson.JSONDecodeError:
        parsed = None
    if parsed is None:
        return "the evtx library returned a record that is not JSON"
    flat = flatten_record(parsed)
    return flat if flat is not None else "the record has no Event element"


def evtx_error_reason(error: Exception) -> str:
    """What the evtx library says went wrong, without its boilerplate, on one short line."""
    text = str(error).replace("An error occurred while trying to deserialize evtx stream.: ", "")
    return " ".join(text.split())[:160]


def _truncated_bytes(stream: BinaryIO) -> int:
    """Bytes after the last whole chunk: records there are lost, so say so."""
    try:
        size = stream.seek(0, 2)
    except (OSError, ValueError):
        return 0
    return max(size - FILE_HEADER_BYTES, 0) % CHUNK_BYTES


def flatten_record(record: Any) -> dict[str, Any] | None:
    """An ``evtx`` JSON record as flat fields (System, then EventData/UserData); None if none."""
    event = record.get("Event") if isinstance(record, dict) else None
    if not isinstance(event, dict):
        return None
    flat: dict[str, Any] = {}
    system = event.get("System")
    if isinstance(system, dict):
        _flatten_system(system, flat)
    event_data = event.get("EventData")
    if isinstance(event_data, dict):
        _flatten_data(event_data, flat)
    user_data = event.get("UserData")
    if isinstance(user_data, dict):  # one element (LogFileCleared, …) holding the fields
        for element in user_data.values():
            if isinstance(element, dict):
                _flatten_data(element, flat)
    return flat


def _flatten_system(system: dict[str, Any], flat: dict[str, Any]) -> None:
    for name, value in system.items():
        if not isinstance(value, dict):
            if value is not None:
                flat[name] = value
            continue
        attributes = value.get("#attributes")
        if isinstance(attributes, dict):
            for attribute, attribute_value in attributes.items():
                if attribute_value is not None:
                    flat[_RENAMED.get((name, str(attribute)), str(attribute))] = attribute_value
        if value.get("#text") is not None:  # <EventID Qualifiers="…">7036</EventID>
            flat[name] = value["#text"]


def _flatten_data(data: dict[str, Any], flat: dict[str, Any]) -> None:
    for name, value in data.items():
        if name == "#attributes":
            continue
        if name == "Data" and isinstance(value, dict) and "#text" in value:
            flat["Data"] = _joined(value["#text"])  # unnamed <Data> items
            continue
        if isinstance(value, dict) and "#text" not in value:
            _flatten_data(value, flat)  # nested elements: their fields by their own names
            continue
        text = value["#text"] if isinstance(value, dict) else value
        flat[f"EventData_{name}" if name in _SYSTEM_NAMES else name] = text


def _joined(value: Any) -> Any:
    if isinstance(value, list):
        return "\n".join(str(item) for item in value if item is not None)
    return value
