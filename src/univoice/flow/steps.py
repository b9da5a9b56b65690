"""The neutral call-flow model: steps, branches and the flow that holds them.

A step is written externally tagged, as in YAML (``- say: {text: Hi}``), and held as a
model with a ``kind`` tag. Branches are nested lists of steps, so a menu reads like the
IVR it describes. Rules that look across steps live in ``rules.py``; this module checks
each field on its own.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    SerializerFunctionWrapHandler,
    WrapSerializer,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from univoice.errors import FlowValidationError, InvalidInput
from univoice.flow.fields import (
    MAX_DIGITS,
    MAX_STEPS,
    MAX_TARGETS,
    Dtmf,
    GatherTimeout,
    Gender,
    HttpMethod,
    HttpUrl,
    Key,
    Keys,
    Language,
    Loop,
    Name,
    PauseSeconds,
    PhoneNumber,
    RecordSeconds,
    RingSeconds,
    Target,
    Text,
    VariableName,
    shown,
)
from univoice.validated import Validated


class FlowModel(Validated):
    """Base of the flow models: their errors are ``FlowValidationError``."""

    error_class: ClassVar[type[InvalidInput]] = FlowValidationError


# Steps --------------------------------------------------------------------------------


class Say(FlowModel):
    """Speak text with text-to-speech. ``{name}`` in the text reads a gathered variable."""

    _path_prefix: ClassVar[str] = "say"
    kind: Literal["say"] = "say"
    text: Text
    language: Language | None = None
    gender: Gender | None = None
    voice: str | None = Field(None, min_length=1, description="A provider's voice name.")
    loop: Loop = 1


class Play(FlowModel):
    """Play an audio file from an http(s) URL."""

    _path_prefix: ClassVar[str] = "play"
    kind: Literal["play"] = "play"
    url: HttpUrl
    loop: Loop = 1


class Pause(FlowModel):
    """Stay silent for a while."""

    _path_prefix: ClassVar[str] = "pause"
    kind: Literal["pause"] = "pause"
    seconds: PauseSeconds


class Gather(FlowModel):
    """Collect keypresses: a menu (``options``) or free input stored in ``variable``.

    Attempts: the prompt plays, then the caller has ``timeout`` seconds. No input or a key
    sequence that matches no option counts as a failed attempt; after ``retries`` failed
    attempts have been re-prompted, the ``no_input`` or ``invalid`` branch runs (or, if it
    is absent, the flow goes on after the gather). A chosen branch runs, then the flow goes
    on after the gather.
    """

    _path_prefix: ClassVar[str] = "gather"
    kind: Literal["gather"] = "gather"
    prompt: tuple[PromptStep, ...] = Field(default=(), max_length=MAX_STEPS)
    max_digits: int = Field(1, ge=1, le=MAX_DIGITS)
    timeout: GatherTimeout = 5.0
    finish_on_key: Key | None = None
    options: Menu | None = None
    variable: VariableName | None = None
    no_input: Branch | None = None
    invalid: Branch | None = None
    retries: int = Field(0, ge=0, le=10)

    @field_validator("prompt", mode="before")
    @classmethod
    def _one_prompt(cls, value: Any) -> Any:
        # A lone prompt may be written without a list; in a prompt, a string is text to say.
        if isinstance(value, (str, dict)):
            value = [value]
        if isinstance(value, (list, tuple)):
            return [{"kind": "say", "text": v} if isinstance(v, str) else v for v in value]
        return value

    @field_validator("options", mode="before")
    @classmethod
    def _digit_keys(cls, value: Any) -> Any:
        # YAML reads an unquoted `1:` as the integer 1; a menu key is the string typed.
        if not isinstance(value, dict):
            return value
        keys: dict[str, Any] = {}
        for key, branch in value.items():
            text = str(key) if isinstance(key, int) and not isinstance(key, bool) else key
            if not isinstance(text, str):
                raise PydanticCustomError("menu_key", "menu keys must be digit strings like '1'")
            if text in keys:
                raise PydanticCustomError(
                    "duplicate_key", "digit '{key}' appears twice in the menu", {"key": shown(text)}
                )
            keys[text] = branch
        return keys


class Record(FlowModel):
    """Record the caller (a voicemail), optionally transcribed."""

    _path_prefix: ClassVar[str] = "record"
    kind: Literal["record"] = "record"
    max_length: RecordSeconds = 60.0
    silence_timeout: float | None = Field(None, gt=0, le=3600)
    finish_on_key: Key | None = "#"
    beep: bool = True
    transcribe: bool = False
    transcribe_language: Language | None = None


class Transfer(FlowModel):
    """Ring one or more targets (E.164 numbers or SIP URIs) and bridge the first to answer.

    When the bridged party hangs up, the flow goes on after the transfer. When nobody
    answers within ``timeout``, the ``no_answer`` branch runs (or the flow goes on).
    """

    _path_prefix: ClassVar[str] = "transfer"
    kind: Literal["transfer"] = "transfer"
    targets: tuple[Target, ...] = Field(max_length=MAX_TARGETS)
    caller_id: PhoneNumber | None = None
    timeout: RingSeconds = 30.0
    record: bool = False
    no_answer: Branch | None = None

    @field_validator("targets", mode="before")
    @classmethod
    def _one_target(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("targets")
    @classmethod
    def _some_target(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:  # not min_length: see Flow.steps
            raise PydanticCustomError("too_short", "a transfer needs at least one target")
        return value


class Conference(FlowModel):
    """Join the caller to a named conference room."""

    _path_prefix: ClassVar[str] = "conference"
    kind: Literal["conference"] = "conference"
    name: Name
    muted: bool = False
    start_on_enter: bool = True
    end_on_exit: bool = False
    hold_music: HttpUrl | None = None
    record: bool = False


class SendDigits(FlowModel):
    """Send DTMF tones on the call (``w`` waits half a second)."""

    _path_prefix: ClassVar[str] = "send_digits"
    kind: Literal["send_digits"] = "send_digits"
    digits: Dtmf


class Redirect(FlowModel):
    """Hand the call to the flow served at an http(s) URL; nothing after it runs."""

    _path_prefix: ClassVar[str] = "redirect"
    kind: Literal["redirect"] = "redirect"
    url: HttpUrl
    method: HttpMethod = "POST"


class Hangup(FlowModel):
    """End the call; nothing after it runs."""

    _path_prefix: ClassVar[str] = "hangup"
    kind: Literal["hangup"] = "hangup"


MAX_NATIVE = 64 * 1024  # characters of a native instruction's JSON or XML


def _native_size(value: Any) -> Any:
    import json

    size = len(value) if isinstance(value, str) else len(json.dumps(value, default=str))
    if size > MAX_NATIVE:
        raise PydanticCustomError("native_size", "a native instruction is at most {limit} "
                                  "characters", {"limit": MAX_NATIVE})
    return value


class Native(FlowModel):
    """A provider's own instruction with no neutral equivalent, kept by an importer
    (``univoice convert``): it compiles back only to ``provider`` (as written there), and
    every other provider, the simulator included, refuses the flow naming it."""

    _path_prefix: ClassVar[str] = "native"
    kind: Literal["native"] = "native"
    provider: Name
    # The instruction as the provider writes it: a JSON object (a call-flow step or
    # command) or XML text (a BXML verb).
    document: Annotated[dict[str, Any] | Annotated[str, Field(min_length=1)],
                        AfterValidator(_native_size)]
    note: str | None = Field(None, max_length=500, description="What it does, and why it "
                                                               "has no neutral equivalent.")


STEP_TYPES: dict[str, type[FlowModel]] = {
    cls.model_fields["kind"].default: cls
    for cls in (Say, Play, Pause, Gather, Record, Transfer, Conference, SendDigits, Redirect,
                Hangup, Native)
}
PROMPT_KINDS = ("say", "play", "pause")
# The field a scalar shorthand fills: `- say: Hello` is `- say: {text: Hello}`.
SHORTHAND = {
    "say": "text", "play": "url", "pause": "seconds", "transfer": "targets",
    "conference": "name", "send_digits": "digits", "redirect": "url",
}


def _tag(kinds: tuple[str, ...]) -> Any:
    def tag(value: Any) -> Any:
        """Turn ``{say: {...}}`` (or ``hangup``, or ``{say: text}``) into ``{kind: say, ...}``."""
        if isinstance(value, BaseModel) or (isinstance(value, dict) and "kind" in value):
            return value
        if isinstance(value, str):
            if value in kinds and value not in SHORTHAND:
                return {"kind": value}
            if value in kinds:
                raise PydanticCustomError("step_body", "step '{kind}' needs a value",
                                          {"kind": shown(value)})
            raise _unknown_kind(value, kinds)
        if not isinstance(value, dict) or len(value) != 1:
            raise PydanticCustomError(
                "step_shape",
                "a step is a mapping with one key naming its kind, one of: {kinds}",
                {"kinds": ", ".join(kinds)},
            )
        (kind, body), = value.items()
        if kind not in kinds:
            raise _unknown_kind(str(kind), kinds)
        if body is None:
            return {"kind": kind}
        if isinstance(body, dict):
            if "kind" in body:
                raise PydanticCustomError(
                    "step_body", "'kind' is not a field: a step's kind is its key ('{kind}')",
                    {"kind": kind})
            return {"kind": kind, **body}
        if kind in SHORTHAND:
            return {"kind": kind, SHORTHAND[kind]: body}
        raise PydanticCustomError("step_body", "step '{kind}' takes a mapping of options",
                                  {"kind": kind})

    return tag


def _unknown_kind(kind: str, kinds: tuple[str, ...]) -> PydanticCustomError:
    return PydanticCustomError(
        "unknown_step", "unknown step kind '{kind}'; expected one of: {kinds}",
        {"kind": shown(kind), "kinds": ", ".join(kinds)},
    )


def _untag(value: Any, handler: SerializerFunctionWrapHandler) -> Any:
    body = handler(value)
    if isinstance(body, dict):
        body.pop("kind", None)
        return {value.kind: body} if body else value.kind  # `- hangup` needs no mapping
    return body


Step = Annotated[
    Say | Play | Pause | Gather | Record | Transfer | Conference | SendDigits | Redirect | Hangup
    | Native,
    Field(discriminator="kind"),
    BeforeValidator(_tag(tuple(STEP_TYPES))),
    WrapSerializer(_untag),
]
PromptStep = Annotated[
    Say | Play | Pause,
    Field(discriminator="kind"),
    BeforeValidator(_tag(PROMPT_KINDS)),
    WrapSerializer(_untag),
]


class FrozenMenu(Mapping[str, "Branch"]):
    """A menu's branches: read-only and hashable, like the rest of a frozen flow."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, Branch]) -> None:
        self._items = dict(items)

    def __getitem__(self, key: str) -> Branch:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(tuple(self._items.items()))

    def __eq__(self, other: object) -> bool:
        return dict(self._items) == dict(other) if isinstance(other, Mapping) else False

    def __repr__(self) -> str:
        return f"FrozenMenu({self._items!r})"


Menu = Annotated[
    dict[Keys, "Branch"],
    AfterValidator(FrozenMenu),
    WrapSerializer(lambda value, handler: handler(dict(value))),  # written as a mapping
]


class Branch(FlowModel):
    """A nested list of steps: one outcome of a menu, a no-answer, a machine."""

    steps: tuple[Step, ...] = Field(default=(), max_length=MAX_STEPS)

    @model_validator(mode="before")
    @classmethod
    def _bare_list(cls, value: Any) -> Any:
        return {"steps": value} if isinstance(value, (list, tuple)) else value


class MachineDetection(FlowModel):
    """Detect answering machines; ``on_machine`` runs instead of the flow (else hang up)."""

    on_machine: Branch | None = None


for _model in (Gather, Transfer, Branch, MachineDetection):
    _model.model_rebuild()

__all__ = [
    "PROMPT_KINDS",
    "STEP_TYPES",
    "Branch",
    "Conference",
    "FlowModel",
    "Gather",
    "Hangup",
    "MachineDetection",
    "Pause",
    "Play",
    "PromptStep",
    "Record",
    "Redirect",
    "Say",
    "SendDigits",
    "Step",
    "Transfer",
]
