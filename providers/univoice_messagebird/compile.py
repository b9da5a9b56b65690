"""Neutral flow -> MessageBird call-flow JSON. Pure: no I/O (the webhook app serves the
continuations this makes).

A call flow is a list of steps (``{"id", "action", "options"}``) run in order; keys are
heard only by steps carrying ``onKeypressGoto``/``onKeypressVar`` and jump to the step with
that id. A neutral gather becomes its prompt steps and a ``pause`` input window (its
``timeout``), all listening, then a ``fetchCallFlow`` to the app for the no-key case; the
step the keys jump to is a ``fetchCallFlow`` that hands the digits (``variables``) to the
app, which decides the menu, re-prompts and retries as the simulator does and answers with
the next call flow. Everything before the first gather runs inline; a flow without one
never needs the app. Mapping: say -> say (payload, language, voice = gender, repeat <= 10
per step), play -> play (media), pause -> pause (whole seconds), record -> record,
flow.record -> the flow's ``record``, transfer -> transfer (destination without '+',
``record: both``), redirect -> fetchCallFlow (the user's URL serves call-flow JSON),
hangup -> hangup; every flow ends with an explicit hangup.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from univoice.errors import FlowIssue, FlowValidationError
from univoice.flow.memo import memo
from univoice.flow.paths import join
from univoice.flow.positions import Entry, Positions, Reprompt
from univoice.flow.speech import fill, spoken
from univoice.flow.steps import (
    Gather,
    Hangup,
    Native,
    Pause,
    Play,
    PromptStep,
    Record,
    Redirect,
    Say,
    Step,
    Transfer,
)

if TYPE_CHECKING:
    from univoice.flow import Flow

MEDIA_TYPE = "application/json"
MAX_REPEAT = 10
KEYS_VARIABLE = "digits"  # the variable a gather's keys are stored in
# Say languages (MB-GO voice/callflow.go; "see the online docs for the current list").
LANGUAGES = ("cy-GB", "da-DK", "de-DE", "en-AU", "en-GB", "en-GB-WLS", "en-IN", "en-US",
             "es-ES", "es-US", "fr-CA", "fr-FR", "is-IS", "it-IT", "ja-JP", "nb-NO",
             "nl-NL", "pl-PL", "pt-BR", "pt-PT", "ro-RO", "ru-RU", "sv-SE", "tr-TR")
# Record's transcribeLanguage values; MessageBird writes British English "en-UK".
TRANSCRIBE = {"de-DE": "de-DE", "en-AU": "en-AU", "en-GB": "en-UK", "en-US": "en-US",
              "es-ES": "es-ES", "es-419": "es-LA", "fr-FR": "fr-FR", "it-IT": "it-IT",
              "nl-NL": "nl-NL", "pt-BR": "pt-BR"}
FINISH_KEYS = ("#", "*")  # besides "any" and "none", the keys a record step can end on
DEFAULT_LANGUAGE = "en-US"


@dataclass(frozen=True)
class Links:
    """Where ``fetchCallFlow`` steps send MessageBird: the prefix of the stored flow's node
    URLs (``https://app.example/univoice/messagebird/flow/{id}/``). With ``key`` (the
    signing key) each URL carries a token over its flow, node and our parameters: a
    ``fetchCallFlow`` request need not be signed by MessageBird to be trusted."""

    flow: str = ""
    key: str | None = field(default=None, repr=False)

    def node(self, path: str, **query: str | int) -> str:
        return _node(self, path, tuple((k, str(v)) for k, v in query.items()))


@lru_cache(maxsize=4096)
def _node(links: Links, path: str, query: tuple[tuple[str, str], ...]) -> str:
    # The same flow's URLs recur on every call it serves: each is built (and signed) once.
    url = links.flow + quote(path, safe=".")
    params = dict(query)
    if links.key is not None:
        flow_id = links.flow.rstrip("/").rsplit("/", 1)[-1]
        params["token"] = url_token(links.key, flow_id, path, params)
    return f"{url}?{_query(params)}" if params else url


def _query(params: Mapping[str, str]) -> str:
    # Our values are words, numbers and hex tokens: encode only when one is not.
    return "&".join(f"{k}={v}" if v.isalnum() else f"{k}={quote(v, safe='')}"
                    for k, v in params.items())


def url_token(key: str, flow_id: str, node: str, params: Mapping[str, str]) -> str:
    """The token a continuation URL carries (HMAC-SHA256 of what it names)."""
    mine = "&".join(f"{k}={params[k]}" for k in sorted(params)
                    if k in ("on", "attempt", "input"))
    message = f"{flow_id}\n{node}\n{mine}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()[:40]


@dataclass
class _Flow:
    """One call flow being built; step ids count up so they are stable and unique."""

    links: Links
    variables: Mapping[str, str]
    steps: list[dict[str, Any]] = field(default_factory=list)

    def add(self, action: str, options: dict[str, Any] | None = None,
            **extra: Any) -> dict[str, Any]:
        step = {"id": f"s{len(self.steps)}", "action": action, **extra}
        if options:
            step["options"] = options
        self.steps.append(step)
        return step


def _invalid(path: str, message: str) -> FlowValidationError:
    return FlowValidationError([FlowIssue(path, f"MessageBird: {message}")])


def _seconds(value: float, path: str, what: str, low: int = 1) -> int:
    if value != int(value) or value < low:
        raise _invalid(path, f"{what} is whole seconds (at least {low}), not {value:g}")
    return int(value)


def number(target: str) -> str:
    """MessageBird writes numbers without the '+' (SIP URIs as they are)."""
    return target[1:] if target.startswith("+") else target


# Steps ----------------------------------------------------------------------------------


def _say(doc: _Flow, flow: Flow, say: Say, path: str, listen: dict[str, Any]) -> None:
    language = say.language or flow.language or DEFAULT_LANGUAGE
    if language not in LANGUAGES:
        raise _invalid(path, f"no voice speaks {language!r}; languages: {', '.join(LANGUAGES)}")
    text = spoken(fill(say.text, doc.variables))
    if not text:
        if not spoken(fill(say.text, _EVERY_VARIABLE)):
            raise _invalid(path, "the text has nothing to speak once control characters "
                                 "are removed")
        return
    options: dict[str, Any] = {"payload": text, "language": language}
    gender = say.gender or flow.gender
    if gender is not None:
        options["voice"] = gender
    left = say.loop
    while left > 0:
        repeat = min(left, MAX_REPEAT)
        doc.add("say", {**options, **({"repeat": repeat} if repeat > 1 else {})}, **listen)
        left -= repeat


def _prompt(doc: _Flow, flow: Flow, step: PromptStep, path: str,
            listen: dict[str, Any] | None = None) -> None:
    listen = listen or {}
    if isinstance(step, Say):
        _say(doc, flow, step, path, listen)
    elif isinstance(step, Play):
        doc.add("play", {"media": step.url}, **listen)
    else:
        doc.add("pause", {"length": _seconds(step.seconds, path, "a pause")}, **listen)


def _gather(doc: _Flow, flow: Flow, gather: Gather, path: str, attempt: int) -> None:
    """Prompts and an input window that listen for keys; the keys (or their absence) go
    to the app, which answers with what follows."""
    window = _seconds(gather.timeout, path, "a gather's timeout")
    decide = f"s{len(doc.steps)}-keys"
    listen: dict[str, Any] = {"onKeypressGoto": decide, "onKeypressVar": KEYS_VARIABLE,
                              "maxNumKeys": gather.max_digits}
    if gather.finish_on_key:
        listen["endKey"] = gather.finish_on_key
    for index, prompt in enumerate(gather.prompt):
        _prompt(doc, flow, prompt, join(path, "gather", "prompt", index), listen)
    doc.add("pause", {"length": window}, **listen)
    # No key in the window: the call flow goes on to this fetch. Variables live as long
    # as the call, so a stale value of an earlier gather must not be read as this one's.
    doc.add("fetchCallFlow", {"url": doc.links.node(path, on="gather", attempt=attempt,
                                                    input="none")})
    doc.steps.append({"id": decide, "action": "fetchCallFlow", "options": {
        "url": doc.links.node(path, on="gather", attempt=attempt)}})


def inline(gather: Gather) -> bool:
    """Whether a menu runs natively: one attempt (no re-prompt loop), no free input (say
    cannot read variables), and no gather inside its branches."""
    if gather.options is None or gather.retries or gather.variable is not None:
        return False
    branches = [*gather.options.values(), gather.no_input, gather.invalid]
    return not any(isinstance(step, Gather) for branch in branches if branch is not None
                   for step in branch.steps)


def _menu(doc: _Flow, flow: Flow, gather: Gather, path: str) -> None:
    """A menu MessageBird runs by itself: the keys jump to the outcome steps, each step
    guarded by ``conditions`` on the gather's own variable; no key falls through to the
    same steps (the no-input ones hold when the variable is empty, as they do when only
    the end key was pressed). Then the flow goes on (every guarded step is skipped)."""
    window = _seconds(gather.timeout, path, "a gather's timeout")
    # Its own variable, named after the gather's place in the flow: variables live as
    # long as the call, so another gather's value must never be read as this one's.
    variable = f"{KEYS_VARIABLE}_{hashlib.sha256(path.encode()).hexdigest()[:10]}"
    jump = f"s{len(doc.steps)}-keys"
    listen: dict[str, Any] = {"onKeypressGoto": jump, "onKeypressVar": variable,
                              "maxNumKeys": gather.max_digits}
    if gather.finish_on_key:
        listen["endKey"] = gather.finish_on_key
    here = join(path, "gather")
    for index, prompt in enumerate(gather.prompt):
        _prompt(doc, flow, prompt, join(here, "prompt", index), listen)
    doc.add("pause", {"length": window}, **listen)
    first = len(doc.steps)
    if gather.no_input is not None:
        _guarded(doc, flow, gather.no_input.steps, join(here, "no_input"),
                 [{"variable": variable, "operator": "==", "value": ""}])
    assert gather.options is not None
    for digits, branch in gather.options.items():
        _guarded(doc, flow, branch.steps, join(here, "options", digits),
                 [{"variable": variable, "operator": "==", "value": digits}])
    if gather.invalid is not None:
        _guarded(doc, flow, gather.invalid.steps, join(here, "invalid"),
                 [{"variable": variable, "operator": "!=", "value": value}
                  for value in ("", *gather.options)])
    if first == len(doc.steps):
        # No outcome has a step: the keys jump to a step that never runs (its condition
        # cannot hold), and the flow goes on after it, as it does after any choice.
        doc.add("pause", {"length": 0}, conditions=[
            {"variable": variable, "operator": "==", "value": "\u0000"}])
    doc.steps[first]["id"] = jump


def _guarded(doc: _Flow, flow: Flow, steps: Iterable[Step], branch: str,
             conditions: list[dict[str, str]]) -> None:
    """A branch's steps, each run only when ``conditions`` hold (none: always)."""
    for index, step in enumerate(steps):
        start = len(doc.steps)
        ended = _step(doc, flow, step, join(branch, "steps", index))
        if conditions:
            for added in doc.steps[start:]:
                own = added.get("conditions")  # a native step's own, kept
                added["conditions"] = conditions + (
                    own if isinstance(own, list) else [own] if own else [])
        if ended:
            return


def _record(doc: _Flow, flow: Flow, record: Record, path: str) -> None:
    options: dict[str, Any] = {"maxLength": _seconds(record.max_length, path,
                                                     "a recording's max_length")}
    if record.silence_timeout is not None:
        options["timeout"] = _seconds(record.silence_timeout, path, "a silence timeout")
    key = record.finish_on_key
    if key is not None and key not in FINISH_KEYS:
        raise _invalid(path, f"a recording ends on # or * only, not {key!r}")
    options["finishOnKey"] = key or "none"
    if record.transcribe:
        language = record.transcribe_language or flow.language or DEFAULT_LANGUAGE
        if language not in TRANSCRIBE:
            raise _invalid(path, f"no transcription in {language!r}; languages: "
                                 f"{', '.join(TRANSCRIBE)}")
        options["transcribe"] = True
        options["transcribeLanguage"] = TRANSCRIBE[language]
    doc.add("record", options)


def _transfer(doc: _Flow, transfer: Transfer, path: str) -> None:
    if transfer.timeout != 30.0:
        raise _invalid(path, "a transfer rings for MessageBird's own time; its timeout "
                             "cannot be set")
    options: dict[str, Any] = {"destination": number(transfer.targets[0])}
    if transfer.record:
        options["record"] = "both"
    doc.add("transfer", options)


def _step(doc: _Flow, flow: Flow, step: Step, path: str, attempt: int = 1) -> bool:
    """Add ``step``; True when control leaves the call flow with it."""
    match step:
        case Say() | Play() | Pause():
            _prompt(doc, flow, step, path)
        case Gather() if inline(step):
            _menu(doc, flow, step, path)
        case Gather():
            _gather(doc, flow, step, path, attempt)
            return True
        case Record():
            _record(doc, flow, step, path)
        case Transfer():
            _transfer(doc, step, path)
        case Redirect():
            doc.add("fetchCallFlow", {"url": step.url})
            return True
        case Hangup():
            doc.add("hangup")
            return True
        case Native() if step.provider == "messagebird":
            _native(doc, step, path)
        case _:  # capabilities refuse the rest before compiling
            raise _invalid(path, f"no step runs {step.kind}")
    return False


_OUR_IDS = re.compile(r"s[0-9]+(-keys)?")


def _native(doc: _Flow, native: Native, path: str) -> None:
    """A call-flow step kept by the importer, as written: its id too (a keypress may jump
    to it), unless it has none. Never ends the flow: steps after it may be jump targets."""
    if not isinstance(native.document, dict):
        raise _invalid(path, "a native step is a call-flow step (a JSON object), not text")
    step = dict(native.document)
    ident = step.get("id")
    if isinstance(ident, str) and _OUR_IDS.fullmatch(ident):
        raise _invalid(path, f"step id {ident!r} has the form univoice gives its own "
                             "steps; rename it")
    doc.steps.append(step if "id" in step else {"id": f"s{len(doc.steps)}", **step})


# Documents ------------------------------------------------------------------------------


def render(flow: Flow, entries: Iterable[Entry], links: Links,
           variables: Mapping[str, str] | None = None, *, record_call: bool = False
           ) -> dict[str, Any]:
    """The call flow running ``entries`` until control leaves it (then an explicit
    hangup when the steps simply run out)."""
    doc = _Flow(links, variables or {})
    ended = False
    for path, step in entries:
        if _step(doc, flow, step, path):
            ended = True
            break
    if not ended:
        doc.add("hangup")
    out: dict[str, Any] = {"steps": doc.steps}
    if flow.name:
        out = {"title": flow.name[:100], **out}
    if record_call:
        out["record"] = True
    return out


def start(flow: Flow, links: Links) -> dict[str, Any]:
    """The call flow a call starts with: ``{"title"?, "record"?, "steps": [...]}``.

    Built once per flow object and ``links`` (it reads no call's variables) and shared:
    callers must not change it."""
    kept = memo(flow, "messagebird.start")
    document: dict[str, Any] | None = kept.get(links)
    if document is None:
        document = kept[links] = render(flow, Positions(flow).start(), links,
                                        record_call=flow.record)
    return document


def gather_again(flow: Flow, path: str, links: Links, again: Reprompt,
                 variables: Mapping[str, str]) -> dict[str, Any]:
    step = Positions(flow).step(path)
    if not isinstance(step, Gather):
        raise KeyError(path)
    doc = _Flow(links, variables)
    _gather(doc, flow, step, path, again.attempt)
    return {"steps": doc.steps}


def needs_app(flow: Flow) -> bool:
    """Whether the flow continues through the webhook app (a gather it cannot run
    inline: free input, re-prompts, nested menus)."""
    return any(isinstance(step, Gather) and not inline(step) for _, step in flow.walk())


def check(flow: Flow) -> None:
    """Raise ``FlowValidationError`` for every step MessageBird cannot run as written."""
    doc = _Flow(Links(), {})
    issues: list[FlowIssue] = []
    for path, step in flow.walk():
        try:
            _step(doc, flow, step, path)
        except FlowValidationError as exc:
            issues.extend(exc.issues)
        doc.steps.clear()
    if issues:
        raise FlowValidationError(issues)


class _Filled(dict[str, str]):
    def get(self, key: str, default: str | None = None) -> str:  # type: ignore[override]
        return "0"


_EVERY_VARIABLE = _Filled()  # reads every variable as set, to tell static text apart
