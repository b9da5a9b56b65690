"""A fluent builder over the flow model: each method appends one step.

    ivr = (Flow.builder(language="en-US")
           .say("Welcome to Acme.")
           .menu("Press 1 for sales.", options={"1": Flow.builder().transfer("+31201234567")})
           .build())

Branches accept a builder, a list of steps or a ``Branch``; step objects are
accepted wherever a step is. Nothing is validated until
``build()``, which checks the whole flow at once and reports every problem.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Self

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from univoice.flow.model import Flow

class _Unset:
    """Marks an argument not given, where None means something (no finish key)."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()
UNSET_NONE: Any = _Unset()  # an explicit None, carried past the filter of unset arguments


class FlowBuilder:
    def __init__(self, **options: Any) -> None:
        self._options = {k: _plain(v) for k, v in options.items()}
        self._steps: list[dict[str, Any]] = []

    def _add(self, kind: str, **fields: Any) -> Self:
        body = {k: None if v is UNSET_NONE else _plain(v) for k, v in fields.items()
                if v is not None and v is not UNSET}
        self._steps.append({"kind": kind, **body})
        return self

    def say(self, text: str, *, language: str | None = None, gender: str | None = None,
            voice: str | None = None, loop: int | None = None) -> Self:
        return self._add("say", text=text, language=language, gender=gender, voice=voice,
                         loop=loop)

    def play(self, url: str, *, loop: int | None = None) -> Self:
        return self._add("play", url=url, loop=loop)

    def pause(self, seconds: float) -> Self:
        return self._add("pause", seconds=seconds)

    def menu(self, prompt: str | Sequence[Any] | None = None, *,
             options: Mapping[str, Any], no_input: Any = None, invalid: Any = None,
             retries: int | None = None, timeout: float | None = None,
             max_digits: int | None = None, finish_on_key: str | None = None) -> Self:
        """A gather whose digits choose a branch."""
        return self._add("gather", prompt=_prompt(prompt), options=dict(options),
                         no_input=no_input, invalid=invalid, retries=retries, timeout=timeout,
                         max_digits=max_digits, finish_on_key=finish_on_key)

    def gather(self, variable: str, prompt: str | Sequence[Any] | None = None, *,
               max_digits: int | None = None, timeout: float | None = None,
               finish_on_key: str | None = None, no_input: Any = None,
               retries: int | None = None) -> Self:
        """A gather that stores free input in ``variable`` (read later as ``{variable}``)."""
        return self._add("gather", variable=variable, prompt=_prompt(prompt),
                         max_digits=max_digits, timeout=timeout, finish_on_key=finish_on_key,
                         no_input=no_input, retries=retries)

    def record(self, *, max_length: float | None = None, silence_timeout: float | None = None,
               finish_on_key: str | None = UNSET, beep: bool | None = None,
               transcribe: bool | None = None, transcribe_language: str | None = None) -> Self:
        """``finish_on_key=None`` records without a finish key (the default is '#')."""
        return self._add("record", max_length=max_length, silence_timeout=silence_timeout,
                         finish_on_key=UNSET_NONE if finish_on_key is None else finish_on_key,
                         beep=beep, transcribe=transcribe,
                         transcribe_language=transcribe_language)

    def transfer(self, *targets: str, caller_id: str | None = None,
                 timeout: float | None = None, record: bool | None = None,
                 no_answer: Any = None) -> Self:
        return self._add("transfer", targets=list(targets), caller_id=caller_id,
                         timeout=timeout, record=record, no_answer=no_answer)

    def conference(self, name: str, *, muted: bool | None = None,
                   start_on_enter: bool | None = None, end_on_exit: bool | None = None,
                   hold_music: str | None = None, record: bool | None = None) -> Self:
        return self._add("conference", name=name, muted=muted, start_on_enter=start_on_enter,
                         end_on_exit=end_on_exit, hold_music=hold_music, record=record)

    def send_digits(self, digits: str) -> Self:
        return self._add("send_digits", digits=digits)

    def redirect(self, url: str, *, method: str | None = None) -> Self:
        return self._add("redirect", url=url, method=method)

    def hangup(self) -> Self:
        return self._add("hangup")

    def native(self, provider: str, document: dict[str, Any] | str, *,
               note: str | None = None) -> Self:
        """A provider's own instruction, as it writes it (see ``univoice.flow.Native``)."""
        return self._add("native", provider=provider, document=document, note=note)

    def steps(self) -> list[dict[str, Any]]:
        """The steps so far, in the model's tagged form."""
        return list(self._steps)

    def build(self) -> Flow:
        from univoice.flow.model import Flow

        return Flow.from_dict({**self._options, "steps": self._steps})


def _plain(value: Any) -> Any:
    """Branches given as builders become step lists; a mapping of them is walked."""
    if isinstance(value, FlowBuilder):
        return value.steps()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _prompt(prompt: str | Sequence[Any] | None) -> Any:
    if prompt is None:
        return None
    if isinstance(prompt, str):
        return [{"kind": "say", "text": prompt}]
    return list(prompt)

