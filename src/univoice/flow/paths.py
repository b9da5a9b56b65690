"""Step paths (``steps[2].gather.options['1'].steps[0].say.text``) and error conversion."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache

from pydantic import ValidationError

from univoice.errors import FlowIssue

# Fields whose keys are user data (menu digits), printed as ['1'] rather than .1
_KEYED_FIELDS = frozenset({"options"})


def format_path(loc: Iterable[str | int], prefix: str = "") -> str:
    out = prefix
    keyed = False
    for part in loc:
        if part == "[key]":
            out += " (key)"
        elif isinstance(part, int):
            out += f"[{part}]"
        elif keyed or not part.isidentifier():
            out += f"[{part!r}]"  # user data, or a name that would not read as one
        else:
            out += f".{part}" if out else part
        keyed = part in _KEYED_FIELDS
    return out


@lru_cache(maxsize=8192)
def join(path: str, *parts: str | int) -> str:
    # Compilers and the simulator join the same few paths on every call they serve.
    return format_path(parts, path)


def issues_from_pydantic(exc: ValidationError, prefix: str = "") -> list[FlowIssue]:
    issues = []
    for err in exc.errors(include_url=False):
        loc: Sequence[str | int] = err["loc"]
        issues.append(FlowIssue(format_path(loc, prefix), _message(err["type"], err["msg"])))
    return issues


def _message(kind: str, msg: str) -> str:
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "required field is missing"
    # pydantic prefixes custom messages with "Value error, "; ours are already sentences.
    return msg.removeprefix("Value error, ")
