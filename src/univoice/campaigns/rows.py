"""A campaign's list: CSV rows checked, every one, before any call is placed.

The header names the columns. ``to`` (or ``number`` / ``phone``) is the number to call
(E.164); ``from`` (optional) the caller id; every other column is a variable the flow reads
as ``{column}`` (declare them in the flow's ``inputs``). A bad row (a number that is not
E.164, a number already listed above, a value the flow cannot take) is reported with its
line and never dialled; a list whose header cannot serve the flow is refused whole.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from univoice.errors import FlowIssue, InvalidInput, one_line
from univoice.flow import Flow
from univoice.flow.rules import PLACEHOLDER

MAX_ROWS = 1_000_000
MAX_BYTES = 256 * 1024 * 1024
MAX_VALUE = 1_000  # characters of one variable's value
TO_COLUMNS = ("to", "number", "phone")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class InvalidList(InvalidInput):
    """The list cannot be used at all (no number column, unreadable, too large, ...)."""

    what = "call list"


@dataclass(frozen=True, slots=True)
class Row:
    line: int  # the line of the file the row starts on
    to: str
    from_: str | None = None
    variables: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BadRow:
    line: int
    problems: list[str]

    def __str__(self) -> str:
        return f"line {self.line}: {'; '.join(self.problems)}"


@dataclass
class CallList:
    rows: list[Row]
    bad: list[BadRow]
    source: str


def _number_problem(value: str) -> str | None:
    from pydantic import TypeAdapter, ValidationError

    from univoice.flow.fields import PhoneNumber

    try:
        TypeAdapter(PhoneNumber).validate_python(value)
    except ValidationError as exc:
        return str(exc.errors(include_url=False, include_input=False)[0]["msg"])
    return None


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    line = 1
    try:
        for record in reader:
            yield line, record
            line = reader.line_num + 1
    except csv.Error as exc:
        raise InvalidList([FlowIssue(f"line {reader.line_num}", f"not CSV: {exc}")]) from None


def read(path: str | Path, flow: Flow) -> CallList:
    """Read and check every row of the list at ``path`` against ``flow``."""
    file = Path(path)
    try:
        if file.stat().st_size > MAX_BYTES:
            raise InvalidList([FlowIssue(str(file), f"larger than {MAX_BYTES} bytes")])
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidList([FlowIssue(str(file), f"cannot read it: {exc}")]) from None
    return parse(text, flow, source=str(file))


def parse(text: str, flow: Flow, *, source: str = "<list>") -> CallList:
    records = _records(text)
    try:
        _, header = next(records)
    except StopIteration:
        raise InvalidList([FlowIssue(source, "the list is empty (a header is needed)")],
                          source=source) from None
    columns = [h.strip() for h in header]
    to_col = next((c for c in TO_COLUMNS if c in columns), None)
    problems = []
    if to_col is None:
        problems.append(FlowIssue("header", f"no number column: name one {', '.join(TO_COLUMNS)}"))
    variables = [c for c in columns if c not in (to_col, "from")]
    for name in variables:
        if not _NAME.match(name):
            problems.append(FlowIssue("header", f"column {one_line(name)!r} is not a variable "
                                      "name (letters, digits, _)"))
    if len(set(columns)) != len(columns):
        problems.append(FlowIssue("header", "a column is named twice"))
    missing = [v for v in flow.inputs if v not in variables]
    if missing:
        problems.append(FlowIssue("header", f"the flow reads {', '.join(missing)} "
                                  "(its inputs) but the list has no such column"))
    if problems:
        raise InvalidList(problems, source=source)
    assert to_col is not None
    rows: list[Row] = []
    bad: list[BadRow] = []
    seen: dict[str, int] = {}
    checked: dict[tuple[tuple[str, str], ...], str | None] = {}
    for line, record in records:
        if not any(cell.strip() for cell in record):
            continue  # a blank line
        if len(rows) + len(bad) >= MAX_ROWS:
            raise InvalidList([FlowIssue(f"line {line}", f"more than {MAX_ROWS} rows")],
                              source=source)
        row, trouble = _row(line, record, columns, to_col, variables, flow, seen, checked)
        if trouble:
            bad.append(BadRow(line, trouble))
        else:
            assert row is not None
            seen[row.to] = line
            rows.append(row)
    return CallList(rows, bad, source)


def _row(line: int, record: list[str], columns: list[str], to_col: str,
         variables: list[str], flow: Flow, seen: dict[str, int],
         checked: dict[tuple[tuple[str, str], ...], str | None]
         ) -> tuple[Row | None, list[str]]:
    problems: list[str] = []
    if len(record) != len(columns):
        return None, [f"{len(record)} fields, the header has {len(columns)}"]
    cells = {c: v.strip() for c, v in zip(columns, record, strict=True)}
    to = cells[to_col]
    wrong = _number_problem(to)
    if wrong:
        problems.append(f"{to_col} {one_line(to)!r}: {wrong}")
    elif to in seen:
        problems.append(f"{to} is already listed on line {seen[to]} (never called twice)")
    from_ = cells.get("from") or None
    if from_ is not None and (wrong := _number_problem(from_)):
        problems.append(f"from {one_line(from_)!r}: {wrong}")
    values = {v: cells[v] for v in variables}
    for name, value in values.items():
        if len(value) > MAX_VALUE:
            problems.append(f"{name}: longer than {MAX_VALUE} characters")
    if not problems and flow.inputs:
        key = tuple(sorted((k, values[k]) for k in flow.inputs))
        if key not in checked:
            checked[key] = _personal_problem(flow, dict(key))
        if checked[key]:
            problems.append(str(checked[key]))
    if problems:
        return None, problems
    return Row(line, to, from_, values), []


def _personal_problem(flow: Flow, values: dict[str, str]) -> str | None:
    try:
        personalize(flow, values)
    except InvalidInput as exc:
        return "; ".join(str(i) for i in exc.issues)
    return None


def _fill(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, str):
        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in values:  # the value is literal text: its braces doubled
                return values[name].replace("{", "{{").replace("}", "}}")
            return match.group(0)

        return PLACEHOLDER.sub(one, value)
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    return value


def personalize(flow: Flow, values: dict[str, str]) -> Flow:
    """``flow`` with its inputs replaced by this row's values (a flow of its own: each
    provider then runs it as it runs any flow)."""
    if not flow.inputs:
        return flow
    data = flow.to_dict()
    data.pop("inputs", None)
    used = {k: v for k, v in values.items() if k in flow.inputs}
    return Flow.from_dict(_fill(data, used), source="the row's values")
