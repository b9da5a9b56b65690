"""One Bird command -> neutral steps, for the importer (``univoice_bird.importer``).

``check`` holds a document to the documented types (a wrong type is an error with its JSON
pointer); ``command`` reads one command. An option a neutral step cannot hold is left out
with a note (the step keeps its default); a command that cannot exist without it is kept
as written (``Mapped.native`` says why). Every option is read, reported, or both."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

from univoice.errors import FlowIssue, FlowValidationError
from univoice.flow.fields import MAX_RECORD, shown
from univoice.flow.steps import (
    FlowModel,
    Gather,
    Hangup,
    Pause,
    Play,
    PromptStep,
    Record,
    Say,
    SendDigits,
    Step,
    Transfer,
)
from univoice.migrate import Carry, ImportNote
from univoice_bird.compile import DEFAULT_LOCALE
from univoice_bird.import_json import pointer

# The documented options of each command (PROVIDERS.md 3.3) and their JSON types.
SAY: Final = {"text": "str", "locale": "str", "voice": "str", "loop": "int",
              "timeout": "number"}
PLAYBACK: Final = {"media": "strs", "loop": "int", "timeout": "number",
                   "pauseMilliseconds": "number"}
OPTIONS: Final[dict[str, dict[str, Any]]] = {
    "say": SAY,
    "playback": PLAYBACK,
    "pause": {"length": "number"},
    "gather": {"maxNumKeys": "int", "endKey": "str", "timeout": "number", "retries": "int",
               "input": "str", "speechLocale": "str", "say": SAY, "playback": PLAYBACK},
    "record": {"endKey": "str", "maxLength": "number", "timeout": "number", "beep": "bool",
               "transcribe": "bool", "transcribeLocale": "str"},
    "bridge": {"to": "str", "from": "str", "ringTimeout": "number", "maxDuration": "number",
               "ringTone": "str", "hangupAfterBridge": "bool", "record": "bool",
               "recordStart": "str", "recordStereo": "bool", "notification": "object",
               "amdSettings": "object", "callFlow": "list"},
    "hangup": {}, "answer": {}, "ringing": {},
}
ECHOED: Final = ("id", "callId", "callFlowId", "status")  # a call object's command fields
_BRIDGE_DROPPED: Final = {
    "maxDuration": "the longest the bridged call may last: no neutral equivalent",
    "ringTone": "the ring tone the caller hears: no neutral equivalent",
    "recordStart": "when the bridge's recording starts: a neutral transfer records from "
                   "answer",
    "recordStereo": "stereo recording of the bridge: no neutral equivalent",
    "notification": "the bridged call's own status callback: the webhook app receives "
                    "univoice's callbacks",
    "amdSettings": "answering-machine detection on the bridged call: nothing in the flow "
                   "acts on its result",
}


# Types ----------------------------------------------------------------------------------

def _type_ok(kind: str, value: Any) -> bool:
    if kind == "str":
        return isinstance(value, str)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "strs":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind == "list":
        return isinstance(value, list)
    return isinstance(value, dict)  # "object" or a nested schema


_NAMES = {"str": "a string", "int": "a whole number", "number": "a number",
          "bool": "true or false", "strs": "a list of strings", "list": "a list",
          "object": "an object"}


def check(command: Any, at: str) -> list[FlowIssue]:
    """The type errors of one command (and its options and conditions)."""
    if not isinstance(command, dict):
        return [FlowIssue(at, "a command is an object with 'command' (and 'options', "
                              "'conditions')")]
    name = command.get("command")
    if not isinstance(name, str):
        return [FlowIssue(pointer_in(at, "command"),
                          "'command' (the command's name, a string) is missing or not a "
                          "string")]
    issues: list[FlowIssue] = []
    options = command.get("options")
    if "options" in command and not isinstance(options, dict):
        issues.append(FlowIssue(pointer_in(at, "options"), "must be an object"))
    elif isinstance(options, dict):
        issues += _check_options(OPTIONS.get(name, {}), options, pointer_in(at, "options"))
    conditions = command.get("conditions")
    if "conditions" in command and not isinstance(conditions, list):
        issues.append(FlowIssue(pointer_in(at, "conditions"), "must be a list"))
    for index, condition in enumerate(conditions if isinstance(conditions, list) else []):
        here = pointer_in(at, "conditions", index)
        if not isinstance(condition, dict):
            issues.append(FlowIssue(here, "a condition is an object {variable, operator, "
                                          "value}"))
            continue
        for key in ("variable", "operator", "value"):
            if not isinstance(condition.get(key), str):
                issues.append(FlowIssue(pointer_in(here, key), "missing or not a string"))
    return issues


def _check_options(schema: dict[str, Any], options: dict[str, Any], at: str
                   ) -> list[FlowIssue]:
    issues: list[FlowIssue] = []
    for key, kind in schema.items():
        if key not in options:
            continue
        here, value = pointer_in(at, key), options[key]
        expected = "object" if isinstance(kind, dict) else kind
        if not _type_ok(expected, value):
            issues.append(FlowIssue(here, f"must be {_NAMES[expected]}"))
        elif isinstance(kind, dict):
            issues += _check_options(kind, value, here)
    return issues


def pointer_in(at: str, *parts: str | int) -> str:
    return at + pointer(*parts)


# Reading one command ----------------------------------------------------------------------

@dataclass(frozen=True)
class Defaults:
    """What the flow says for every say step (lifted when all of them agree)."""

    language: str | None = None
    gender: str | None = None


@dataclass
class Mapped:
    """One command read: neutral steps (none: nothing runs), the notes about it, or why it
    must be kept as written (``native``). A gather leaves its ``gather`` fields to the
    importer, which alone knows what reads its keys."""

    steps: list[Step] = field(default_factory=list)
    notes: list[ImportNote] = field(default_factory=list)
    native: str | None = None
    gather: dict[str, Any] | None = None

    @property
    def ends(self) -> bool:
        return bool(self.steps) and isinstance(self.steps[-1], Hangup)


class _Native(Exception):
    """This command cannot be a neutral step: kept as written (the message says why)."""


def command(cmd: dict[str, Any], at: str, defaults: Defaults, *, echoed: bool = False
            ) -> Mapped:
    """Read a command whose types ``check`` accepted. ``echoed``: from a call object,
    which lists commands without their options."""
    name: str = cmd["command"]
    out = Mapped()
    here = pointer_in(at, "options")
    options: dict[str, Any] = cmd.get("options") or {}
    for key in cmd:
        if key not in ("command", "options", "conditions") and not (echoed and key in ECHOED):
            out.notes.append(_note(pointer_in(at, key), f"field '{key}'", Carry.DROPPED,
                                   f"a field of a Bird command univoice does not know "
                                   f"({name})"))
    if name in _INBOUND:
        out.notes.append(_note(at, f"command '{name}'", Carry.DROPPED, _INBOUND[name]))
        _unknown(out, {}, options, here, name)
        return out
    reader = _READERS.get(name)
    if reader is None:
        return Mapped(native=f"'{shown(name)}' is not a Bird command univoice knows")
    missing = [k for k in _REQUIRED.get(name, ()) if k not in options]
    if missing:
        why = ("a call object lists its commands without their options" if echoed else
               "which Bird requires")
        out.notes.append(_note(at, f"command '{name}'", Carry.DROPPED,
                               f"no {missing[0]}, {why}: nothing to run"))
        return out
    _unknown(out, OPTIONS[name], options, here, name)
    try:
        reader(out, options, at, defaults)
    except _Native as exc:
        return Mapped(native=str(exc))
    return out


_REQUIRED = {"say": ("text",), "playback": ("media",), "bridge": ("to",)}


def _unknown(out: Mapped, schema: dict[str, Any], options: dict[str, Any], at: str,
             name: str) -> None:
    """A note for each option (nested ones too) the command does not document."""
    for key, value in options.items():
        kind = schema.get(key)
        if kind is None:
            out.notes.append(_note(pointer_in(at, key), f"option '{name}.{key}'",
                                   Carry.DROPPED, "an option univoice does not know for "
                                                  f"'{name}': not carried over"))
        elif isinstance(kind, dict):
            _unknown(out, kind, value, pointer_in(at, key), f"{name}.{key}")


def _note(at: str, construct: str, carry: Carry, detail: str) -> ImportNote:
    return ImportNote(at=at, construct=construct, carry=carry, detail=detail)


M = TypeVar("M", bound=FlowModel)


def _build(out: Mapped, model: type[M], required: dict[str, Any],
           optional: list[tuple[str, Any, str, str]]) -> M:
    """``model`` from ``required`` (else ``_Native``) and each of ``optional`` (field,
    value, pointer, construct) it accepts; one it refuses is left out with a note."""
    try:
        model(**required)
    except FlowValidationError as exc:
        raise _Native(_reason(exc)) from None
    kept: dict[str, Any] = {}
    for name, value, at, construct in optional:
        try:
            model(**{**required, name: value})
        except FlowValidationError as exc:
            out.notes.append(_note(at, construct, Carry.DROPPED,
                                   f"{_shown(value)}: {_reason(exc)}; left out"))
        else:
            kept[name] = value
    try:
        return model(**{**required, **kept})
    except FlowValidationError as exc:  # each was fine alone, not together
        raise _Native(_reason(exc)) from None


def _reason(exc: FlowValidationError) -> str:
    return "; ".join(str(issue) for issue in exc.issues)


def _shown(value: Any) -> str:
    return repr(shown(value)) if isinstance(value, str) else shown(str(value))


def _say(out: Mapped, options: dict[str, Any], at: str, defaults: Defaults) -> None:
    out.steps.append(say(out, options, pointer_in(at, "options"), defaults))


def say(out: Mapped, options: dict[str, Any], at: str, defaults: Defaults) -> Say:
    """A say from its options (a command's, or a gather's nested prompt: ``at`` points at
    them); ``_Native`` if it cannot be one."""
    text = options["text"].replace("{", "{{").replace("}", "}}")  # Bird reads no variables
    optional: list[tuple[str, Any, str, str]] = []
    locale = options.get("locale", DEFAULT_LOCALE)
    if locale != (defaults.language or DEFAULT_LOCALE):
        optional.append(("language", locale, pointer_in(at, "locale"), "option 'say.locale'"))
    voice = options.get("voice")
    if voice is not None and voice not in ("male", "female"):
        out.notes.append(_note(pointer_in(at, "voice"), "option 'say.voice'", Carry.DROPPED,
                               f"{_shown(voice)}: a Bird voice is male or female; left out"))
    elif voice != defaults.gender:
        optional.append(("gender", voice, pointer_in(at, "voice"), "option 'say.voice'"))
    if "loop" in options:
        optional.append(("loop", options["loop"], pointer_in(at, "loop"), "option 'say.loop'"))
    _undocumented(out, options, at, "say", "timeout")
    return _build(out, Say, {"text": text}, optional)


def _undocumented(out: Mapped, options: dict[str, Any], at: str, name: str, key: str) -> None:
    if key in options:
        out.notes.append(_note(pointer_in(at, key), f"option '{name}.{key}'", Carry.DROPPED,
                               "what it does is undocumented; not carried over"))


def _playback(out: Mapped, options: dict[str, Any], at: str, defaults: Defaults) -> None:
    out.steps.extend(playback(out, options, pointer_in(at, "options")))


def playback(out: Mapped, options: dict[str, Any], at: str) -> list[PromptStep]:
    """Play steps from playback options (at ``at``), one a file (pauses between them for a
    gap of whole seconds)."""
    media: list[str] = options["media"]
    loop = options.get("loop", 1)
    if not media:
        raise _Native("no media to play")
    if len(media) > 1 and loop != 1:
        raise _Native(f"repeats a list of {len(media)} files: whether Bird repeats each "
                      "file or the whole list is undocumented")
    optional = [("loop", loop, pointer_in(at, "loop"), "option 'playback.loop'")] \
        if "loop" in options else []
    plays: list[PromptStep] = [_build(out, Play, {"url": url}, optional) for url in media]
    gap = options.get("pauseMilliseconds", 0)
    if gap and len(media) > 1 and gap % 1000 == 0:
        pause = _build(out, Pause, {"seconds": gap // 1000}, [])
        plays = [s for play in plays for s in (pause, play)][1:]
    elif gap:
        out.notes.append(_note(
            pointer_in(at, "pauseMilliseconds"), "option 'playback.pauseMilliseconds'",
            Carry.DROPPED, "with one file there is no gap to keep" if len(media) == 1 else
            f"a gap of {gap:g} ms between files: a neutral pause on Bird is whole seconds; "
            "the files play back to back"))
    _undocumented(out, options, at, "playback", "timeout")
    return plays


def _pause(out: Mapped, options: dict[str, Any], at: str, defaults: Defaults) -> None:
    if "length" not in options:
        out.notes.append(_note(at, "command 'pause'", Carry.CHANGED,
                               "no length: read as 1 second (Bird's default is "
                               "undocumented)"))
    out.steps.append(_build(out, Pause, {"seconds": options.get("length", 1)}, []))


def _gather(out: Mapped, options: dict[str, Any], command_at: str, defaults: Defaults
            ) -> None:
    at = pointer_in(command_at, "options")
    prompt: list[PromptStep] = []
    for key, needs in (("say", "text"), ("playback", "media")):
        if key in options and needs not in options[key]:
            out.notes.append(_note(pointer_in(at, key), f"option 'gather.{key}'",
                                   Carry.DROPPED, f"no {needs}, which Bird requires: nothing "
                                                  "to prompt with"))
    if "text" in options.get("say", {}):
        prompt.append(say(out, options["say"], pointer_in(at, "say"), defaults))
    if "media" in options.get("playback", {}):
        prompt += playback(out, options["playback"], pointer_in(at, "playback"))
    if "text" in options.get("say", {}) and "media" in options.get("playback", {}):
        out.notes.append(_note(pointer_in(at, "playback"), "option 'gather.playback'",
                               Carry.CHANGED, "a prompt with both say and playback: read "
                               "as the say, then the playback (Bird's order is "
                               "undocumented)"))
    fields = [("max_digits", "maxNumKeys"), ("timeout", "timeout"),
              ("finish_on_key", "endKey"), ("retries", "retries")]
    gather = _build(out, Gather, {"prompt": prompt, "variable": "keys"}, [
        (name, options[key], pointer_in(at, key), f"option 'gather.{key}'")
        for name, key in fields if key in options])
    out.gather = {name: getattr(gather, name) for name, _ in fields}
    out.gather["prompt"] = prompt
    speech = options.get("input", "dtmf") != "dtmf"
    if speech:
        out.notes.append(_note(pointer_in(at, "input"), "option 'gather.input'",
                               Carry.CHANGED, f"{_shown(options['input'])}: speech input "
                               "is not carried over; the neutral gather takes keys only"))
    if "speechLocale" in options:
        out.notes.append(_note(pointer_in(at, "speechLocale"), "option 'gather.speechLocale'",
                               Carry.DROPPED, "the language of speech input, which is not "
                               "carried over" if speech else "no effect without speech "
                               "input"))


def _record(out: Mapped, options: dict[str, Any], command_at: str, defaults: Defaults
            ) -> None:
    at = pointer_in(command_at, "options")
    if "maxLength" not in options:
        out.notes.append(_note(command_at, "command 'record'", Carry.CHANGED,
                               f"no maxLength: read as {MAX_RECORD:g} s, the longest "
                               "univoice records (Bird's default is undocumented)"))
    optional: list[tuple[str, Any, str, str]] = [
        (name, options[key], pointer_in(at, key), f"option 'record.{key}'")
        for name, key in (("finish_on_key", "endKey"), ("silence_timeout", "timeout"),
                          ("beep", "beep"), ("transcribe", "transcribe")) if key in options]
    transcribe = options.get("transcribe", False)
    locale = options.get("transcribeLocale", DEFAULT_LOCALE)
    if "transcribeLocale" in options and not transcribe:
        out.notes.append(_note(pointer_in(at, "transcribeLocale"),
                               "option 'record.transcribeLocale'", Carry.DROPPED,
                               "no effect without transcribe"))
    elif transcribe and locale != (defaults.language or DEFAULT_LOCALE):
        optional.append(("transcribe_language", locale, pointer_in(at, "transcribeLocale"),
                         "option 'record.transcribeLocale'"))
    out.steps.append(_build(out, Record, {"max_length": options.get("maxLength", MAX_RECORD),
                                          "finish_on_key": None}, optional))


def _bridge(out: Mapped, options: dict[str, Any], command_at: str, defaults: Defaults
            ) -> None:
    at = pointer_in(command_at, "options")
    if "callFlow" in options:
        raise _Native("runs a call flow of its own on the bridged call: no neutral "
                      "equivalent")
    optional = [(name, options[key], pointer_in(at, key), f"option 'bridge.{key}'")
                for name, key in (("caller_id", "from"), ("timeout", "ringTimeout"),
                                  ("record", "record")) if key in options]
    out.steps.append(_build(out, Transfer, {"targets": [options["to"]]}, optional))
    for key, why in _BRIDGE_DROPPED.items():
        if key in options:
            out.notes.append(_note(pointer_in(at, key), f"option 'bridge.{key}'",
                                   Carry.DROPPED, why))
    if options.get("hangupAfterBridge"):
        out.steps.append(Hangup())
        out.notes.append(_note(pointer_in(at, "hangupAfterBridge"),
                               "option 'bridge.hangupAfterBridge'", Carry.CHANGED,
                               "became a hangup after the transfer, which also hangs up "
                               "when nobody answers (what Bird does then is undocumented)"))


def _hangup(out: Mapped, options: dict[str, Any], at: str, defaults: Defaults) -> None:
    out.steps.append(Hangup())


_Reader = Callable[[Mapped, dict[str, Any], str, Defaults], None]
_READERS: dict[str, _Reader] = {
    "say": _say, "playback": _playback, "pause": _pause, "gather": _gather,
    "record": _record, "bridge": _bridge, "hangup": _hangup,
}
_INBOUND = {
    "answer": "answers an inbound call: a neutral flow runs once the call is answered "
              "(univoice's webhook app answers the calls it handles)",
    "ringing": "plays ringing to an inbound call not answered yet: a neutral flow starts "
               "when the call is answered",
}


def send_keys(keys: Any, at: str, notes: list[ImportNote]) -> Step | None:
    """A create-call body's ``sendKeys`` as the flow's first step, if it can be one."""
    try:
        step = SendDigits(digits=keys)
    except FlowValidationError as exc:
        notes.append(_note(at, "field 'sendKeys'", Carry.DROPPED,
                           f"{_shown(keys)}: {_reason(exc)}; left out"))
        return None
    notes.append(_note(at, "field 'sendKeys'", Carry.CHANGED,
                       "became a send_digits step at the start: Bird sends the keys as the "
                       "call connects, a neutral flow once it is answered"))
    return step
