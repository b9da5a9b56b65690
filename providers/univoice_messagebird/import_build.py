"""The neutral steps (document form) of a call flow's steps, as ``import_menus`` lays
them out: gathers read back, spans kept native, every other step mapped on its own."""

from __future__ import annotations

import re
from typing import Any

from univoice.flow.fields import MAX_LOOP
from univoice.flow.paths import join
from univoice.migrate import Carry, ImportNote
from univoice_messagebird.compile import MAX_REPEAT
from univoice_messagebird.import_menus import Group, Plan, Span, analyse, cluster
from univoice_messagebird.import_read import Raw, Report, pointer
from univoice_messagebird.import_steps import hint, native, neutral, problem

# Ids of the form univoice gives its own compiled steps: a native step keeping one could
# collide with them, so it is renamed (the compiler refuses it).
OURS = re.compile(r"s[0-9]+(-keys)?")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def build(raws: list[Raw], report: Report) -> list[Any]:
    """The flow's steps. A gather the neutral model refuses once built (a window too
    long, say) is kept native instead, and the layout worked out again."""
    groups = analyse(raws)
    while True:
        builder = _Builder(raws, cluster(groups, raws))
        steps = builder.steps(0, len(raws), "steps")
        if not builder.failed:
            report.notes += builder.notes
            return steps or ["hangup"]  # running out of steps hangs up
        for group, why in builder.failed:
            group.why = why


class _Builder:
    def __init__(self, raws: list[Raw], plan: Plan) -> None:
        self.raws, self.plan = raws, plan
        self.notes: list[ImportNote] = []
        self.failed: list[tuple[Group, str]] = []

    def note(self, at: str, construct: str, carry: Carry, detail: str,
             step: str | None = None) -> None:
        self.notes.append(ImportNote(at, construct, carry, detail, step))

    def steps(self, low: int, high: int, path: str) -> list[Any]:
        out: list[Any] = []
        index = low
        while index < high:
            span, group = self.plan.spans.get(index), self.plan.gathers.get(index)
            if span is not None:
                end = min(span.end, high)
                out += self.kept(index, end, span, path, len(out))
                index = end
            elif group is not None:
                made = self.gather(group, join(path, len(out)))
                if made is not None:
                    out.append(made)
                index = group.stop
            else:
                self.one(self.raws[index], path, out)
                index += 1
        return out

    # One step --------------------------------------------------------------------------

    def one(self, raw: Raw, path: str, out: list[Any], *, guarded: bool = False) -> None:
        """Append ``raw`` to ``out`` (the list at ``path``) as neutral steps; ``guarded``:
        its conditions are a menu's outcome, stated by the branch ``out`` is."""
        document, index = raw.source, len(out)
        if guarded:
            document = {k: v for k, v in document.items() if k != "conditions"}
        elif raw.conditions:
            out += self.native(raw, document, join(path, index), "conditions",
                               "runs only when its conditions hold, and a neutral flow has "
                               "no conditions outside a menu")
            return
        mapped = neutral(raw)
        if mapped is None:
            out += self.native(raw, document, join(path, index), f"action {raw.action!r}",
                               "no neutral step does what it does")
            return
        steps, pending = mapped
        refused = next((why for why in map(problem, steps) if why is not None), None)
        if refused is not None:
            out += self.native(raw, document, join(path, index), f"action {raw.action!r}",
                               f"the neutral step refuses it: {refused}{hint(raw)}")
            return
        if steps and _repeats(out, steps[0]):
            index -= 1
            steps = steps[1:]
        out += steps
        for at, construct, carry, detail, offset in pending:
            self.note(at, construct, carry, detail,
                      join(path, index + offset) if index + offset < len(out) else None)

    def native(self, raw: Raw, document: dict[str, Any], path: str, construct: str,
               why: str, renamed: frozenset[str] | None = None) -> list[Any]:
        """``raw`` as a native step, noted unless it is one of a span (``renamed``: the
        ids of univoice's form there; else no jump reads its id, and one of that form is
        left to the compiler)."""
        if renamed is None and raw.id is not None and OURS.fullmatch(raw.id):
            document = {k: v for k, v in document.items() if k != "id"}
        elif renamed:
            document = _renamed(document, renamed)
        step = native(document, f"kept as written: {why}")
        refused = problem(step)
        if refused is not None:
            self.note(raw.at, construct, Carry.DROPPED, f"{why}; too large to keep as a "
                      f"native step ({refused})")
            return []
        if renamed is None:  # a span's steps share one note
            self.note(raw.at, construct, Carry.NATIVE, why, path)
        return [step]

    def kept(self, low: int, high: int, span: Span, path: str, index: int) -> list[Any]:
        """Steps ``low`` to ``high`` kept native together: a jump among them that no
        neutral gather states."""
        raws = self.raws[low:high]
        ours = frozenset(r.id for r in raws if r.id is not None and OURS.fullmatch(r.id))
        source = self.raws[span.source]
        goto = source.listen.goto if source.listen is not None else ""
        out: list[Any] = []
        for raw in raws:
            out += self.native(raw, raw.source, join(path, index + len(out)),
                               f"keypress jump to {goto!r}", span.why, ours)
        where = ("the step is kept as written" if high - low == 1 else
                 f"its {high - low} steps from {raws[0].at} to {raws[-1].at} are kept as "
                 "written")
        if ours:
            where += (f"; ids {', '.join(sorted(ours))} renamed mb-...: univoice names its "
                      "own steps so")
        self.note(source.at, f"keypress jump to {goto!r}", Carry.NATIVE,
                  f"{span.why}; {where}", join(path, index))
        return out

    # Gathers ---------------------------------------------------------------------------

    def gather(self, group: Group, here: str) -> dict[str, Any] | None:
        raws, listen = self.raws, group.listen
        assert group.target is not None
        listening = raws[group.start:group.end]
        window = listening[-1] if listening[-1].action == "pause" else None
        inner = join(here, "gather")
        prompt: list[Any] = []
        for raw in listening[:-1] if window is not None else listening:
            self.one(raw, join(inner, "prompt"), prompt)
        body: dict[str, Any] = {"prompt": prompt} if prompt else {}
        if window is not None:
            body["timeout"] = window.options["length"]
            self.one_options(window, here)
        else:
            body["timeout"] = 1
            self.note(listening[-1].at, "keypress window", Carry.CHANGED, "keys were heard "
                      "only while the prompt ran (no pause after it): the neutral gather "
                      "waits 1 s after its prompt", here)
        if listen.max_keys != 1:
            body["max_digits"] = listen.max_keys
        if listen.end_key is not None:
            body["finish_on_key"] = listen.end_key
        no_input = (self.steps(group.end, group.target, join(inner, "no_input", "steps"))
                    if group.target > group.end else [])
        options, invalid = self.outcomes(group, inner, no_input)
        if options:
            body["options"] = options
            if invalid:
                body["invalid"] = invalid
        else:
            body["variable"] = self.variable(group, here)
        if no_input:
            body["no_input"] = no_input
        self.gather_notes(group, here, bool(options))
        step = {"gather": body}
        refused = problem(step)
        if refused is not None:
            self.failed.append((group, f"the neutral gather refuses it: {refused}"))
            return None
        return step

    def one_options(self, window: Raw, here: str) -> None:
        if window.foreign:
            self.note(pointer(window.at, "options"), "pause option " + ", ".join(
                repr(k) for k in window.foreign), Carry.DROPPED,
                "not an option of pause; MessageBird ignores it", here)

    def outcomes(self, group: Group, inner: str, no_input: list[Any]
                 ) -> tuple[dict[str, list[Any]], list[Any]]:
        options: dict[str, list[Any]] = {}
        invalid: list[Any] = []
        assert group.target is not None
        for index in range(group.target, group.stop):
            kind, value = group.outcomes[index]
            raw = self.raws[index]
            if kind == "never":
                if not (raw.action == "pause" and raw.options.get("length") == 0):
                    self.note(pointer(raw.at, "conditions"), "conditions", Carry.DROPPED,
                              f"never runs: no key sequence is {value!r} here")
                continue
            if kind == "no_input":
                where, path = no_input, join(inner, "no_input", "steps")
            elif kind == "option":
                where, path = options.setdefault(value, []), join(inner, "options", value,
                                                                  "steps")
            else:
                where, path = invalid, join(inner, "invalid", "steps")
            self.one(raw, path, where, guarded=True)
        if group.excluded:  # every option, in the menu's order; one with no steps goes on
            options = {keys: options.get(keys, []) for keys in group.excluded}
        return options, invalid

    def variable(self, group: Group, here: str) -> str:
        name = group.listen.variable or "keys"
        if _NAME.fullmatch(name):
            return name
        fixed = re.sub(r"[^A-Za-z0-9_]", "_", name)[:63]
        fixed = fixed if _NAME.fullmatch(fixed) else f"_{fixed}"[:64]
        self.note(pointer(self.raws[group.start].at, "onKeypressVar"), "onKeypressVar",
                  Carry.CHANGED, f"{name!r} is not a neutral variable name: {fixed!r}", here)
        return fixed

    def gather_notes(self, group: Group, here: str, menu: bool) -> None:
        first, listen = self.raws[group.start], group.listen
        assert group.target is not None
        earlier = self.plan.first_set.get(listen.variable or "", group.start)
        if menu and earlier < group.start:
            self.note(pointer(first.at, "onKeypressVar"), "onKeypressVar", Carry.CHANGED,
                      f"{listen.variable!r} is set by the gather at {self.raws[earlier].at} "
                      "too: when no key is pressed here MessageBird keeps its earlier value "
                      "(and runs that value's steps); the neutral menu runs its no-input "
                      "outcome", here)
        if listen.end_key is not None and group.target > group.end:
            self.note(pointer(first.at, "endKey"), "endKey", Carry.CHANGED,
                      f"pressing only {listen.end_key!r} jumped to "
                      f"{self.raws[group.target].at}; the neutral gather counts it as no "
                      "input", here)


def _renamed(document: dict[str, Any], ours: frozenset[str]) -> dict[str, Any]:
    out = dict(document)
    for key in ("id", "onKeypressGoto"):
        if out.get(key) in ours:
            out[key] = f"mb-{out[key]}"
    return out


def _repeats(out: list[Any], step: Any) -> bool:
    """Merge ``step`` into the say before it when that one repeats MessageBird's most
    (a longer loop is written as several steps)."""
    last = out[-1] if out else None
    if not (isinstance(last, dict) and isinstance(step, dict) and "say" in last
            and "say" in step):
        return False
    before, after = last["say"], step["say"]
    loop = after.get("loop", 1)
    same = {k: v for k, v in before.items() if k != "loop"} == {
        k: v for k, v in after.items() if k != "loop"}
    count = before.get("loop", 1)
    if not same or count % MAX_REPEAT or count + loop > MAX_LOOP:
        return False
    out[-1] = {"say": {**before, "loop": count + loop}}
    return True
