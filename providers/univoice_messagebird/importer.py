"""MessageBird call-flow JSON -> a neutral ``Flow`` (``univoice convert --from messagebird``).

Reads a call flow (``{title?, record?, steps}``), the REST envelope of a stored one
(``{"data": [flow], ...}``, as ``GET /call-flows/{id}`` answers) or a create-call body's
``callFlow``. Pure: no I/O. Steps map one by one (``import_steps``), keypresses and
conditions back into gathers (``import_menus``); what has no neutral equivalent is kept
as a ``native`` step or reported, each with its JSON pointer.

Not reported, being bookkeeping of a stored flow rather than what a call does: ``id``,
``createdAt``, ``updatedAt``, ``_links``, ``default: false``; and step ids, which only
gotos read (and gotos are read back).

Outside input: at most ``univoice.migrate.MAX_DOCUMENT`` bytes, nested at most
``MAX_NESTING`` deep, at most 1,000 steps, no duplicate keys, NaN or lone surrogates;
anything unreadable is an ``InvalidDocument`` naming where (a JSON pointer, or the line and
column of a syntax error).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterator
from typing import Any

from univoice.errors import FlowIssue
from univoice.flow import Flow
from univoice.flow.fields import MAX_STEPS
from univoice.migrate import Carry, Imported, InvalidDocument, read_source
from univoice_messagebird.import_build import build
from univoice_messagebird.import_read import Report, flag, pointer, read_steps
from univoice_messagebird.import_steps import PROVIDER

MAX_NESTING = 32  # a call flow needs ~6 levels; option values kept native may hold more
_BOOKKEEPING = frozenset({"id", "createdAt", "updatedAt", "_links", "default"})
_FLOW_FIELDS = frozenset({"title", "record", "steps"})


def import_document(source: str | bytes) -> Imported:
    """A call flow as a neutral flow, with a note for every construct that did not carry
    over as it was; ``InvalidDocument`` for one that cannot be read."""
    document = _parse(read_source(source))
    report = Report()
    flow, at = _call_flow(document, report)
    written = _flow_fields(flow, at, report)
    steps = flow.get("steps")
    raws = read_steps(steps, pointer(at, "steps"), report) if isinstance(steps, list) else []
    if report.issues:
        raise InvalidDocument(report.issues)
    written["steps"] = build(raws, report)
    _lift(written)
    notes = sorted(report.notes, key=lambda note: _order(note.at))
    return Imported(Flow.from_dict(written), PROVIDER, tuple(notes))


def _invalid(at: str, message: str) -> InvalidDocument:
    return InvalidDocument([FlowIssue(at, message)])


# JSON ------------------------------------------------------------------------------------


class _Twice(dict[str, Any]):
    """An object that held a key twice (json keeps the last silently)."""

    twice: str = ""


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) == len(pairs):
        return found
    twice, seen = _Twice(found), set()
    for key, _ in pairs:
        if key in seen:
            twice.twice = key
            break
        seen.add(key)
    return twice


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _parse(data: bytes) -> Any:
    try:
        document = json.loads(data, object_pairs_hook=_object, parse_constant=_constant)
    except json.JSONDecodeError as exc:
        raise _invalid(f"line {exc.lineno}, column {exc.colno}", f"not JSON: {exc.msg}"
                       ) from None
    except UnicodeDecodeError:
        raise _invalid("", "not JSON: the text is not UTF-8 (or UTF-16/32)") from None
    except RecursionError:
        raise _invalid("", f"nested deeper than {MAX_NESTING} levels") from None
    except ValueError as exc:  # NaN, Infinity, an integer of thousands of digits
        raise _invalid("", f"not JSON: {exc}") from None
    _check(document)
    return document


def _check(document: Any) -> None:
    """Nesting, duplicate keys, non-finite numbers and lone surrogates, with pointers."""
    stack: list[tuple[Any, tuple[Any, ...], int]] = [(document, (), 0)]
    while stack:
        value, path, depth = stack.pop()
        problem = None
        if depth > MAX_NESTING:
            problem = f"nested deeper than {MAX_NESTING} levels"
        elif isinstance(value, _Twice):
            problem = f"key {value.twice!r} appears twice"
        elif isinstance(value, float) and not math.isfinite(value):
            problem = "a number too large to read"
        elif isinstance(value, str) and not _unicode(value):
            problem = "not valid Unicode (a lone surrogate)"
        if problem is not None:
            raise _invalid(pointer("", *_unwind(path)), problem)
        if isinstance(value, dict):
            for key, item in value.items():
                if not _unicode(key):
                    raise _invalid(pointer("", *_unwind(path)), "a key is not valid Unicode")
                stack.append((item, (path, key), depth + 1))
        elif isinstance(value, list):
            stack.extend((item, (path, i), depth + 1) for i, item in enumerate(value))


def _unwind(path: tuple[Any, ...]) -> list[str | int]:
    parts: list[str | int] = []
    while path:
        path, part = path
        parts.append(part)
    return parts[::-1]


def _unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# The call flow ---------------------------------------------------------------------------


def _call_flow(document: Any, report: Report) -> tuple[dict[str, Any], str]:
    """The call-flow object, and its pointer in the document."""
    if not isinstance(document, dict):
        raise _invalid("", "a call flow is a JSON object with steps")
    if "steps" in document:
        return document, ""
    if "data" in document:
        return _enveloped(document)
    for key in ("callFlow", "callflow"):
        if isinstance(document.get(key), dict):
            for other in sorted(k for k in document if k != key):
                report.note(pointer("", other), other, Carry.DROPPED, "the call's own "
                            "(POST /calls), not its flow's")
            return document[key], pointer("", key)
    raise _invalid("", _not_a_flow(document))


def _enveloped(document: dict[str, Any]) -> tuple[dict[str, Any], str]:
    data, errors = document["data"], document.get("errors")
    if data is None and isinstance(errors, list) and errors:
        first = errors[0]
        said = first.get("description") or first.get("message") if isinstance(
            first, dict) else None
        raise _invalid("/errors", "an error answer from MessageBird, not a call flow"
                       + (f": {str(said)[:200]}" if said else ""))
    if not isinstance(data, list):
        raise _invalid("/data", "expected the list of call flows")
    if not data:
        raise _invalid("/data", "no call flow")
    for index, item in enumerate(data):
        if not isinstance(item, dict) or "steps" not in item:
            raise _invalid(f"/data/{index}", _not_a_flow(item))
    if len(data) > 1:
        raise _invalid("/data", f"{len(data)} call flows: a document converts one (univoice "
                       "convert --stored ID reads one stored flow)")
    return data[0], "/data/0"


def _not_a_flow(value: Any) -> str:
    keys = ", ".join(sorted(value)[:8]) if isinstance(value, dict) else type(value).__name__
    return f"not a call flow: it has no steps (it has: {keys or 'nothing'})"


def _flow_fields(flow: dict[str, Any], at: str, report: Report) -> dict[str, Any]:
    written: dict[str, Any] = {}
    title = flow.get("title")
    if isinstance(title, str) and title:
        written["name"] = title[:200]
        if len(title) > 200:
            report.note(pointer(at, "title"), "title", Carry.CHANGED, "cut to 200 characters")
    elif title is not None and not isinstance(title, str):
        report.issue(pointer(at, "title"), "expected a string")
    for name, into in (("record", "record"), ("default", None)):
        if flow.get(name) is None:
            continue
        try:
            on = flag(flow[name])
        except ValueError as exc:
            report.issue(pointer(at, name), str(exc))
            continue
        if on and into:
            written[into] = True
        elif on:
            report.note(pointer(at, name), "default", Carry.DROPPED, "the stored flow answers "
                        "numbers that have none of their own: a setting at MessageBird, not "
                        "part of a flow")
    steps = flow.get("steps")
    if not isinstance(steps, list):
        report.issue(pointer(at, "steps"), "expected the list of steps")
    elif not steps:
        report.issue(pointer(at, "steps"), "a call flow needs at least one step")
    elif len(steps) > MAX_STEPS:
        report.issue(pointer(at, "steps"), f"more than {MAX_STEPS} steps")
    for unknown in sorted(k for k in flow if k not in _FLOW_FIELDS | _BOOKKEEPING):
        report.note(pointer(at, unknown), f"field {unknown!r}", Carry.DROPPED,
                    "not a field of a call flow; MessageBird does not read it")
    return written


# Flow-wide say options -----------------------------------------------------------------


def _says(steps: list[Any]) -> Iterator[dict[str, Any]]:
    for step in steps:
        if not isinstance(step, dict):
            continue
        kind, body = next(iter(step.items()))
        if kind == "say":
            yield body
        elif kind == "gather":
            for branch in (body.get("prompt", []), *body.get("options", {}).values(),
                           body.get("no_input", []), body.get("invalid", [])):
                yield from _says(branch)


def _lift(flow: dict[str, Any]) -> None:
    """The language most say steps speak (and their gender, when all share one) is said
    once, as the flow's: MessageBird writes it on every step."""
    says = list(_says(flow["steps"]))
    languages = Counter(say["language"] for say in says if "language" in say)
    if languages:
        flow["language"] = languages.most_common(1)[0][0]
        for say in says:
            if say.get("language") == flow["language"]:
                del say["language"]
    genders = {say.get("gender") for say in says}
    if len(genders) == 1 and None not in genders:
        flow["gender"] = genders.pop()
        for say in says:
            del say["gender"]


def _order(at: str) -> list[tuple[int, int | str]]:
    """JSON pointers in document order (``/steps/10`` after ``/steps/9``)."""
    parts = at.split("/")
    return [(0, int(p)) if p.isdigit() else (1, p) for p in parts]
