"""Each row joined to its call's outcome, from the events the webhook app recorded.

The webhook app (``univoice serve``) keeps every provider event it handled in the flow
store; a campaign's rows carry their call ids, so a row's outcome is what its call's
events say: answered or not, how it ended, the keys pressed, machine or human.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from univoice.campaigns.state import RowState
from univoice.store import FlowStore

SCAN_LIMIT = 2_000_000  # events read from the store at most, newest first


@dataclass
class Outcome:
    answered: bool = False
    ended: str | None = None  # the end reason ("hangup", "busy", ...) or "failed"
    duration: float | None = None
    digits: list[str] = field(default_factory=list)
    machine: str | None = None
    events: int = 0


def collect(store: FlowStore, call_ids: Iterable[str], limit: int = SCAN_LIMIT
            ) -> dict[str, Outcome]:
    wanted = set(call_ids)
    out: dict[str, Outcome] = {}
    for stored in reversed(store.events(limit=limit)):  # oldest first
        event = stored.event
        call_id = event.get("call_id")
        if call_id not in wanted:
            continue
        outcome = out.setdefault(call_id, Outcome())
        outcome.events += 1
        kind = event.get("type")
        if kind == "call.answered":
            outcome.answered = True
        elif kind == "call.completed":
            outcome.ended = event.get("end_reason") or "completed"
            outcome.duration = event.get("duration")
            outcome.answered = outcome.answered or bool(outcome.duration)
        elif kind == "call.failed":
            outcome.ended = "failed"
        elif kind == "gather.digits" and event.get("digits"):
            outcome.digits.append(str(event["digits"]))
        elif kind == "call.machine_detected":
            outcome.machine = event.get("result")
    return out


COLUMNS = ("line", "to", "status", "call_id", "provider", "error", "answered", "ended",
           "duration", "digits", "machine")


def joined(rows: list[RowState], outcomes: dict[str, Outcome]) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        outcome = outcomes.get(row.call_id or "", Outcome())
        record = {"line": row.line, "to": row.to, "status": row.status,
                  "call_id": row.call_id, "provider": row.provider, "error": row.error,
                  **{k: v for k, v in asdict(outcome).items() if k != "events"},
                  "variables": row.variables}
        out.append(record)
    return out


def to_csv(records: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    names = sorted({k for r in records for k in r.get("variables", {})})
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*COLUMNS, *names])
    for r in records:
        cells = [(" ".join(r["digits"]) if k == "digits" else r[k]) for k in COLUMNS]
        writer.writerow(["" if c is None else _cell(c) for c in cells]
                        + [_cell(r["variables"].get(n, "")) for n in names])
    return buffer.getvalue()


def _cell(value: Any) -> str:
    text = str(value).lower() if isinstance(value, bool) else str(value)
    # A spreadsheet runs a cell that starts with = + - @ as a formula: quote it as text.
    return f"'{text}" if text[:1] in ("=", "+", "-", "@") and not _number(text) else text


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def to_json(records: list[dict[str, Any]]) -> str:
    return json.dumps(records, indent=2, ensure_ascii=False)
