"""The words on a node: a short heading and the step's own text, cleaned of what no
format can show (control characters, lone surrogates) and cut to a readable length.
Never escaped here: each format escapes for itself."""

from __future__ import annotations

from typing import TYPE_CHECKING

from univoice.flow.speech import spoken
from univoice.flow.steps import (
    Conference,
    Gather,
    Hangup,
    Native,
    Pause,
    Play,
    PromptStep,
    Record,
    Redirect,
    Say,
    SendDigits,
    Step,
    Transfer,
)

if TYPE_CHECKING:
    from univoice.flow import Flow

MAX_TEXT = 120  # characters of a step's text shown on its node


def clean(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` on one line, without control characters, at most ``limit`` characters."""
    kept = spoken(text)
    return kept if len(kept) <= limit else kept[:limit - 1].rstrip() + "…"


def _seconds(value: float) -> str:
    return f"{value:g} s"


def _prompt(step: PromptStep) -> str:
    if isinstance(step, Say):
        return step.text
    if isinstance(step, Play):
        return f"[audio {step.url}]"
    return f"[pause {_seconds(step.seconds)}]"


def _flags(*pairs: tuple[bool, str]) -> str:
    return ", ".join(word for on, word in pairs if on)


def describe(step: Step) -> tuple[str, str]:
    """(heading, text) of a step's node."""
    match step:
        case Say():
            return ("say" if step.loop == 1 else f"say ×{step.loop}"), clean(step.text)
        case Play():
            return ("play" if step.loop == 1 else f"play ×{step.loop}"), clean(step.url)
        case Pause():
            return "pause", _seconds(step.seconds)
        case Gather():
            heading = "menu" if step.variable is None else f"input → {step.variable}"
            return heading, clean(" ".join(_prompt(p) for p in step.prompt))
        case Record():
            return "record", _flags((True, f"up to {_seconds(step.max_length)}"),
                                    (step.transcribe, "transcribed"),
                                    (step.silence_timeout is not None, "ends on silence"))
        case Transfer():
            extra = _flags((True, f"ring {_seconds(step.timeout)}"),
                           (step.caller_id is not None, f"from {step.caller_id}"),
                           (step.record, "recorded"))
            return "transfer", clean(f"{', '.join(step.targets)} ({extra})")
        case Conference():
            extra = _flags((step.muted, "muted"), (step.record, "recorded"),
                           (step.end_on_exit, "ends on exit"))
            return "conference", step.name + (f" ({extra})" if extra else "")
        case SendDigits():
            return "send digits", clean(step.digits)
        case Redirect():
            return "redirect", clean(f"{step.method} {step.url}")
        case Native():
            return f"native {step.provider}", clean(step.note or str(step.document))
        case Hangup():
            return "hang up", ""
    return step.kind.replace("_", " "), ""


def flow_title(flow: Flow) -> str:
    return clean(flow.name or "call flow", 100)
