"""Neutral flow -> Bird ``callFlow`` commands. Pure: no I/O.

A call flow is at most 20 commands run in order; a command whose ``conditions`` do not
hold is skipped. Mapping: say -> say (text, locale, voice = gender, loop), play ->
playback, pause -> pause, record -> record (a message; flow.record is the create-call
``record``), transfer -> bridge (to, from, ringTimeout, record), hangup -> hangup, a
native step (kept by ``univoice convert``) -> its command as written; a flow that runs out
of steps ends with an explicit hangup.

Two ways to run a flow, chosen per flow (``hosted``):

- **Native**: the whole flow is one call flow. A menu is its prompt commands, a ``gather``
  (the keys land in the variable ``keys``), then each outcome's commands guarded by
  conditions on ``keys`` (``eq`` the option's digits; no input: ``eq ""``; invalid:
  ``neq`` every option and ``""``).
- **Hosted** (re-prompts, free input read later, nested menus, more than 20 commands):
  Bird pulls no call flow from a URL, so the webhook app pushes each part (``segment``):
  the steps up to the next gather, that gather, then a ``pause`` of ``HOLD_SECONDS`` and a
  hangup. The app reads the keys from Bird's callback and PATCHes the call with the next
  segment (see ``univoice_bird.push``), which replaces the waiting one; if no push comes
  the call ends after the hold rather than hanging on.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from univoice.errors import FlowIssue, FlowValidationError, UnsupportedFeature
from univoice.flow.memo import memo
from univoice.flow.paths import join
from univoice.flow.positions import Positions, Reprompt
from univoice.flow.rules import placeholders
from univoice.flow.speech import fill, spoken
from univoice.flow.steps import (
    Gather,
    Hangup,
    Native,
    Pause,
    Play,
    PromptStep,
    Record,
    Say,
    Step,
    Transfer,
)
from univoice.flow.walk import walk

if TYPE_CHECKING:
    from univoice.flow import Flow
    from univoice.flow.positions import Run

MAX_COMMANDS = 20  # Bird runs at most 20 commands per call flow
KEYS = "keys"  # the variable a gather's digits land in
DEFAULT_LOCALE = "en-US"
LOCALES = frozenset((
    "arb", "ar-AE", "ca-ES", "yue-CN", "cmn-CN", "da-DK", "nl-BE", "nl-NL", "en-AU", "en-GB",
    "en-IN", "en-NZ", "en-ZA", "en-US", "en-GB-WLS", "fi-FI", "fr-FR", "fr-CA", "hi-IN",
    "de-DE", "de-AT", "is-IS", "it-IT", "ja-JP", "ko-KR", "nb-NO", "pl-PL", "pt-BR", "pt-PT",
    "ro-RO", "ru-RU", "es-ES", "es-MX", "es-US", "sv-SE", "tr-TR", "cy-GB"))
HOLD_SECONDS = 15  # how long a hosted call waits for its next segment after a gather
NEEDS_APP = ("the webhook app pushes the call's next call flow (PATCH) after each gather: "
             "set public_url and flow_store, and serve the app")


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


class _NeedsApp(Exception):
    """Native mode cannot say this step: the flow is hosted (see the module docstring)."""


def _whole(value: float, path: str, what: str) -> int:
    if value != int(value) or value < 1:
        raise _invalid(path, f"{what} is whole seconds (at least 1), not {value:g}")
    return int(value)


Variables = Mapping[str, str] | None  # a hosted call's gathered values; None: native


def _say(flow: Flow, say: Say, path: str, variables: Variables) -> dict[str, Any] | None:
    """A say command's options; None when a filled-in text leaves nothing to say."""
    locale = say.language or flow.language or DEFAULT_LOCALE
    if locale not in LOCALES:
        raise _invalid(path, f"no voice speaks {locale!r}; locales: {', '.join(sorted(LOCALES))}")
    if variables is None and placeholders(say.text):
        raise _NeedsApp  # reads a variable: the app fills it in
    text = spoken(fill(say.text, variables or {}))
    if not text:
        if variables is not None and placeholders(say.text):
            return None  # only empty variables to say
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
            conditions: list[dict[str, str]] | None, variables: Variables = None) -> None:
    if isinstance(step, Say):
        options = _say(flow, step, path, variables)
        if options is not None:
            doc.add("say", options, conditions)
    elif isinstance(step, Play):
        doc.add("playback", {"media": [step.url], **({"loop": step.loop} if step.loop > 1
                                                      else {})}, conditions)
    else:
        doc.add("pause", {"length": _whole(step.seconds, path, "a pause")}, conditions)


def _gather(doc: _Flow, flow: Flow, gather: Gather, path: str,
            variables: Variables) -> None:
    """A gather's prompt commands and the ``gather`` command itself."""
    here = join(path, "gather")
    for index, prompt in enumerate(gather.prompt):
        _prompt(doc, flow, prompt, join(here, "prompt", index), None, variables)
    options: dict[str, Any] = {"maxNumKeys": gather.max_digits,
                               "timeout": _whole(gather.timeout, path, "a gather's timeout")}
    if gather.finish_on_key:
        options["endKey"] = gather.finish_on_key
    doc.add("gather", options)


def _menu(doc: _Flow, flow: Flow, gather: Gather, path: str,
          conditions: list[dict[str, str]] | None) -> None:
    if gather.variable is not None or gather.retries or conditions:
        raise _NeedsApp  # free input, re-prompts, a menu in a branch
    here = join(path, "gather")
    _gather(doc, flow, gather, path, None)
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
          conditions: list[dict[str, str]] | None = None, variables: Variables = None) -> bool:
    """Add ``step`` (not a hosted gather); True when the call ends with it."""
    if isinstance(step, (Say, Play, Pause)):
        _prompt(doc, flow, step, path, conditions, variables)
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
        if step.no_answer is not None:  # the capabilities refuse it before compiling
            raise _invalid(path, "a bridge cannot tell an unanswered transfer apart")
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
    elif isinstance(step, Native):
        doc.commands.append(_native_command(step, path, conditions))
    else:  # the capabilities refuse the rest before compiling
        raise _invalid(path, f"no command runs {step.kind}")
    return False


def _native_command(step: Native, path: str, conditions: list[dict[str, str]] | None
                    ) -> dict[str, Any]:
    """A native step (kept by the importer): its command as written, also guarded by the
    menu branch holding it (its own conditions and the branch's must all hold)."""
    document = step.document
    if (step.provider != "bird" or not isinstance(document, dict)
            or not isinstance(document.get("command"), str)):
        raise _invalid(path, "a native Bird step is one command object: {\"command\": ..., "
                             "\"options\": {...}}")
    command = copy.deepcopy(document)
    if conditions:
        own = command.get("conditions") or []
        if not isinstance(own, list):
            raise _invalid(path, "a native command's conditions are a list")
        command["conditions"] = [*own, *conditions]
    return command


def _steps(doc: _Flow, flow: Flow, steps: Iterable[Step], list_path: str,
           conditions: list[dict[str, str]] | None) -> bool:
    for index, step in enumerate(steps):
        if _step(doc, flow, step, join(list_path, index), conditions):
            return True
    return False


@dataclass(frozen=True)
class Segment:
    """One pushed call flow of a hosted call: its commands, and the gather (path,
    attempt) whose keys the app waits for at its end (None: the call ends in it)."""

    commands: list[dict[str, Any]]
    waits_at: tuple[str, int] | None


def hosted(flow: Flow) -> bool:
    """Whether calls running ``flow`` need the webhook app (see the module docstring)."""
    return _start(flow)[1] is not None


def start(flow: Flow) -> list[dict[str, Any]]:
    """The ``callFlow`` a call starts with (at most ``MAX_COMMANDS`` commands). Built once
    per flow object and shared: callers must not change it."""
    return _start(flow)[0].commands


def start_segment(flow: Flow) -> Segment:
    """The first call flow of a call: the whole flow, or its first hosted segment."""
    return _start(flow)[0]


def _start(flow: Flow) -> tuple[Segment, Segment | None]:
    """(first call flow, the same if hosted else None), memoized per flow object."""
    kept = memo(flow, "bird.start")
    if "start" not in kept:
        try:
            kept["start"] = (Segment(_native(flow), None), None)
        except _NeedsApp:
            first = segment(flow, Positions(flow).start(), {})
            kept["start"] = (first, first)
    found: tuple[Segment, Segment | None] = kept["start"]
    return found


def _native(flow: Flow) -> list[dict[str, Any]]:
    doc = _Flow()
    if not _steps(doc, flow, flow.steps, "steps", None):
        doc.add("hangup")
    if len(doc.commands) > MAX_COMMANDS:
        raise _NeedsApp
    return doc.commands


def segment(flow: Flow, run: Run, variables: Mapping[str, str], *, reserve: int = 0
            ) -> Segment:
    """The call flow that runs ``run`` up to and including its next gather, then holds
    (hosted mode), in at most ``MAX_COMMANDS - reserve`` commands. Say texts are filled in
    with ``variables``."""
    doc, waits_at = _Flow(), None
    ended = False
    for path, step in run:
        if isinstance(step, Gather):
            _gather(doc, flow, step, path, variables)
            doc.add("pause", {"length": HOLD_SECONDS})
            waits_at = (path, 1)
            break
        if _step(doc, flow, step, path, None, variables):
            ended = True
            break
    if waits_at is not None or not ended:
        doc.add("hangup")
    _fits(doc, run.start or "steps", reserve)
    return Segment(doc.commands, waits_at)


def reprompt(flow: Flow, path: str, attempt: int, variables: Mapping[str, str]) -> Segment:
    """The call flow of attempt ``attempt`` of the gather at ``path`` (hosted mode)."""
    gather = Positions(flow).step(path)
    if not isinstance(gather, Gather):
        raise _invalid(path, "no gather here to prompt again")
    doc = _Flow()
    _gather(doc, flow, gather, path, variables)
    doc.add("pause", {"length": HOLD_SECONDS})
    doc.add("hangup")
    _fits(doc, path)
    return Segment(doc.commands, (path, attempt))


def _fits(doc: _Flow, path: str, reserve: int = 0) -> None:
    if len(doc.commands) > MAX_COMMANDS - reserve:
        raise UnsupportedFeature(
            "flow.length", "bird", path=path,
            detail=f"the steps from here to the next gather compile to {len(doc.commands)} "
                   f"commands; Bird runs {MAX_COMMANDS - reserve} per call flow here",
            alternatives=["simulator", "bandwidth", "messagebird"])


def check(flow: Flow) -> None:
    """Refuse (naming the step) what Bird cannot run as written. A hosted flow is checked
    segment by segment: every gather's outcomes and re-prompts."""
    _, first = _start(flow)
    if first is None:
        return
    positions = Positions(flow)
    for path, step in walk(flow):
        if isinstance(step, Gather):
            reprompt(flow, path, 1, {})
            for key in [*(step.options or {}), "", "x"]:  # each option, none, an invalid key
                for attempt in {1, 1 + step.retries}:
                    outcome, _ = positions.after_gather(path, attempt, key)
                    if not isinstance(outcome, Reprompt):
                        segment(flow, outcome, {})
