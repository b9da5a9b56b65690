"""Cutting a flow into the documents a provider fetches one at a time.

A provider whose language cannot hold a menu's branches inline (Bandwidth asks for the
next BXML after every Gather) gets, at each node, a document made of that node's steps
followed by everything that comes after it in each enclosing list; inside it, every
menu outcome is replaced by a redirect to its own node. Run one after another, the
documents do what the whole flow does. Pure: no I/O, no store.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from univoice.flow.model import Flow
from univoice.flow.paths import join
from univoice.flow.steps import Branch, FrozenMenu, Gather, Hangup, Redirect, Step, Transfer

START = "start"
Entry = tuple[str, Step]  # a step with its path in the whole flow


def document(flow: Flow, node: str, url_for: Callable[[str], str]) -> Flow | None:
    """The document served at ``node`` (``start``, or a branch path such as
    ``steps[1].gather.options['2']``); None when the flow has no such node."""
    if node == START:
        return flow.model_copy(update={"steps": tuple(
            _cut(path, step, url_for) for path, step in _entries(flow.steps, "steps"))})
    entries = _nodes(flow).get(node)
    if entries is None:
        return None
    # An outcome with nothing to do ends the call, as running out of steps does.
    steps = tuple(_cut(path, step, url_for) for path, step in entries) or (Hangup(),)
    # Variables gathered by earlier documents of the same call may be read here.
    names = {s.variable for _, s in flow.walk() if isinstance(s, Gather) and s.variable}
    return flow.model_copy(update={"steps": steps, "machine_detection": None,
                                   "inputs": tuple(sorted(names | set(flow.inputs)))})


def _entries(steps: Sequence[Step], path: str) -> list[Entry]:
    return [(join(path, i), step) for i, step in enumerate(steps)]


def _nodes(flow: Flow) -> dict[str, list[Entry]]:
    """Every menu outcome's path -> its steps, then what follows them, in entries."""
    found: dict[str, list[Entry]] = {}

    def visit(entries: list[Entry], tail: list[Entry]) -> None:
        for index, (path, step) in enumerate(entries):
            after = entries[index + 1:] + tail
            if isinstance(step, Gather):
                for node, branch in _outcomes(path, step):
                    mine = _entries(branch.steps, join(node, "steps"))
                    found[node] = _until_end(mine + after)
                    visit(mine, after)
            elif isinstance(step, Transfer) and step.no_answer is not None:
                node = join(path, "transfer", "no_answer")
                visit(_entries(step.no_answer.steps, join(node, "steps")), after)

    visit(_entries(flow.steps, "steps"), [])
    return found


def _until_end(entries: list[Entry]) -> list[Entry]:
    """Nothing after a hangup or redirect runs: leave it out of the document."""
    for index, (_, step) in enumerate(entries):
        if step.kind in ("hangup", "redirect"):
            return entries[:index + 1]
    return entries


def _outcomes(path: str, gather: Gather) -> list[tuple[str, Branch]]:
    out = [(join(path, "gather", "options", digits), branch)
           for digits, branch in (gather.options or {}).items()]
    for name in ("no_input", "invalid"):
        branch = getattr(gather, name)
        if branch is not None:
            out.append((join(path, "gather", name), branch))
    return out


def _cut(path: str, step: Step, url_for: Callable[[str], str]) -> Step:
    """The step as served: its outcomes redirect to their nodes (inline branches of a
    transfer stay inline, cut the same way)."""
    if isinstance(step, Gather) and (step.options is not None or step.no_input or
                                     step.invalid):
        def away(node: str) -> Branch:
            return Branch(steps=(Redirect(url=url_for(node)),))

        update: dict[str, object] = {}
        if step.options is not None:
            update["options"] = FrozenMenu({d: away(join(path, "gather", "options", d))
                                            for d in step.options})
        for name in ("no_input", "invalid"):
            if getattr(step, name) is not None:
                update[name] = away(join(path, "gather", name))
        return step.model_copy(update=update)
    if isinstance(step, Transfer) and step.no_answer is not None:
        node = join(path, "transfer", "no_answer", "steps")
        inner = tuple(_cut(join(node, i), s, url_for)
                      for i, s in enumerate(step.no_answer.steps))
        return step.model_copy(update={"no_answer": Branch(steps=inner)})
    return step
