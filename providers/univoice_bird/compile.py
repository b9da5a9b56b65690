"""Neutral flow -> Bird ``callFlow`` commands. Pure: no I/O.

A call flow is at most 20 commands run in order; a command whose ``conditions`` do not
hold is skipped. A menu runs natively: its prompt commands, a ``gather`` (the input
window; the keys land in the variable ``keys``), then each outcome's commands guarded by
conditions on ``keys`` (``eq`` the option's digits; no input: ``eq ""``; invalid: ``neq``
every option and ``""``). Bird cannot pull a call flow from a URL, so what cannot be
expressed that way (re-prompts, free input read later, nested menus, more than 20
commands) needs the webhook app to push the next flow (PATCH) and is refused for now with
``UnsupportedFeature`` naming the step. Mapping: say -> say (text, locale, voice = gender,
loop), play -> playback, pause -> pause, record -> record (a message; flow.record is the
create-call ``record``), transfer -> bridge (to, from, ringTimeout, record), hangup ->
hangup; a flow that runs out of steps ends with an explicit hangup.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from univoice.errors import FlowIssue, FlowValidationError, UnsupportedFeature
from univoice.flow.memo import memo
from univoice.flow.paths import join
from univoice.flow.rules import placeholders
from univoice.flow.speech import fill, spoken
from univoice.flow.steps import (
    Gather,
    Hangup,
    Pause,
    Play,
    PromptStep,
    Record,
    Say,
    Step,
    Transfer,
)

if TYPE_CHECKING:
    from univoice.flow import Flow

MAX_COMMANDS = 20  # Bird runs at most 20 commands per call flow
KEYS = "keys"  # the variable a gather's digits land in
DEFAULT_LOCALE = "en-US"
LOCALES = frozenset((
    "arb", "ar-AE", "ca-ES", "yue-CN", "cmn-CN", "da-DK", "nl-BE", "nl-NL", "en-AU", "en-GB",
    "en-IN", "en-NZ", "en-ZA", "en-US", "en-GB-WLS", "fi-FI", "fr-FR", "fr-CA", "hi-IN",
    "de-DE", "de-AT", "is-IS", "it-IT", "ja-JP", "ko-KR", "nb-NO", "pl-PL", "pt-BR", "pt-PT",
    "ro-RO", "ru-RU", "es-ES", "es-MX", "es-US", "sv-SE", "tr-TR", "cy-GB"))
NEEDS_PUSH = ("it needs the webhook app to push the next call flow (PATCH), which univoice "
              "does not do for Bird yet")


@dataclass
class _Flow:
    commands: list[dict[str, Any]] = field(default_factory=list)

    def add(self, command: str, options: dict[str, Any] | None = None,
            conditions: list[dict[str, str]] | None = None) -> None:
        entry: dict[str, Any] = {"command": command}
        if options:
            entry["options"] = options
        if conditions:
            entry["conditions"] = conditions
        self.commands.append(entry)


def _invalid(path: str, message: str) -> FlowValidationError:
    return FlowValidationError([FlowIssue(path, f"Bird: {message}")])


def _push(feature: str, path: str) -> UnsupportedFeature:
    return UnsupportedFeature(feature, "bird", path=path, detail=NEEDS_PUSH,
                              alternatives=["simulator", "bandwidth", "messagebird"])


def _whole(value: float, path: str, what: str) -> int:
    if value != int(value) or value < 1:
        raise _invalid(path, f"{what} is whole seconds (at least 1), not {value:g}")
    return int(value)


def _say(flow: Flow, say: Say, path: str) -> dict[str, Any]:
    locale = say.language or flow.language or DEFAULT_LOCALE
    if locale not in LOCALES:
        raise _invalid(path, f"no voice speaks {locale!r}; locales: {', '.join(sorted(LOCALES))}")
    if placeholders(say.text):
        raise _push("gather.free_input", path)  # reads a variable: the app must fill it
    text = spoken(fill(say.text, {}))
    if not text:
        raise _invalid(path, "the text has nothing to speak once control characters are "
                             "removed")
    options: dict[str, Any] = {"text": text, "locale": locale}
    gender = say.gender or flow.gender
    if gender is not None:
        options["voice"] = gender
    if say.loop > 1:
        options["loop"] = say.loop
    return options


def _prompt(doc: _Flow, flow: Flow, step: PromptStep, path: str,
            conditions: list[dict[str, str]] | None) -> None:
    if isinstance(step, Say):
        doc.add("say", _say(flow, step, path), conditions)
    elif isinstance(step, Play):
        doc.add("playback", {"media": [step.url], **({"loop": step.loop} if step.loop > 1
                                                      else {})}, conditions)
    else:
        doc.add("pause", {"length": _whole(step.seconds, path, "a pause")}, conditions)


def _menu(doc: _Flow, flow: Flow, gather: Gather, path: str,
          conditions: list[dict[str, str]] | None) -> None:
    if gather.variable is not None:
        raise _push("gather.free_input", path)
    if gather.retries:
        raise _push("gather.retries", path)
    if conditions:
        raise _push("gather.nested_menu", path)
    here = join(path, "gather")
    for index, prompt in enumerate(gather.prompt):
        _prompt(doc, flow, prompt, join(here, "prompt", index), None)
    options: dict[str, Any] = {"maxNumKeys": gather.max_digits,
                               "timeout": _whole(gather.timeout, path, "a gather's timeout")}
    if gather.finish_on_key:
        options["endKey"] = gather.finish_on_key
    doc.add("gather", options)
    menu = gather.options or {}
    if gather.no_input is not None:
        _steps(doc, flow, gather.no_input.steps, join(here, "no_input", "steps"),
               [{"variable": KEYS, "operator": "eq", "value": ""}])
    for digits, branch in menu.items():
        _steps(doc, flow, branch.steps, join(here, "options", digits, "steps"),
               [{"variable": KEYS, "operator": "eq", "value": digits}])
    if gather.invalid is not None:
        _steps(doc, flow, gather.invalid.steps, join(here, "invalid", "steps"),
               [{"variable": KEYS, "operator": "neq", "value": v} for v in ("", *menu)])


def _step(doc: _Flow, flow: Flow, step: Step, path: str,
          conditions: list[dict[str, str]] | None = None) -> bool:
    """Add ``step``; True when the call ends with it (nothing after it runs)."""
    if isinstance(step, (Say, Play, Pause)):
        _prompt(doc, flow, step, path, conditions)
    elif isinstance(step, Gather):
        _menu(doc, flow, step, path, conditions)
    elif isinstance(step, Record):
        options: dict[str, Any] = {"maxLength": _whole(step.max_length, path,
                                                       "a recording's max_length"),
                                   "beep": step.beep}
        if step.silence_timeout is not None:
            options["timeout"] = _whole(step.silence_timeout, path, "a silence timeout")
        if step.finish_on_key:
            options["endKey"] = step.finish_on_key
        if step.transcribe:
            options["transcribe"] = True
            options["transcribeLocale"] = (step.transcribe_language or flow.language
                                           or DEFAULT_LOCALE)
        doc.add("record", options, conditions)
    elif isinstance(step, Transfer):
        if step.no_answer is not None:
            raise _push("transfer.no_answer", path)
        bridge: dict[str, Any] = {"to": step.targets[0],
                                  "ringTimeout": _whole(step.timeout, path, "a ring timeout")}
        if not 3 <= bridge["ringTimeout"] <= 120:
            raise _invalid(path, "a bridge rings for 3 to 120 seconds")
        if step.caller_id:
            bridge["from"] = step.caller_id
        if step.record:
            bridge["record"] = True
        doc.add("bridge", bridge, conditions)
    elif isinstance(step, Hangup):
        doc.add("hangup", None, conditions)
        return True
    else:  # the capabilities refuse the rest before compiling
        raise _invalid(path, f"no command runs {step.kind}")
    return False


def _steps(doc: _Flow, flow: Flow, steps: Iterable[Step], list_path: str,
           conditions: list[dict[str, str]] | None) -> bool:
    for index, step in enumerate(steps):
        if _step(doc, flow, step, join(list_path, index), conditions):
            return True
    return False


def start(flow: Flow) -> list[dict[str, Any]]:
    """The ``callFlow`` a call starts with (at most ``MAX_COMMANDS`` commands). Built once
    per flow object and shared: callers must not change it."""
    kept = memo(flow, "bird.start")
    if "commands" not in kept:
        kept["commands"] = _compile(flow)
    commands: list[dict[str, Any]] = kept["commands"]
    return commands


def _compile(flow: Flow) -> list[dict[str, Any]]:
    doc = _Flow()
    if not _steps(doc, flow, flow.steps, "steps", None):
        doc.add("hangup")
    if len(doc.commands) > MAX_COMMANDS:
        raise UnsupportedFeature("flow.length", "bird", path="steps",
                                 detail=f"it compiles to {len(doc.commands)} commands; Bird "
                                        f"runs {MAX_COMMANDS} per call flow, and {NEEDS_PUSH}",
                                 alternatives=["simulator", "bandwidth", "messagebird"])
    return doc.commands


def check(flow: Flow) -> None:
    """Refuse (naming the step) what Bird cannot run as written."""
    start(flow)
