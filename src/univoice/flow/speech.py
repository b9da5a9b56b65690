"""What a say step speaks: its text with gathered variables filled in, reduced to what
can be spoken (no control characters, single spaces). Shared by the simulator and every
compiler, so a provider's document says exactly what the simulator reports."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from functools import lru_cache

from univoice.flow.rules import PLACEHOLDER


def fill(text: str, variables: Mapping[str, str]) -> str:
    """``{name}`` read from gathered variables ("" when unset); ``{{``/``}}`` are braces."""
    if "{" not in text and "}" not in text:
        return text

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        return match.group(0)[0] if name is None else variables.get(name, "")

    return PLACEHOLDER.sub(value, text)


@lru_cache(maxsize=2048)
def spoken(text: str) -> str:
    """``text`` without control characters, lone surrogates or non-characters (nothing a
    voice can say, and nothing XML may carry), white space collapsed to single spaces."""
    kept = "".join(c for c in text if c.isspace() or _speakable(c))
    return " ".join(kept.split())


def _speakable(char: str) -> bool:
    category = unicodedata.category(char)
    return category not in ("Cc", "Cs", "Cn") or char in "\t\n\r"


def words(text: str) -> int:
    return len(text.split())
