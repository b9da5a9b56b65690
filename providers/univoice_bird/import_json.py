"""Outside JSON, read defensively for the importer: a size limit, a depth limit, no key
written twice, no value JSON cannot carry faithfully (NaN, 1e999, a 5,000-digit integer, a
lone surrogate). Every problem is an ``InvalidDocument`` issue at a JSON pointer; a syntax
error also gives its line and column."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from univoice.errors import FlowIssue
from univoice.flow.fields import shown
from univoice.migrate import InvalidDocument, read_source

MAX_DEPTH = 32  # a Bird call flow nests 6 deep (call object > callFlow > commands > ...)
MAX_ISSUES = 20  # an error lists at most this many problems
_BIG_INT = 19  # digits: beyond, an integer is no count or duration Bird takes


def pointer(*parts: str | int) -> str:
    """An RFC 6901 JSON pointer (``/callFlow/0/options``); no parts: the whole document."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def load(source: str | bytes) -> Any:
    """The JSON value of ``source``, or ``InvalidDocument`` naming where it went wrong."""
    data = read_source(source)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _invalid([FlowIssue("", f"not UTF-8 text (byte {exc.start})")]) from None
    twice: list[bool] = []

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out = dict(pairs)
        if len(out) != len(pairs):
            twice.append(True)
        return out

    try:
        value = json.loads(text, object_pairs_hook=unique, parse_int=_integer,
                           parse_constant=_Odd)
    except json.JSONDecodeError as exc:
        at = _scan(text, exc.pos).at
        raise _invalid([FlowIssue(at, f"invalid JSON at line {exc.lineno}, column "
                                      f"{exc.colno}: {exc.msg}")]) from None
    except RecursionError:  # deeper than the decoder goes; the scan finds where
        raise _invalid(_scan(text).issues or [FlowIssue("", "nested too deeply")]) from None
    if twice:
        raise _invalid(_scan(text).issues)
    issues = _odd_values(value)
    if issues:
        raise _invalid(issues)
    return value


def _invalid(issues: list[FlowIssue]) -> InvalidDocument:
    if len(issues) > MAX_ISSUES:
        more = len(issues) - MAX_ISSUES
        issues = [*issues[:MAX_ISSUES], FlowIssue("", f"... and {more} more problems")]
    return InvalidDocument(issues)


@dataclass(frozen=True)
class _Odd:
    """A number JSON holds but no Bird option takes: NaN, Infinity, a huge integer."""

    text: str


def _integer(text: str) -> int | _Odd:
    return int(text) if len(text.lstrip("-")) <= _BIG_INT else _Odd(text)


def _odd_values(value: Any) -> list[FlowIssue]:
    """Values nested too deep, non-finite or huge numbers, text that is not Unicode."""
    issues: list[FlowIssue] = []
    # (value, depth, parent entry, key): pointers are only built for a problem.
    stack: list[tuple[Any, int, Any, str | int | None]] = [(value, 0, None, None)]
    while stack and len(issues) <= MAX_ISSUES:
        entry = stack.pop()
        item, depth, _, _ = entry
        problem = None
        if isinstance(item, (dict, list)) and depth >= MAX_DEPTH:
            problem = f"nested more than {MAX_DEPTH} deep"
        elif isinstance(item, dict):
            for key, child in item.items():
                if not _unicode(key):
                    problem = f"the key {shown(key)!r} is not Unicode text (a lone surrogate)"
                stack.append((child, depth + 1, entry, key))
        elif isinstance(item, list):
            stack.extend((child, depth + 1, entry, i) for i, child in enumerate(item))
        elif isinstance(item, _Odd):
            problem = f"{item.text[:30]} is not a number univoice reads"
        elif isinstance(item, float) and not math.isfinite(item):
            problem = "not a finite number"
        elif isinstance(item, str) and not _unicode(item):
            problem = "not Unicode text (a lone surrogate)"
        if problem:
            issues.append(FlowIssue(_pointer_of(entry), problem))
    return sorted(issues, key=lambda issue: issue.path)


def _unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _pointer_of(entry: tuple[Any, int, Any, str | int | None]) -> str:
    parts: list[str | int] = []
    while entry[2] is not None:
        parts.append(entry[3])  # type: ignore[arg-type]  # set whenever a parent is
        entry = entry[2]
    return pointer(*reversed(parts))


# Locating a problem in the text ---------------------------------------------------------

_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[][{},:]', re.S)


@dataclass
class _Frame:
    object: bool
    key: str | None = None
    index: int = 0
    wants_key: bool = True
    seen: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class _Scanned:
    at: str  # the pointer where the scan stopped
    issues: list[FlowIssue]  # keys written twice, nesting too deep


def _scan(text: str, stop: int | None = None) -> _Scanned:
    """Walk the text's structure (not its grammar) up to ``stop``: the pointer there, and
    the keys written twice and the first place nested too deep on the way."""
    stack: list[_Frame] = []
    issues: list[FlowIssue] = []
    for match in _TOKEN.finditer(text, 0, len(text) if stop is None else stop):
        token = match.group()
        if token in ("{", "["):
            if len(stack) >= MAX_DEPTH:
                issues.append(FlowIssue(_here(stack), f"nested more than {MAX_DEPTH} deep"))
                break
            # S105: a JSON token, not a password
            stack.append(_Frame(token == "{", wants_key=token == "{"))  # noqa: S105
        elif token in ("}", "]"):
            if stack:
                stack.pop()
        elif not stack:
            continue
        # S105: a JSON token, not a password
        elif token == ",":  # noqa: S105
            frame = stack[-1]
            frame.index += 1
            frame.wants_key = frame.object
        # S105: a JSON token, not a password
        elif token == ":":  # noqa: S105
            stack[-1].wants_key = False
        elif stack[-1].object and stack[-1].wants_key:
            frame = stack[-1]
            try:
                frame.key = str(json.loads(token))
            except ValueError:
                frame.key = token[1:-1]
            if frame.key in frame.seen:
                issues.append(FlowIssue(_here(stack) + pointer(frame.key),
                                        f"the key {shown(frame.key)!r} is written twice in "
                                        "one object"))
            frame.seen.add(frame.key)
    return _Scanned(_here(stack), issues)


def _here(stack: list[_Frame]) -> str:
    parts: list[str | int] = []
    for frame in stack:
        if not frame.object:
            parts.append(frame.index)
        elif frame.key is not None and not frame.wants_key:
            parts.append(frame.key)
    return pointer(*parts)
