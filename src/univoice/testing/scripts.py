"""hypothesis strategy for ``CalleeScript``s, biased toward what a given flow listens for."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hypothesis import strategies as st

from univoice.flow.paths import join
from univoice.flow.steps import Gather, Play
from univoice.simulator.script import CalleeScript

if TYPE_CHECKING:
    from univoice.flow import Flow

# Most generated callers answer, so the flow itself gets exercised; shrinking goes to "human".
_ANSWERS = st.one_of(st.just("human"), st.just("human"), st.sampled_from(
    ["human", "machine", "busy", "no_answer", "failed"]))
_ANY_KEYS = st.text(alphabet="0123456789*#", min_size=1, max_size=6)


def _tenths(high: int) -> st.SearchStrategy[float]:
    # Whole tenths of a second: readable traces, and shrinking lands on round numbers.
    return st.integers(0, high * 10).map(lambda n: n / 10)


def callee_scripts(flow: Flow | None = None) -> st.SearchStrategy[CalleeScript]:
    """Callee scripts; with ``flow``, keys favour its menu digits (and finish keys), and
    ``hang_up_at`` / ``audio_seconds`` name its own steps and audio files."""
    entry: st.SearchStrategy[str | None] = st.one_of(st.none(), _ANY_KEYS)
    step_paths: list[str] = []
    urls: list[str] = []
    if flow is not None:
        choices: set[str] = set()
        for path, step in flow.walk():
            step_paths.append(path)
            if isinstance(step, Gather):
                finish = step.finish_on_key or ""
                choices.update(f"{d}{finish}" if len(d) < step.max_digits else d
                               for d in step.options or {})
                if step.variable is not None:
                    choices.update({"1234" + finish, "7" + finish})
                step_paths += [join(path, "gather", "prompt", i) for i in range(len(step.prompt))]
                urls += [p.url for p in step.prompt if isinstance(p, Play)]
            elif isinstance(step, Play):
                urls.append(step.url)
        if choices:
            # Two draws in three are one of the flow's own answers, so branches are reached.
            entry = st.one_of(st.sampled_from(sorted(choices)), st.sampled_from(sorted(choices)),
                              entry)
    fields: dict[str, st.SearchStrategy[Any]] = {
        "answer": _ANSWERS,
        "ring_seconds": _tenths(30),
        "keys": st.lists(entry, max_size=8),
        "transfers": st.lists(st.booleans(), max_size=4),
        "talk_seconds": _tenths(120),
        "record_seconds": _tenths(60),
        "hang_up_after": st.none() | _tenths(300),
        "hang_up_at": st.none() | (st.sampled_from(step_paths) if step_paths else st.none()),
    }
    if urls:
        fields["audio_seconds"] = st.dictionaries(
            st.sampled_from(sorted(set(urls))), st.integers(1, 600).map(lambda n: n / 10),
            max_size=len(urls))
    return st.fixed_dictionaries(fields).map(lambda kw: CalleeScript(**kw))
