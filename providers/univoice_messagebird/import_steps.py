"""One call-flow step -> the neutral steps it means (document form), with a note for
every option whose meaning changed or that has no neutral counterpart.

An action with no neutral step (any but the documented eight) is ``None`` here: the
caller keeps it as a ``native`` step. A neutral step that the model refuses (a media URL
that is not http(s), a destination that is no phone number) is kept native too, with
the model's reason (``problem``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from univoice.errors import InvalidInput
from univoice.flow.fields import MAX_RECORD
from univoice.flow.paths import issues_from_pydantic
from univoice.flow.steps import Branch
from univoice.migrate import Carry
from univoice_messagebird.compile import TRANSCRIBE
from univoice_messagebird.import_read import Raw, pointer

PROVIDER = "messagebird"
PROMPTS = frozenset({"say", "play", "pause"})
# (JSON pointer, construct, carry, detail, index of the neutral step it concerns)
Pending = tuple[str, str, Carry, str, int]
Mapped = tuple[list[Any], list[Pending]]

_LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*")  # univoice.flow.fields' rule
_KEY = re.compile(r"[0-9*#]")
_FROM_TRANSCRIBE = {mb: neutral for neutral, mb in TRANSCRIBE.items()}
# Where univoice's webhook app serves continuations (absolute, or relative as
# ``compile_flow`` writes them).
_CONTINUATION = re.compile(r"/univoice/messagebird/flow/|^steps(%5B|\[)")


def neutral(raw: Raw) -> Mapped | None:
    """The neutral steps ``raw`` means (none for a 0-second pause), or None when its
    action has no neutral equivalent."""
    mapper = _MAPPERS.get(raw.action)
    if mapper is None:
        return None
    notes: list[Pending] = []
    if raw.foreign:
        notes.append((pointer(raw.at, "options"), f"{raw.action} option " + ", ".join(
            repr(k) for k in raw.foreign), Carry.DROPPED,
            f"not an option of {raw.action}; MessageBird ignores it", 0))
    return mapper(raw, notes), notes


def native(document: dict[str, Any], note: str) -> dict[str, Any]:
    return {"native": {"provider": PROVIDER, "document": document, "note": note[:500]}}


def problem(step: Any) -> str | None:
    """Why the neutral model refuses ``step`` (one line), or None."""
    try:
        Branch.model_validate({"steps": [step]})
    except ValidationError as exc:
        issue = issues_from_pydantic(exc)[0]
    except InvalidInput as exc:
        issue = exc.issues[0]
    else:
        return None
    return f"{issue.path.removeprefix('steps[0].')}: {issue.message}"


def escape(text: str) -> str:
    """Braces as written: in a neutral say, ``{name}`` would read a variable."""
    return text.replace("{", "{{").replace("}", "}}")


def _note(raw: Raw, option: str, carry: Carry, detail: str, offset: int = 0) -> Pending:
    return (pointer(raw.at, "options", option), f"{raw.action} option {option!r}", carry,
            detail, offset)


# Actions ----------------------------------------------------------------------------------


def _say(raw: Raw, notes: list[Pending]) -> list[Any]:
    o = raw.options
    body: dict[str, Any] = {"text": escape(o["payload"])}
    language = o.get("language")
    if language is None:
        notes.append(_note(raw, "language", Carry.CHANGED, "missing (MessageBird requires "
                           "it): the flow's language applies, else en-US"))
    elif _LANGUAGE.fullmatch(language):
        body["language"] = language
    else:
        notes.append(_note(raw, "language", Carry.CHANGED, f"{language!r} is not a "
                           "language tag: the flow's language applies, else en-US"))
    voice = o.get("voice")
    if voice in ("female", "male"):
        body["gender"] = voice
    elif voice is not None:
        notes.append(_note(raw, "voice", Carry.DROPPED, f"{voice!r} is neither male nor "
                           "female, the voices MessageBird has"))
    if o.get("repeat", 1) != 1:
        body["loop"] = o["repeat"]
    for option in ("ifMachine", "machineTimeout"):
        if option in o:
            notes.append(_note(raw, option, Carry.DROPPED, "answering-machine handling of "
                               "one say step: a neutral flow detects machines for the "
                               "whole call (machine_detection)"))
    return [{"say": body}]


def _play(raw: Raw, notes: list[Pending]) -> list[Any]:
    return [{"play": {"url": raw.options["media"]}}]


def _pause(raw: Raw, notes: list[Pending]) -> list[Any]:
    if raw.options["length"] == 0:
        notes.append(_note(raw, "length", Carry.DROPPED, "a pause of 0 seconds does nothing"))
        return []
    return [{"pause": {"seconds": raw.options["length"]}}]


def _record(raw: Raw, notes: list[Pending]) -> list[Any]:
    o = raw.options
    body: dict[str, Any] = {"max_length": o.get("maxLength") or MAX_RECORD}
    if not o.get("maxLength"):
        notes.append(_note(raw, "maxLength", Carry.CHANGED, "no limit (0 or none): "
                           f"univoice's longest recording, {MAX_RECORD / 3600:g} hours"))
    if o.get("timeout"):
        body["silence_timeout"] = o["timeout"]
    elif "timeout" in o:
        notes.append(_note(raw, "timeout", Carry.CHANGED, "0 read as no silence timeout"))
    key = o.get("finishOnKey", "none")
    body["finish_on_key"] = key if _KEY.fullmatch(key) else None
    if key == "any":
        body["finish_on_key"] = "#"
        notes.append(_note(raw, "finishOnKey", Carry.CHANGED, "any key ended the recording; "
                           "the neutral record ends on # only"))
    elif key != "none" and body["finish_on_key"] is None:
        notes.append(_note(raw, "finishOnKey", Carry.DROPPED, f"{key!r} is not any, none "
                           "or a key: the recording ends on no key"))
    _transcription(raw, body, notes)
    steps: list[Any] = [{"record": body}]
    if "onFinish" in o:
        steps.append({"redirect": {"url": o["onFinish"], "method": "POST"}})
        notes.append(_note(raw, "onFinish", Carry.CHANGED, "a redirect after the record: "
                           "MessageBird posted the recording's details to it and ran the "
                           "call flow it answered; the neutral redirect posts no recording "
                           "and expects the running provider's own document", 1))
    return steps


def _transcription(raw: Raw, body: dict[str, Any], notes: list[Pending]) -> None:
    language = raw.options.get("transcribeLanguage")
    if not raw.options.get("transcribe"):
        if language is not None:
            notes.append(_note(raw, "transcribeLanguage", Carry.DROPPED,
                               "transcribe is off: nothing is transcribed"))
        return
    body["transcribe"] = True
    if language in _FROM_TRANSCRIBE:
        body["transcribe_language"] = _FROM_TRANSCRIBE[language]
    elif language is not None:
        notes.append(_note(raw, "transcribeLanguage", Carry.CHANGED, f"{language!r} is not "
                           "a language MessageBird transcribes: the flow's language applies"))


def _transfer(raw: Raw, notes: list[Pending]) -> list[Any]:
    o = raw.options
    destination: str = o["destination"]
    target = f"+{destination}" if destination.isdigit() else destination
    body: dict[str, Any] = {"targets": [target]}
    record = o.get("record")
    if record in ("both", True):
        body["record"] = True
    elif record in ("in", "out"):
        body["record"] = True
        side = "the destination" if record == "in" else "the caller"
        notes.append(_note(raw, "record", Carry.CHANGED, f"{record!r} recorded {side} only; "
                           "the neutral transfer records both sides"))
    elif record not in (None, False, "", "none"):
        notes.append(_note(raw, "record", Carry.DROPPED, f"{record!r} is not in, out or "
                           "both: nothing is recorded"))
    if "mask" in o:
        notes.append(_note(raw, "mask", Carry.DROPPED, "which caller ID the destination "
                           "sees (MessageBird's meaning is unconfirmed); a neutral transfer "
                           "sets caller_id itself"))
    return [{"transfer": body}]


def hint(raw: Raw) -> str:
    """What to do about a ``fetchCallFlow`` of univoice's own continuations."""
    if raw.action == "fetchCallFlow" and _CONTINUATION.search(str(raw.options.get("url"))):
        return ("; it fetches a continuation univoice's webhook app serves for a flow it "
                "stored: convert the neutral flow it was compiled from instead")
    return ""


def _fetch(raw: Raw, notes: list[Pending]) -> list[Any]:
    url: str = raw.options["url"]
    detail = ("MessageBird fetched the next call flow (JSON) with GET, the call's variables "
              "in the query; on another provider the URL must serve that provider's own "
              "document") + hint(raw)
    notes.append(_note(raw, "url", Carry.CHANGED, detail))
    return [{"redirect": {"url": url, "method": "GET"}}]


def _hangup(raw: Raw, notes: list[Pending]) -> list[Any]:
    return ["hangup"]


def _send_keys(raw: Raw, notes: list[Pending]) -> list[Any]:
    notes.append(_note(raw, "keys", Carry.CHANGED, "sendKeys is not in MessageBird's "
                       "documented actions, and univoice's MessageBird adapter sends no "
                       "digits: the flow runs where send_digits does (Bandwidth)"))
    for option in ("duration", "interval"):
        if option in raw.options:
            notes.append(_note(raw, option, Carry.DROPPED, "tone timing: send_digits "
                               "uses the provider's"))
    return [{"send_digits": {"digits": raw.options["keys"]}}]


_MAPPERS: dict[str, Callable[[Raw, list[Pending]], list[Any]]] = {
    "say": _say, "play": _play, "pause": _pause, "record": _record, "transfer": _transfer,
    "fetchCallFlow": _fetch, "hangup": _hangup, "sendKeys": _send_keys,
}
