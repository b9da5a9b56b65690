"""BXML as data: which verbs exist, their attributes (types and documented limits), the
children each may hold; a validator and a hardened parser for documents from outside.

Facts from BW-DOCS ``site/docs/voice/bxml/*.mdx`` (PROVIDERS.md 3.1). The compiler's
output is checked against these rules in tests and by the interpreter, which refuses a
document Bandwidth would fail with ``invalid-bxml``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from univoice.errors import UnivoiceError

MAX_DOCUMENT = 64 * 1024  # bytes; a larger document fails the call
MAX_URL = 2048
MAX_TAG = 256
MAX_PROMPTS = 20  # a Gather's nested verbs times its repeatCount
MAX_TRANSFER_TARGETS = 8
MAX_DTMF = 50

Convert = Callable[[str], Any]


class BxmlError(UnivoiceError, ValueError):
    """A document that is not BXML Bandwidth would run (the message says where)."""


def _bool(text: str) -> bool:
    if text not in ("true", "false"):
        raise ValueError("must be true or false")
    return text == "true"


def _number(low: float, high: float, *, integer: bool = False) -> Convert:
    def convert(text: str) -> float:
        try:
            value = int(text) if integer else float(text)
        except ValueError:
            raise ValueError(f"must be {'an integer' if integer else 'a number'}") from None
        if not low <= value <= high:
            raise ValueError(f"must be between {low:g} and {high:g}")
        return value

    return convert


def _choice(*values: str) -> Convert:
    def convert(text: str) -> str:
        if text not in values:
            raise ValueError(f"must be one of {', '.join(values)}")
        return text

    return convert


def _text(maximum: int, pattern: str | None = None, what: str = "") -> Convert:
    regex = re.compile(pattern) if pattern else None

    def convert(text: str) -> str:
        if len(text) > maximum:
            raise ValueError(f"is longer than {maximum} characters")
        if regex is not None and not regex.fullmatch(text):
            raise ValueError(f"is not {what}")
        return text

    return convert


def _url(text: str) -> str:
    if not text or len(text) > MAX_URL:
        raise ValueError(f"must be a URL of 1 to {MAX_URL} characters")
    return text


METHOD = _choice("GET", "POST")
CREDENTIAL = _text(1024)
DIGITS = _text(50, r"[0-9*#]*", "made of 0-9, * and #")
CALLER_ID = _text(64, r"\+[1-9][0-9]{1,14}|Restricted|Anonymous|Private|Unavailable|",
                  "an E.164 number or Restricted/Anonymous/Private/Unavailable")
COMMON: dict[str, Convert] = {
    "username": CREDENTIAL, "password": CREDENTIAL, "fallbackUsername": CREDENTIAL,
    "fallbackPassword": CREDENTIAL, "tag": _text(MAX_TAG),
}


def _callback(prefix: str) -> dict[str, Convert]:
    """``<prefix>Url``, ``<prefix>Method`` and their fallbacks."""
    return {f"{prefix}Url": _url, f"{prefix}Method": METHOD,
            f"{prefix}FallbackUrl": _url, f"{prefix}FallbackMethod": METHOD}


@dataclass(frozen=True)
class Verb:
    attributes: Mapping[str, Convert] = field(default_factory=dict)
    children: frozenset[str] = frozenset()
    text: Convert | None = None  # required text content (None: none allowed)
    required: frozenset[str] = frozenset()
    free: bool = False  # out of univoice's scope: attributes not checked


SSML = frozenset({"break", "emphasis", "lang", "p", "phoneme", "prosody", "s", "say-as",
                  "sub"})
RECORDING = {"recordingAvailableUrl": _url, "recordingAvailableMethod": METHOD,
             "transcribe": _bool, "detectLanguage": _bool,
             "transcriptionAvailableUrl": _url, "transcriptionAvailableMethod": METHOD,
             "fileFormat": _choice("wav", "mp3"), **COMMON}
TRANSFER_TARGET = {**_callback("transferAnswer"), "transferDisconnectUrl": _url,
                   "transferDisconnectMethod": METHOD, **COMMON}
DIVERSION = {"diversionTreatment": _choice("none", "propagate", "stack"),
             "diversionReason": _choice("unknown", "user-busy", "no-answer", "unavailable",
                                        "unconditional", "time-of-day", "do-not-disturb",
                                        "deflection", "follow-me", "out-of-service",
                                        "away")}

VERBS: dict[str, Verb] = {
    "SpeakSentence": Verb({"voice": _text(64), "gender": _choice("female", "male"),
                           "locale": _text(16)}, SSML, _text(10_000)),
    "PlayAudio": Verb({"username": CREDENTIAL, "password": CREDENTIAL}, text=_url),
    "Pause": Verb({"duration": _number(0.1, 86400)}),
    "Ring": Verb({"duration": _number(0.1, 86400), "answerCall": _bool}),
    "Hangup": Verb(),
    "Redirect": Verb({**_callback("redirect"), **COMMON}, required=frozenset({"redirectUrl"})),
    "Gather": Verb({**_callback("gather"), **COMMON, "terminatingDigits": DIGITS,
                    "maxDigits": _number(1, 50, integer=True),
                    "interDigitTimeout": _number(1, 60),
                    "firstDigitTimeout": _number(0, 60),
                    "repeatCount": _number(1, MAX_PROMPTS, integer=True)},
                   frozenset({"SpeakSentence", "PlayAudio"})),
    "StartGather": Verb({"dtmfUrl": _url, "dtmfMethod": METHOD, **COMMON},
                        required=frozenset({"dtmfUrl"})),
    "StopGather": Verb(),
    "Record": Verb({**_callback("recordComplete"), **RECORDING, "terminatingDigits": DIGITS,
                    "maxDuration": _number(1, 10800), "silenceTimeout": _number(0, 10800)}),
    "StartRecording": Verb({**RECORDING, "multiChannel": _bool}),
    "StopRecording": Verb({"tag": _text(MAX_TAG)}),
    "PauseRecording": Verb(),
    "ResumeRecording": Verb(),
    "Transfer": Verb({**_callback("transferComplete"), **COMMON, **DIVERSION,
                      "transferCallerId": CALLER_ID,
                      "transferCallerDisplayName": _text(256),
                      "callTimeout": _number(1, 300)},
                     frozenset({"PhoneNumber", "SipUri"})),
    "PhoneNumber": Verb(TRANSFER_TARGET,
                        text=_text(16, r"\+[1-9][0-9]{1,14}", "an E.164 number")),
    "SipUri": Verb({**TRANSFER_TARGET, "uui": _text(256)},
                   text=_text(1024, r"sips?:\S+@\S+", "a SIP URI")),
    "Forward": Verb({"to": _text(1024), "from": CALLER_ID, "callTimeout": _number(1, 300),
                     "uui": _text(256), **DIVERSION}, required=frozenset({"to"})),
    "Bridge": Verb({**_callback("bridgeComplete"), **_callback("bridgeTargetComplete"),
                    **COMMON}, text=_text(256)),
    "Conference": Verb({**_callback("conferenceEvent"), **COMMON, "mute": _bool,
                        "hold": _bool, "callIdsToCoach": _text(4096),
                        "callbackTimeout": _number(1, 25)},
                       text=_text(100, r"[A-Za-z0-9_.\-]+",
                                  "letters, digits, '-', '_' and '.'")),
    "SendDtmf": Verb({"toneDuration": _number(50, 5000), "toneInterval": _number(50, 5000)},
                     text=_text(MAX_DTMF, r"[0-9*#a-dA-D,wW]+",
                                "made of 0-9, *, #, a-d and the pauses , w W")),
    "Tag": Verb(text=_text(MAX_TAG)),
    # Media streaming and live transcription: valid BXML that univoice does not produce.
    "StartStream": Verb(children=frozenset({"StreamParam"}), free=True),
    "StopStream": Verb(free=True),
    "StreamParam": Verb(free=True),
    "StartTranscription": Verb(children=frozenset({"CustomParam"}), free=True),
    "StopTranscription": Verb(free=True),
    "CustomParam": Verb(free=True),
}
ROOTS = ("Response", "Bxml")
# Verbs after which nothing in the document runs: control goes to a URL (when given).
HANDS_OFF = {"Redirect": "redirectUrl", "Gather": "gatherUrl",
             "Record": "recordCompleteUrl", "Transfer": "transferCompleteUrl",
             "Bridge": "bridgeCompleteUrl"}


def attributes(element: etree._Element) -> dict[str, Any]:
    """The element's attributes converted to their types (``BxmlError`` if invalid)."""
    verb = VERBS.get(str(element.tag))
    if verb is None:
        raise BxmlError(f"<{element.tag}> is not a BXML verb")
    given = {str(k): str(v) for k, v in element.attrib.items()}
    if verb.free:
        return dict(given)
    out: dict[str, Any] = {}
    for name, value in given.items():
        convert = verb.attributes.get(name)
        if convert is None:
            raise BxmlError(f"<{element.tag}> has no attribute {name!r}")
        try:
            out[name] = convert(value)
        except ValueError as exc:
            raise BxmlError(f"<{element.tag}> {name}={value[:80]!r} {exc}") from None
    return out


def validate(root: etree._Element) -> list[str]:
    """Every problem of a parsed document, each naming the verb (empty: valid)."""
    problems: list[str] = []
    if root.tag not in ROOTS:
        return [f"the root is <{root.tag}>, not <Response> or <Bxml>"]
    if (root.text or "").strip():
        problems.append("text directly inside the root")
    for index, element in enumerate(root):
        if not isinstance(element.tag, str):
            continue  # comments and processing instructions
        problems.extend(f"{element.tag}[{index}]: {p}" for p in _check(element))
    return problems


def _check(element: etree._Element) -> list[str]:
    problems: list[str] = []
    verb = VERBS.get(str(element.tag))
    if verb is None:
        return [f"<{element.tag}> is not a BXML verb"]
    try:
        attributes(element)
    except BxmlError as exc:
        problems.append(str(exc))
    problems.extend(f"missing required attribute {name!r}" for name in
                    sorted(verb.required - set(map(str, element.attrib))))
    if verb.free:
        return problems
    kids = [c for c in element if isinstance(c.tag, str)]
    for kid in kids:
        if kid.tag not in verb.children:
            problems.append(f"<{kid.tag}> is not allowed inside <{element.tag}>")
        elif kid.tag in VERBS:
            problems.extend(f"{kid.tag}: {p}" for p in _check(kid))
    text = (text_of(element) if verb.children == SSML else str(element.text or ""))
    if verb.text is None:
        if text.strip():
            problems.append("text is not allowed here")
    elif not text.strip():
        if not (verb.children == SSML and kids):
            problems.append("text content is required")
    else:
        try:
            verb.text(text.strip())
        except ValueError as exc:
            problems.append(f"text {text.strip()[:60]!r} {exc}")
    if element.tag == "Gather":
        repeat = int(element.get("repeatCount", "1")) if element.get(
            "repeatCount", "1").isdigit() else 1
        if len(kids) * repeat > MAX_PROMPTS:
            problems.append(f"{len(kids)} prompts x repeatCount {repeat} is more than "
                            f"{MAX_PROMPTS}")
    if element.tag == "Transfer" and not 1 <= len(kids) <= MAX_TRANSFER_TARGETS:
        problems.append(f"needs 1 to {MAX_TRANSFER_TARGETS} <PhoneNumber>/<SipUri>")
    return problems


def text_of(element: etree._Element) -> str:
    """All the text inside an element (SSML markup dropped), white space normalised."""
    return " ".join("".join(str(t) for t in element.itertext()).split())


XINCLUDE = "http://www.w3.org/2001/XInclude"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                          dtd_validation=False, huge_tree=False, remove_pis=True)


def parse(document: str | bytes) -> etree._Element:
    """Parse BXML from outside: size-capped, no DTD, no entities, no network.

    A DOCTYPE or an entity reference is refused in any encoding (UTF-16 and UTF-32 too),
    and so is XInclude; the parser neither expands entities nor loads anything, so none
    of that could have been read. ``BxmlError`` for anything malformed; the caller then
    validates with ``validate``.
    """
    try:
        data = document.encode() if isinstance(document, str) else document
    except UnicodeEncodeError:  # a lone surrogate: no byte sequence says it
        raise BxmlError("document is not Unicode text (a lone surrogate)") from None
    if len(data) > MAX_DOCUMENT:
        raise BxmlError(f"document is {len(data)} bytes, more than {MAX_DOCUMENT}")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise BxmlError("documents with a DOCTYPE or entities are refused")
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise BxmlError(f"not well-formed XML: {exc}") from None
    # The byte test above sees only ASCII-compatible encodings: a UTF-16 or UTF-32
    # document's DOCTYPE is caught here (its entities were not expanded, nor loaded).
    info = root.getroottree().docinfo
    if (getattr(info, "doctype", "") or info.internalDTD is not None  # (not in the stubs)
            or next(root.iter(etree.Entity), None) is not None):
        raise BxmlError("documents with a DOCTYPE or entities are refused")
    if next(root.iter(f"{{{XINCLUDE}}}*"), None) is not None:  # never processed: refused
        raise BxmlError("documents with XInclude elements are refused")
    return root
