"""Reading call-flow steps for the importer: each step's fields checked for type (a wrong
type is an ``InvalidDocument`` issue at its JSON pointer), the options of the documented
actions normalised (``"transcribe": "false"`` is a bool, ``"10"`` a number), and every
field no action reads reported as a note.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from univoice.errors import FlowIssue
from univoice.migrate import Carry, ImportNote

STEP_FIELDS = frozenset({"id", "action", "options", "conditions", "onKeypressGoto",
                         "onKeypressVar", "endKey", "maxNumKeys"})
LISTEN_FIELDS = ("onKeypressVar", "endKey", "maxNumKeys")
_NUMERIC = re.compile(r"-?[0-9]{1,15}(\.[0-9]{1,15})?")


def pointer(base: str, *parts: str | int) -> str:
    """A JSON pointer (RFC 6901): ``~`` and ``/`` in a key escaped."""
    for part in parts:
        base += "/" + str(part).replace("~", "~0").replace("/", "~1")
    return base


@dataclass
class Report:
    """What the importer found: problems that stop it (``issues``) and notes on what did
    not carry over as it was."""

    issues: list[FlowIssue] = field(default_factory=list)
    notes: list[ImportNote] = field(default_factory=list)

    def issue(self, at: str, message: str) -> None:
        self.issues.append(FlowIssue(at, message))

    def note(self, at: str, construct: str, carry: Carry, detail: str,
             step: str | None = None) -> None:
        self.notes.append(ImportNote(at, construct, carry, detail, step))


# Option values ----------------------------------------------------------------------------

Reader = Callable[[Any], Any]  # a value as written -> normalised, or raises ValueError


def text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("expected a string")
    return value


def number(value: Any) -> float:
    """A JSON number, or one written as a string (``"10"``); finite."""
    if isinstance(value, str) and _NUMERIC.fullmatch(value.strip()):
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("expected a number")
    if isinstance(value, int) and abs(value) > 10**12:
        raise ValueError("expected a number of a sensible size")
    if not math.isfinite(value):
        raise ValueError("expected a finite number")
    return float(value)


def whole(value: Any) -> int:
    found = number(value)
    if found != int(found):
        raise ValueError("expected a whole number")
    return int(found)


def flag(value: Any) -> bool:
    """A bool, or one written as a string (the Java SDK's fixture: ``"false"``)."""
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if not isinstance(value, bool):
        raise ValueError("expected true or false")
    return value


def text_or_flag(value: Any) -> str | bool:
    return value if isinstance(value, bool) else text(value)


# The documented actions: their options (reader) and the ones required. PROVIDERS.md 3.2;
# sendKeys' options are the Java SDK's.
ACTIONS: dict[str, tuple[dict[str, Reader], frozenset[str]]] = {
    "say": ({"payload": text, "language": text, "voice": text, "repeat": whole,
             "ifMachine": text, "machineTimeout": number}, frozenset({"payload"})),
    "play": ({"media": text}, frozenset({"media"})),
    "pause": ({"length": number}, frozenset({"length"})),
    "record": ({"maxLength": number, "timeout": number, "finishOnKey": text,
                "transcribe": flag, "transcribeLanguage": text, "onFinish": text},
               frozenset()),
    "transfer": ({"destination": text, "record": text_or_flag, "mask": flag},
                 frozenset({"destination"})),
    "fetchCallFlow": ({"url": text}, frozenset({"url"})),
    "hangup": ({}, frozenset()),
    "sendKeys": ({"keys": text, "duration": number, "interval": number},
                 frozenset({"keys"})),
}


# Steps ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    variable: str
    operator: str
    value: str


@dataclass(frozen=True)
class Listen:
    """A step's keypress fields: keys heard while it runs jump to the step ``goto``."""

    goto: str
    variable: str | None
    max_keys: int | None  # None: not a count MessageBird takes (the gather stays native)
    end_key: str | None


@dataclass(frozen=True)
class Raw:
    """One call-flow step as read: ``source`` is the object as written."""

    index: int
    at: str  # its JSON pointer
    source: dict[str, Any]
    id: str | None
    action: str
    options: dict[str, Any]  # a documented action's options, normalised (null: absent)
    foreign: tuple[str, ...]  # option names the action does not take
    conditions: tuple[Condition, ...]
    listen: Listen | None


def read_steps(steps: list[Any], at: str, report: Report) -> list[Raw]:
    """Every step, type-checked; issues go to ``report`` (the caller raises)."""
    found: list[Raw] = []
    for index, step in enumerate(steps):
        here = pointer(at, index)
        if not isinstance(step, dict):
            report.issue(here, "a step is a JSON object")
            continue
        raw = _step(step, index, here, report)
        if raw is not None:
            found.append(raw)
    return found


def _step(step: dict[str, Any], index: int, at: str, report: Report) -> Raw | None:
    action = step.get("action")
    if not isinstance(action, str) or not action:
        report.issue(pointer(at, "action"), "required: the step's action, a string")
        return None
    ident = step.get("id")
    if ident is not None and not isinstance(ident, str):
        report.issue(pointer(at, "id"), "expected a string")
    options = step.get("options")
    if options is None:
        options = {}
    if not isinstance(options, dict):
        report.issue(pointer(at, "options"), "expected a JSON object")
        options = {}
    unknown = sorted(k for k in step if k not in STEP_FIELDS)
    if unknown:
        report.note(at, "step field " + ", ".join(repr(k) for k in unknown), Carry.DROPPED,
                    "not a field of a call-flow step; MessageBird does not read it")
    read, foreign = _options(action, options, pointer(at, "options"), report)
    return Raw(index, at, step, ident if isinstance(ident, str) else None, action, read,
               foreign, _conditions(step.get("conditions"), pointer(at, "conditions"), report),
               _listen(step, at, report))


def _options(action: str, options: dict[str, Any], at: str, report: Report
             ) -> tuple[dict[str, Any], tuple[str, ...]]:
    spec = ACTIONS.get(action)
    if spec is None:  # kept as written: a native step
        return {}, ()
    readers, required = spec
    read: dict[str, Any] = {}
    for name, value in options.items():
        reader = readers.get(name)
        if reader is None or value is None:
            continue
        try:
            read[name] = reader(value)
        except ValueError as exc:
            report.issue(pointer(at, name), str(exc))
    for name in sorted(required - read.keys()):
        if name not in options or options[name] is None:
            report.issue(pointer(at, name), f"required: {action} needs its {name}")
    return read, tuple(k for k in options if k not in readers)


def _conditions(value: Any, at: str, report: Report) -> tuple[Condition, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        report.issue(at, "expected a list of conditions")
        return ()
    found: list[Condition] = []
    for index, item in enumerate(value):
        here = pointer(at, index)
        if not isinstance(item, dict):
            report.issue(here, "a condition is a JSON object")
            continue
        variable, operator = item.get("variable"), item.get("operator", "==")
        expected = item.get("value", "")
        if not isinstance(variable, str):
            report.issue(pointer(here, "variable"), "required: a variable name (string)")
        if not isinstance(operator, str):
            report.issue(pointer(here, "operator"), "expected a string")
        if isinstance(expected, int) and not isinstance(expected, bool):
            expected = str(expected)
        if not isinstance(expected, str):
            report.issue(pointer(here, "value"), "expected a string")
        extra = sorted(k for k in item if k not in ("variable", "operator", "value"))
        if extra:
            report.note(here, "condition field " + ", ".join(repr(k) for k in extra),
                        Carry.DROPPED, "a condition has variable, operator and value only")
        if isinstance(variable, str) and isinstance(operator, str) and isinstance(expected,
                                                                                  str):
            found.append(Condition(variable, operator, expected))
    return tuple(found)


def _listen(step: dict[str, Any], at: str, report: Report) -> Listen | None:
    goto, variable = step.get("onKeypressGoto"), step.get("onKeypressVar")
    end_key, max_keys = step.get("endKey"), step.get("maxNumKeys")
    for name, value in (("onKeypressGoto", goto), ("onKeypressVar", variable),
                        ("endKey", end_key)):
        if value is not None and not isinstance(value, str):
            report.issue(pointer(at, name), "expected a string")
    count: int | None = 1
    if max_keys is not None:
        try:
            count = whole(max_keys)
        except ValueError as exc:
            report.issue(pointer(at, "maxNumKeys"), str(exc))
        count = count if count is not None and 1 <= count <= 64 else None
    if not isinstance(goto, str) or not goto:
        present = [name for name in LISTEN_FIELDS if step.get(name) is not None]
        if present:
            report.note(pointer(at, present[0]), ", ".join(present), Carry.DROPPED,
                        "without onKeypressGoto the step hears no keys")
        return None
    return Listen(goto, variable if isinstance(variable, str) else None, count,
                  end_key if isinstance(end_key, str) and end_key else None)
