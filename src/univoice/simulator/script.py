"""``CalleeScript``: how the simulated callee behaves (answers, presses keys, hangs up)."""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import AfterValidator, BeforeValidator, Field, field_validator
from pydantic_core import PydanticCustomError

from univoice.errors import FlowValidationError
from univoice.flow.fields import MAX_RECORD, MAX_RING, HttpUrl
from univoice.flow.steps import FlowModel

Answer = Literal["human", "machine", "busy", "no_answer", "failed"]

_KEYS = re.compile(r"[0-9*#]*")
# A step path as univoice.flow.paths.join writes it, optionally inside a followed redirect.
_STEP_PATH = re.compile(
    r"(redirects\[\d+\]\.)?(machine_detection\.on_machine\.)?steps\[\d+\](\..+\[\d+\])?")
_DAY = 86400.0


def _typed(value: Any) -> Any:
    # YAML reads `keys: [1, 2]` as integers; a key entry is the string typed.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _keys(value: str | None) -> str | None:
    if value is not None and not _KEYS.fullmatch(value):
        raise PydanticCustomError("keys", "'{value}' may only hold 0-9, * and #",
                                  {"value": value})
    return value or None  # "" and None both mean silence; one spelling keeps scripts equal


KeyEntry = Annotated[str | None, BeforeValidator(_typed), AfterValidator(_keys)]


class ScriptValidationError(FlowValidationError):
    """A callee script is invalid; a ``FlowValidationError`` so callers handle one type."""

    what = "callee script"


class CalleeScript(FlowModel):
    """The simulated callee. Every field has a default: ``CalleeScript()`` answers at
    3 s, stays silent at every gather and lets every transfer target answer.

    - ``answer``: ``human`` or ``machine`` answer after ``ring_seconds``; ``busy`` and
      ``failed`` end the call at once; ``no_answer`` rings 30 s, then ends.
    - ``keys``: one entry per gather attempt, in order ("1", "123#"); ``None`` or "" is
      silence, and so is every attempt once the list runs out. In a gather, keys are taken
      until ``max_digits`` are collected or ``finish_on_key`` is pressed (it is not kept,
      keys after it are dropped); an entry that stops before either completes when the
      gather's timeout elapses. A machine never presses keys.
    - ``transfers``: per transfer step reached, whether a target answers (then ``True``).
    - ``talk_seconds``: how long a bridged transfer or a conference lasts.
    - ``record_seconds``: how long the callee speaks into a record step.
    - ``audio_seconds``: the length of a played file by URL (else 3 s).
    - ``hang_up_after``: the callee hangs up this many seconds after answering.
    - ``hang_up_at``: the callee hangs up as the step at this path starts
      (``steps[1].gather.options['1'].steps[0]``; ``redirects[0].steps[2]`` is a step of
      the first flow reached by a followed redirect).
    """

    _path_prefix: ClassVar[str] = "script"
    error_class: ClassVar[type[FlowValidationError]] = ScriptValidationError

    answer: Answer = "human"
    ring_seconds: float = Field(3.0, ge=0, le=MAX_RING)
    keys: list[KeyEntry] = Field(default_factory=list)
    transfers: list[bool] = Field(default_factory=list)
    talk_seconds: float = Field(30.0, ge=0, le=_DAY)
    record_seconds: float = Field(5.0, ge=0, le=MAX_RECORD)
    audio_seconds: dict[HttpUrl, float] = Field(default_factory=dict)
    hang_up_after: float | None = Field(None, ge=0, le=_DAY)
    hang_up_at: str | None = None

    @field_validator("audio_seconds", mode="after")
    @classmethod
    def _audio(cls, value: dict[str, float]) -> dict[str, float]:
        for url, length in value.items():
            if not 0 < length <= MAX_RECORD:
                raise PydanticCustomError(
                    "audio_seconds", "length of '{url}' must be more than 0 and at most "
                    "{limit} seconds", {"url": url, "limit": MAX_RECORD})
        return value

    @field_validator("hang_up_at", mode="after")
    @classmethod
    def _step_path(cls, value: str | None) -> str | None:
        if value is not None and not _STEP_PATH.fullmatch(value):
            raise PydanticCustomError(
                "step_path", "'{value}' is not a step path such as 'steps[2]' or "
                "\"steps[1].gather.options['1'].steps[0]\"", {"value": value})
        return value

    @classmethod
    def presses(cls, *keys: str | None, **fields: Any) -> Self:
        """A human callee pressing ``keys`` at successive gather attempts (None: silence)."""
        return cls(keys=list(keys), **fields)


DEFAULT_SCRIPT = CalleeScript()
