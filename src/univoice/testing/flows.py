"""hypothesis strategies that generate valid call flows and their written documents.

``flows()`` draws ``Flow`` models that always pass validation and use every step kind
and every option: say (language, gender, voice, loop, reading gathered ``{variables}``),
play, pause, menus with nested branches, ``no_input`` / ``invalid`` branches, retries and
``finish_on_key``, free-input gathers, record (with transcription), transfer (several
E.164 / SIP targets, caller id, recording, ``no_answer``), conference, send_digits,
redirect and hangup, plus the flow-level options (record, machine detection with and
without ``on_machine``, language, gender, voice).

Design choices, so users of the strategies know what they get:

* ``hangup`` and ``redirect`` are drawn only as the last step of a list, and nothing
  follows a menu whose every outcome ends the call, so generated flows have no "never
  runs" warnings (``flow.warnings() == []``): every step can run.
* Variables are tracked as ``univoice.flow.rules`` does: a ``{name}`` is read only where
  every path to it that goes on has passed a free-input gather storing ``name``.
* Phone numbers come from ``PHONE_NUMBERS``, a fixed list that ``phonenumbers`` accepts
  as valid (the unit tests check each one against the installed metadata), so a
  generated flow never fails on a number nobody has assigned.
* ``max_depth`` counts nested branch levels below the top-level steps (at most the
  model's ``MAX_DEPTH``); ``max_steps`` bounds the top-level list, and branch lists get
  shorter the deeper they are so that trees stay small.

``flow_documents()`` draws the document (``dict``) form of such flows, written with the
shorthands a person would use (``- hangup``, ``say: text``, bare branch lists, a lone
prompt string, integer menu keys, ...); ``flows_with_documents()`` draws both, so a test
can check that the document loads back to exactly that flow.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.strategies import SearchStrategy

from univoice.flow import (
    Branch,
    Conference,
    Flow,
    Gather,
    Hangup,
    MachineDetection,
    Pause,
    Play,
    Record,
    Redirect,
    Say,
    SendDigits,
    Step,
    Transfer,
)
from univoice.flow.fields import (
    MAX_DEPTH,
    MAX_DIGITS,
    MAX_GATHER_TIMEOUT,
    MAX_LOOP,
    MAX_PAUSE,
    MAX_RECORD,
    MAX_RING,
    MAX_STEPS,
    MAX_TARGETS,
)
from univoice.flow.rules import placeholders

__all__ = [
    "PHONE_NUMBERS",
    "SIP_URIS",
    "flow_documents",
    "flows",
    "flows_with_documents",
]

#: Numbers ``phonenumbers.is_valid_number`` accepts (checked by the unit tests).
PHONE_NUMBERS: tuple[str, ...] = (
    "+31201234567",
    "+31612345678",
    "+442071838750",
    "+14155552671",
    "+31201234568",
    "+33142685300",
    "+4930123456",
    "+447911123456",
    "+61293744000",
    "+81312345678",
)
#: A few SIP URIs of the shapes providers accept; more are generated.
SIP_URIS: tuple[str, ...] = (
    "sip:agent@example.com",
    "sips:support@pbx.example.org:5061",
    "sip:+31201234567@sip.example.net;transport=tls",
)

KEYS = "0123456789*#"
_TERMINAL = ("hangup", "redirect")
_KINDS = ("say", "play", "pause", "gather", "record", "transfer", "conference",
          "send_digits")  # before any terminal kind; simplest first, so it shrinks there
_SENTENCES = (
    "Welcome to Acme.",
    "For sales, press 1. For support, press 2.",
    "Please leave a message after the tone.",
    "Press {{1}} to hear this again.",  # literal braces, not a variable
    "Goodbye!",
    "Één moment, alstublieft.",
    "電話ありがとうございます。",
    "yes",  # words YAML 1.1 would read as other types
    "null",
    "123",
    "- hangup",
)
_VOICES = ("alice", "Polly.Joanna", "en-US-Wavenet-D", "nl-NL-Standard-A")
_HOSTS = ("example.com", "media.example.org", "cdn.acme.example", "127.0.0.1", "[::1]")

# Leaves --------------------------------------------------------------------------------

_LOWER = string.ascii_lowercase
_ALNUM = string.ascii_letters + string.digits
_WORD = _ALNUM + "_"


def _joined(parts: SearchStrategy[list[str]], sep: str = "") -> SearchStrategy[str]:
    return parts.map(sep.join)


# Plain text strategies below, not st.from_regex: they draw the same strings much faster.
_languages = st.sampled_from(("en-US", "en-GB", "nl-NL", "de", "fr-FR", "es-419",
                              "zh-Hant-TW")) | st.builds(
    lambda primary, subtags: "-".join([primary, *subtags]),
    st.text(_LOWER, min_size=2, max_size=3),
    st.lists(st.text(_ALNUM, min_size=2, max_size=8), max_size=2))
_genders = st.sampled_from(("female", "male"))
_voices = st.sampled_from(_VOICES)
_variable_names = st.sampled_from(("pin", "account", "ticket", "zip_code")) | st.builds(
    str.__add__, st.sampled_from(string.ascii_letters + "_"), st.text(_WORD, max_size=20))
_phone_numbers = st.sampled_from(PHONE_NUMBERS)
_sip_uris = st.sampled_from(SIP_URIS) | st.builds(
    lambda scheme, plus, user, host, params: f"{scheme}:{plus}{user}@{host}{params}",
    st.sampled_from(("sip", "sips")),
    st.sampled_from(("", "+")),
    st.text(_LOWER + string.digits + "._-", min_size=1, max_size=16),
    st.sampled_from(_HOSTS[:3]) | st.builds(
        lambda host, port: f"{host}:{port}", st.sampled_from(_HOSTS[:3]),
        st.integers(1, 65535)),
    st.sampled_from(("", ";transport=tcp", ";transport=tls")),
)
_targets = _phone_numbers | _sip_uris
_urls = st.builds(
    lambda scheme, host, port, path, ext, query: f"{scheme}://{host}{port}/{path}{ext}{query}",
    st.sampled_from(("http", "https")),
    st.sampled_from(_HOSTS),
    st.sampled_from(("", ":8080", ":443")),
    _joined(st.lists(st.text(_WORD + ".-", min_size=1, max_size=12), min_size=1, max_size=3),
            "/"),
    st.sampled_from((".mp3", ".wav", "")),
    st.sampled_from(("", "?v=1", "?a=b&c=%20d")),
)
_conference_names = st.text(_WORD + ".-", min_size=1, max_size=40)
_dtmf = st.text("0123456789*#wW", min_size=1, max_size=20)


def _speakable(text: str) -> bool:
    return bool(text.strip()) and not placeholders(text)


# Any text that is not blank and reads no variable (braces are fine unless they form one).
_texts = st.sampled_from(_SENTENCES) | st.text(min_size=1, max_size=60).filter(_speakable)


@functools.cache
def _seconds(maximum: float) -> SearchStrategy[float]:
    """Durations in (0, maximum]: whole seconds mostly, any positive float sometimes."""
    return st.integers(1, int(maximum)).map(float) | st.floats(
        min_value=0.0, max_value=maximum, exclude_min=True, allow_nan=False)


@functools.cache
def _maybe(strategy: SearchStrategy[Any]) -> SearchStrategy[Any]:
    """A value, or ``None`` meaning "leave the field at its default"."""
    return st.none() | strategy


def _fields(**values: Any) -> dict[str, Any]:
    """Keyword arguments without the ones left at their default (``None``)."""
    return {k: v for k, v in values.items() if v is not None}


def _optional(draw: st.DrawFn, **strategies: SearchStrategy[Any]) -> dict[str, Any]:
    """Optional fields: half the time all left at their defaults (as most steps are
    written), else each one maybe set."""
    if draw(_booleans):
        return {}
    return _fields(**{name: draw(_maybe(strategy)) for name, strategy in strategies.items()})


_booleans = st.booleans()
_loops = st.integers(1, MAX_LOOP)
_keys = st.sampled_from(KEYS)
_methods = st.sampled_from(("GET", "POST"))
_prompt_kinds = st.lists(st.sampled_from(("say", "play", "pause")), max_size=3)
_step_kinds = st.sampled_from(_KINDS)
_ends = st.sampled_from((None, None, *_TERMINAL))
_terminals = st.sampled_from(_TERMINAL)
_quarter = st.integers(0, 3).map(lambda n: n == 0)
_max_digits = st.integers(1, 4) | st.just(MAX_DIGITS)
_retries = st.integers(0, 10)
_record_finish = st.sampled_from(("default", "none", "key"))
_befores = st.sampled_from(("Your number is", "You entered", ""))
_detections = st.sampled_from(("off", "hang up", "on_machine"))
_names = st.sampled_from(_SENTENCES) | st.text(max_size=200)
_branch_forms = st.sampled_from(("list", "mapping", "empty mapping"))
_step_forms = st.sampled_from(("mapping", "scalar", "tagged"))
_targets_lists = st.lists(_targets, min_size=1, max_size=4) | st.lists(
    _targets, min_size=MAX_TARGETS, max_size=MAX_TARGETS)


# Steps ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Shape:
    max_depth: int
    max_steps: int

    def list_size(self, depth: int) -> int:
        """Longest list of steps at ``depth``: the top level gets ``max_steps``."""
        return max(1, self.max_steps // (depth + 1))


def _text(draw: st.DrawFn, defined: frozenset[str]) -> str:
    reads = draw(_booleans)
    if defined and reads:
        name = draw(st.sampled_from(sorted(defined)))
        before = draw(_befores)
        return f"{before} {{{name}}}." if before else f"{{{name}}}"
    return draw(_texts)


def _say(draw: st.DrawFn, defined: frozenset[str]) -> Say:
    return Say(text=_text(draw, defined), **_optional(
        draw, language=_languages, gender=_genders, voice=_voices, loop=_loops))


def _play(draw: st.DrawFn) -> Play:
    return Play(url=draw(_urls), **_optional(draw, loop=_loops))


def _pause(draw: st.DrawFn) -> Pause:
    return Pause(seconds=draw(_seconds(MAX_PAUSE)))


def _prompt(draw: st.DrawFn, defined: frozenset[str]) -> list[Say | Play | Pause]:
    if draw(_booleans):  # most prompts are one thing to say
        return [_say(draw, defined)]
    prompt: list[Say | Play | Pause] = []
    for kind in draw(_prompt_kinds):
        if kind == "say":
            prompt.append(_say(draw, defined))
        elif kind == "play":
            prompt.append(_play(draw))
        else:
            prompt.append(_pause(draw))
    return prompt


class _After(NamedTuple):
    """What the rules know after some steps: the variables set on every path that goes
    on, and whether every path has ended the call (hangup / redirect)."""

    defined: frozenset[str]
    ended: bool = False


def _branch(draw: st.DrawFn, shape: _Shape, depth: int, defined: frozenset[str], *,
            must_end: bool = False) -> tuple[Branch, _After]:
    """A nested list of steps one level below ``depth``, and what is known after it."""
    steps, after = _steps(draw, shape, depth + 1, defined, min_size=0, must_end=must_end)
    return Branch(steps=steps), after


def _gather(draw: st.DrawFn, shape: _Shape, depth: int, defined: frozenset[str]
            ) -> tuple[Gather, _After]:
    can_branch = depth < shape.max_depth
    common = _optional(draw, max_digits=_max_digits, timeout=_seconds(MAX_GATHER_TIMEOUT),
                       finish_on_key=_keys, retries=_retries)
    prompt = _prompt(draw, defined)
    if prompt:
        common["prompt"] = prompt
    if can_branch and draw(_booleans):  # a menu
        finish = common.get("finish_on_key") or ""
        alphabet = "".join(k for k in KEYS if k != finish)
        digits = draw(st.lists(
            st.text(alphabet, min_size=1, max_size=common.get("max_digits", 1)),
            min_size=1, max_size=4, unique=True))
        # A quarter of menus end the call whatever happens (so the flow ends there too).
        closing = draw(_quarter)
        outcomes: list[_After] = []
        options: dict[str, Branch] = {}
        for key in digits:
            options[key], after = _branch(draw, shape, depth, defined, must_end=closing)
            outcomes.append(after)
        for name in ("no_input", "invalid"):
            if closing or draw(_booleans):
                common[name], after = _branch(draw, shape, depth, defined, must_end=closing)
                outcomes.append(after)
            else:
                outcomes.append(_After(defined))  # falls through with nothing new
        gather = Gather(options=options, **common)
        going_on = [o.defined for o in outcomes if not o.ended]
        if not going_on:  # every outcome ends the call: so does the menu
            return gather, _After(defined, ended=True)
        return gather, _After(frozenset.intersection(*going_on))
    variable = draw(_variable_names)
    inner = defined | {variable}  # set on every path (empty when nothing was entered)
    if can_branch and draw(_booleans):
        # The variable is known in its own no_input branch, as the rules say.
        common["no_input"], _ = _branch(draw, shape, depth, inner)
    return Gather(variable=variable, **common), _After(inner)


def _record(draw: st.DrawFn) -> Record:
    fields = _optional(draw, max_length=_seconds(MAX_RECORD), silence_timeout=_seconds(3600),
                       beep=_booleans, transcribe=_booleans)
    if fields.get("transcribe") and draw(_booleans):
        fields["transcribe_language"] = draw(_languages)
    finish = draw(_record_finish)
    if finish == "none":
        fields["finish_on_key"] = None  # no key ends the recording
    elif finish == "key":
        fields["finish_on_key"] = draw(_keys)
    return Record(**fields)


def _transfer(draw: st.DrawFn, shape: _Shape, depth: int, defined: frozenset[str]
              ) -> Transfer:
    fields = _optional(draw, caller_id=_phone_numbers, timeout=_seconds(MAX_RING),
                       record=_booleans)
    if depth < shape.max_depth and draw(_booleans):
        # The flow goes on after a transfer either way, so nothing the branch sets counts.
        fields["no_answer"], _ = _branch(draw, shape, depth, defined)
    targets = draw(_targets_lists)
    return Transfer(targets=targets, **fields)


def _conference(draw: st.DrawFn) -> Conference:
    return Conference(name=draw(_conference_names), **_optional(
        draw, muted=_booleans, start_on_enter=_booleans, end_on_exit=_booleans,
        hold_music=_urls, record=_booleans))


def _step(draw: st.DrawFn, kind: str, shape: _Shape, depth: int, defined: frozenset[str]
          ) -> tuple[Step, _After]:
    if kind == "gather":
        return _gather(draw, shape, depth, defined)
    simple: dict[str, Callable[[], Step]] = {
        "say": lambda: _say(draw, defined),
        "play": lambda: _play(draw),
        "pause": lambda: _pause(draw),
        "record": lambda: _record(draw),
        "transfer": lambda: _transfer(draw, shape, depth, defined),
        "conference": lambda: _conference(draw),
        "send_digits": lambda: SendDigits(digits=draw(_dtmf)),
        "redirect": lambda: Redirect(url=draw(_urls), **_optional(draw, method=_methods)),
        "hangup": Hangup,
    }
    return simple[kind](), _After(defined, ended=kind in _TERMINAL)


def _steps(draw: st.DrawFn, shape: _Shape, depth: int, defined: frozenset[str], *,
           min_size: int, must_end: bool = False) -> tuple[list[Step], _After]:
    """A list of steps at ``depth``, and what is known after it.

    Nothing follows a step that ends the call (hangup, redirect, or a menu whose every
    outcome ends it), so that every generated step can run.
    """
    end = draw(_terminals if must_end else _ends)
    room = shape.list_size(depth) - (end is not None)
    kinds = draw(st.lists(_step_kinds, min_size=min(min_size, room), max_size=room))
    if end is not None:
        kinds.append(end)
    steps: list[Step] = []
    after = _After(defined)
    for kind in kinds:
        step, after = _step(draw, kind, shape, depth, after.defined)
        steps.append(step)
        if after.ended:
            break
    return steps, after


def _check_shape(max_depth: int, max_steps: int) -> _Shape:
    if not 0 <= max_depth <= MAX_DEPTH:
        raise InvalidArgument(f"max_depth={max_depth!r} must be between 0 and {MAX_DEPTH}")
    if not 1 <= max_steps <= MAX_STEPS:
        raise InvalidArgument(f"max_steps={max_steps!r} must be between 1 and {MAX_STEPS}")
    return _Shape(max_depth, max_steps)


@st.composite
def _flows(draw: st.DrawFn, shape: _Shape) -> Flow:
    fields = _fields(
        name=draw(_maybe(_names)),
        description=draw(_maybe(_texts)),
        language=draw(_maybe(_languages)),
        gender=draw(_maybe(_genders)),
        voice=draw(_maybe(_voices)),
        record=draw(_maybe(_booleans)),
    )
    detection = draw(_detections)
    if detection == "hang up":
        fields["machine_detection"] = MachineDetection()
    elif detection == "on_machine" and shape.max_depth >= 1:
        on_machine, _ = _branch(draw, shape, 0, frozenset())
        fields["machine_detection"] = MachineDetection(on_machine=on_machine)
    steps, _ = _steps(draw, shape, 0, frozenset(), min_size=1)
    return Flow(steps=steps, **fields)


def flows(max_depth: int = 3, max_steps: int = 6) -> SearchStrategy[Flow]:
    """Valid ``Flow`` models using every step kind and option.

    ``max_depth`` (0 to ``MAX_DEPTH``) bounds how deep branches nest below the top-level
    steps; ``max_steps`` (at least 1) bounds the length of the top-level list of steps
    (deeper lists are shorter). Generated flows pass validation and have no warnings.
    """
    return _flows(_check_shape(max_depth, max_steps))


# Documents -----------------------------------------------------------------------------

# The field a scalar shorthand fills (`- say: Hello`), as the model reads it.
_SHORTHAND = {
    "say": "text", "play": "url", "pause": "seconds", "transfer": "targets",
    "conference": "name", "send_digits": "digits", "redirect": "url",
}


def _number(draw: st.DrawFn, value: Any) -> Any:
    """A whole float may be written as an int (``timeout: 5``)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value) if draw(_booleans) else value
    return value


def _vary_branch(draw: st.DrawFn, body: Any) -> Any:
    """``{steps: [...]}`` (or ``{}``) as written, or as a bare list of steps."""
    steps = _vary_steps(draw, body.get("steps", []))
    form = draw(_branch_forms)
    if form == "list":
        return steps
    return {} if form == "empty mapping" and not steps else {"steps": steps}


def _vary_steps(draw: st.DrawFn, steps: list[Any]) -> list[Any]:
    return [_vary_step(draw, step) for step in steps]


def _vary_prompt(draw: st.DrawFn, prompt: list[Any]) -> Any:
    if len(prompt) == 1 and _only_text(prompt[0]):
        text = prompt[0]["say"]["text"]
        # A lone prompt needs no list; in a prompt, a string is text to say.
        return draw(st.sampled_from((text, [text], _vary_step(draw, prompt[0]),
                                     [_vary_step(draw, prompt[0])])))
    items = [p["say"]["text"] if _only_text(p) and draw(_booleans) else _vary_step(draw, p)
             for p in prompt]
    if len(items) == 1 and draw(_booleans):
        return items[0]
    return items


def _only_text(step: Any) -> bool:
    """Whether ``step`` is ``{say: {text: ...}}`` and nothing more."""
    return (isinstance(step, dict) and list(step) == ["say"] and isinstance(step["say"], dict)
            and list(step["say"]) == ["text"])


def _vary_body(draw: st.DrawFn, kind: str, body: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in body.items():
        if key in ("no_input", "invalid", "no_answer") and isinstance(value, dict):
            out[key] = _vary_branch(draw, value)
        elif key == "options" and isinstance(value, dict):
            out[key] = {
                (int(digits) if digits.isdigit() and str(int(digits)) == digits
                 and draw(_booleans) else digits): _vary_branch(draw, branch)
                for digits, branch in value.items()
            }
        elif key == "prompt" and isinstance(value, list):
            out[key] = _vary_prompt(draw, value)
        elif key == "targets" and isinstance(value, list) and len(value) == 1:
            out[key] = value[0] if draw(_booleans) else value
        else:
            out[key] = _number(draw, value)
    return out


def _vary_step(draw: st.DrawFn, step: Any) -> Any:
    if isinstance(step, str):  # a step with nothing to say (`- hangup`)
        return draw(st.sampled_from((step, {step: None}, {step: {}}, {"kind": step})))
    (kind, body), = step.items()
    body = _vary_body(draw, kind, body)
    form = draw(_step_forms)
    field = _SHORTHAND.get(kind)
    if form == "scalar" and field is not None and list(body) == [field]:
        return {kind: body[field]}  # `- say: Hello`, `- transfer: "+3120..."`
    if form == "tagged":
        return {"kind": kind, **body}  # the model's own form, as the builder writes it
    return {kind: body}


@st.composite
def _flows_with_documents(draw: st.DrawFn, shape: _Shape) -> tuple[Flow, dict[str, Any]]:
    flow = draw(_flows(shape))
    doc = flow.to_dict()
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if key == "steps":
            out[key] = _vary_steps(draw, value)
        elif key == "machine_detection":
            if value == {} and draw(_booleans):
                out[key] = True  # `machine_detection: true`
            elif "on_machine" in value:
                out[key] = {"on_machine": _vary_branch(draw, value["on_machine"])}
            else:
                out[key] = value
        else:
            out[key] = value
    return flow, out


def flows_with_documents(max_depth: int = 3, max_steps: int = 6
                         ) -> SearchStrategy[tuple[Flow, dict[str, Any]]]:
    """Pairs of a valid flow (as ``flows()``) and a document, with shorthands, that loads
    back to exactly that flow."""
    return _flows_with_documents(_check_shape(max_depth, max_steps))


def flow_documents(max_depth: int = 3, max_steps: int = 6) -> SearchStrategy[dict[str, Any]]:
    """Documents (``dict``) of valid flows: ``flow.to_dict()`` written with the accepted
    shorthands mixed in at random: ``- hangup`` (or ``{hangup: null}``, ``{hangup: {}}``),
    ``say: text`` and the other scalar shorthands, a single transfer target as a string,
    branches as bare lists, a prompt as one string / one step / strings in a list, integer
    menu keys, whole numbers as ints, ``machine_detection: true``, and steps in the
    model's tagged form (``{kind: say, text: ...}``)."""
    return flows_with_documents(max_depth, max_steps).map(lambda pair: pair[1])
