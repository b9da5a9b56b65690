"""What a SpeakSentence says, for the BXML importer: the speaker (a voice decides
language and gender, as on Bandwidth), SSML breaks as silence, long text in pieces."""

from __future__ import annotations

import math
import re
from typing import Any

from lxml import etree

from univoice.migrate import Carry
from univoice_bandwidth import voices

_LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*")
Note = tuple[str, Carry, str]  # construct, carry, detail


def speaker(a: dict[str, Any]) -> tuple[dict[str, Any], list[Note]]:
    """A say's language, gender and voice from a SpeakSentence's attributes. A voice
    Bandwidth knows decides language and gender (it overrides locale and gender there)."""
    fields: dict[str, Any] = {}
    notes: list[Note] = []
    locale, gender, voice = a.get("locale"), a.get("gender"), a.get("voice")
    if locale is not None:
        language = voices.language(str(locale))
        tag = str(locale).replace("_", "-")
        if language is not None:
            fields["language"] = language
        elif _LANGUAGE.fullmatch(tag):
            fields["language"] = tag
            notes.append(("<SpeakSentence locale>", Carry.CHANGED, f"locale {locale!r} is not"
                          f" one Bandwidth lists: read as the language {tag!r} (which other "
                          "providers may speak; compiled for Bandwidth, it is refused)"))
        else:
            notes.append(("<SpeakSentence locale>", Carry.DROPPED, f"locale {locale!r} is "
                          "not a language: the flow's language is spoken"))
    if gender is not None:
        fields["gender"] = gender
    if voice is not None:
        known = voices.VOICES.get(str(voice).lower())
        if known is None:
            notes.append(("<SpeakSentence voice>", Carry.DROPPED, f"{voice!r} is not a "
                          "Bandwidth voice univoice knows: the default voice speaks"))
        else:
            fields["voice"] = str(voice).lower()
            fields["language"], fields["gender"] = voices.language(known[0]), known[1]
            overridden = [f"{name} {value!r}" for name, value, same in (
                ("locale", locale, fields["language"] == voices.language(str(locale))),
                ("gender", gender, gender == known[1])) if value is not None and not same]
            if overridden:
                notes.append(("<SpeakSentence voice>", Carry.CHANGED, f"voice {voice!r} "
                              f"speaks {fields['language']} ({known[1]}): the "
                              f"{' and '.join(overridden)} given with it are overridden, as "
                              "on Bandwidth"))
    return fields, notes


def break_seconds(element: etree._Element) -> float:
    """An SSML break's length (Bandwidth caps one at 10 s); 0 when it gives no time."""
    value = (element.get("time") or "").strip()
    try:
        seconds = (float(value[:-2]) / 1000 if value.endswith("ms")
                   else float(value[:-1]) if value.endswith("s") else 0.0)
    except ValueError:
        return 0.0
    return min(max(seconds, 0.0), 10.0) if math.isfinite(seconds) else 0.0


def chunks(text: str, size: int) -> list[str]:
    """``text`` in pieces of at most ``size`` characters, cut at spaces where it can."""
    pieces: list[str] = []
    while len(text) > size:
        cut = text.rfind(" ", 0, size + 1)
        if cut <= 0:
            cut = size
            while cut > 1 and text[cut - 1] in "{}":  # never inside an escaped brace
                cut -= 1
        pieces.append(text[:cut].strip())
        text = text[cut:].strip()
    return [p for p in [*pieces, text] if p]
