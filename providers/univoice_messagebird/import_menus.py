"""Keypresses read back into neutral gathers, and what is not a tree kept as it is.

MessageBird runs steps in order. A run of steps listening for the same jump
(``onKeypressGoto``) is a gather: its prompts, the last one (a ``pause``) the input
window. A key jumps to the step with that id; no key falls through to the next step. A
neutral gather comes back from two shapes:

* the jump lands right after the window (univoice compiles menus so): the steps that
  follow guarded by ``conditions`` on the gather's variable are its outcomes (``== ""``
  no input, ``== "1"`` option 1, ``!= ""`` and ``!=`` every option: invalid);
* the jump lands further on: the steps jumped over run when no key was pressed (the
  ``no_input`` branch), and the guarded steps at the target are the options.

With no option the gather is free input (its ``variable``). Anything else -- a jump back (a
loop), to a missing id, into another gather's steps, a variable read outside its menu, a
condition no neutral menu states -- is kept: every step from the jump's source to its
target becomes a ``native`` step, as written (ids included), so it compiles back to
MessageBird unchanged, and one note says why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from univoice.flow.fields import MAX_DEPTH
from univoice_messagebird.import_read import Condition, Listen, Raw
from univoice_messagebird.import_steps import PROMPTS

EQUALS = frozenset({"==", "=", "equals"})
NOT_EQUALS = frozenset({"!=", "notEquals"})
_KEYS = re.compile(r"[0-9*#]+")

# An outcome of a gather: ("no_input", ""), ("option", keys), ("invalid", ""), or
# ("never", value) for a step no key sequence reaches.
Outcome = tuple[str, str]


@dataclass
class Group:
    """Consecutive steps listening for one jump."""

    start: int
    end: int  # one past the last listening step
    listen: Listen
    target: int | None = None  # the index the keys jump to
    stop: int = 0  # one past the last guarded outcome step
    outcomes: dict[int, Outcome] = field(default_factory=dict)
    excluded: tuple[str, ...] = ()  # the keys the invalid steps exclude, in their order
    why: str | None = None  # set: kept as native steps, for this reason

    def span(self) -> tuple[int, int]:
        """The steps this gather's reading depends on."""
        if self.target is None:
            return self.start, self.end
        if self.why is not None:  # the jump's source and target keep their ids
            return min(self.start, self.target), max(self.end, self.target + 1)
        return self.start, self.stop  # the target is where the flow goes on: any step


@dataclass(frozen=True)
class Span:
    """Steps kept native together."""

    end: int
    why: str
    source: int  # the step whose jump explains it


@dataclass
class Plan:
    gathers: dict[int, Group] = field(default_factory=dict)  # read back, by start
    spans: dict[int, Span] = field(default_factory=dict)  # kept native, by start
    first_set: dict[str, int] = field(default_factory=dict)  # variable -> its first gather


def analyse(raws: list[Raw]) -> list[Group]:
    """Every gather of the steps, each with why it must stay native (or None)."""
    groups = _groups(raws)
    first: dict[str, int] = {}
    for raw in raws:
        if raw.id is not None:
            first.setdefault(raw.id, raw.index)
    for group in groups:
        _analyse(group, raws, first)
    _variables(groups, raws)
    return groups


def _groups(raws: list[Raw]) -> list[Group]:
    groups: list[Group] = []
    index = 0
    while index < len(raws):
        raw = raws[index]
        if raw.listen is None:
            index += 1
            continue
        end = index + 1
        while (not raw.conditions and end < len(raws) and not raws[end].conditions
               and _goto(raws[end]) == raw.listen.goto):
            end += 1
        group = Group(index, end, raw.listen)
        if raw.conditions:
            group.why = "it listens only when its conditions hold, which no neutral gather does"
        elif any(raws[i].listen != raw.listen for i in range(index, end)):
            group.why = "its steps listen with different variables, key counts or end keys"
        groups.append(group)
        index = end
    return groups


def _goto(raw: Raw) -> str | None:
    return raw.listen.goto if raw.listen is not None else None


def _analyse(group: Group, raws: list[Raw], first: dict[str, int]) -> None:
    listen = group.listen
    group.target = target = first.get(listen.goto)
    shape, group.why = group.why, None  # a jump's problem is said first
    if target is None:
        group.why = (f"its keys jump to step id {listen.goto!r}, which no step has "
                     "(MessageBird fails the call)")
    elif target < group.end:
        group.why = f"its keys jump back to {raws[target].at} (a loop): a neutral flow is a tree"
    elif listen.max_keys is None:
        group.why = "maxNumKeys is not a count from 1 to 64"
    elif listen.end_key is not None and not re.fullmatch(r"[0-9*#]", listen.end_key):
        group.why = f"endKey {listen.end_key!r} is not one key"
    else:
        prompt = next((r for r in raws[group.start:group.end] if r.action not in PROMPTS), None)
        if prompt is not None:
            group.why = (f"{prompt.at} listens while it runs a {prompt.action}; a neutral "
                         "gather prompts with say, play and pause only")
    group.why = group.why or shape
    if group.why is not None or target is None:
        return
    stop = target
    while (stop < len(raws) and raws[stop].conditions and raws[stop].listen is None
           and listen.variable is not None
           and all(c.variable == listen.variable for c in raws[stop].conditions)):
        found = outcome(raws[stop].conditions, listen)
        if isinstance(found, str):
            group.why = f"the condition at {raws[stop].at}/conditions {found}"
            return
        group.outcomes[stop] = found
        stop += 1
    group.stop = stop
    group.why = _outcomes_fit(group, raws)


def outcome(conditions: tuple[Condition, ...], listen: Listen) -> Outcome | str:
    """Which outcome of the gather a step with ``conditions`` (all on its variable) runs
    in, or why none of a neutral menu's."""
    unknown = next((c.operator for c in conditions if c.operator not in EQUALS | NOT_EQUALS),
                   None)
    if unknown is not None:
        return f"uses operator {unknown!r}, which MessageBird does not document"
    equal = {c.value for c in conditions if c.operator in EQUALS}
    unequal = {c.value for c in conditions if c.operator in NOT_EQUALS}
    if equal:
        value = next(iter(equal))
        if len(equal) > 1 or equal & unequal:
            return "never", value
        if value == "":
            return "no_input", ""
        return ("option", value) if enterable(value, listen) else ("never", value)
    if "" not in unequal:
        return "runs when no key was pressed as well as for keys, which no outcome of a menu does"
    written = dict.fromkeys(c.value for c in conditions if c.operator in NOT_EQUALS)
    return "invalid", "\n".join(k for k in written if k)  # as written: the options' order


def enterable(keys: str, listen: Listen) -> bool:
    return (bool(_KEYS.fullmatch(keys)) and len(keys) <= (listen.max_keys or 1)
            and (listen.end_key is None or listen.end_key not in keys))


def _outcomes_fit(group: Group, raws: list[Raw]) -> str | None:
    assert group.target is not None
    kinds = list(group.outcomes.values())
    if group.target > group.end and any(kind == "no_input" for kind, _ in kinds):
        return ("a step at the keys' target runs on no key (== ''), but no key runs the "
                "steps before the target")
    excluded = [value.split("\n") for kind, value in kinds if kind == "invalid"]
    if len({frozenset(keys) for keys in excluded}) > 1:
        return "its invalid-input steps exclude different keys"
    options = {value for kind, value in kinds if kind == "option"}
    if excluded:
        keys = [k for k in excluded[0] if k]
        if not options <= set(keys):
            stray = sorted(options - set(keys))[0]
            return f"its invalid-input steps run for option {stray!r} too"
        group.excluded = tuple(k for k in keys if enterable(k, group.listen))
        if not options | set(group.excluded):
            return "its invalid-input steps run for any key, which no menu option states"
    return None


def _variables(groups: list[Group], raws: list[Raw]) -> None:
    """A gather read back stores its keys under a name of univoice's: its variable must
    not be read anywhere but in its own outcomes."""
    readers: dict[str, list[int]] = {}
    for raw in raws:
        for name in {c.variable for c in raw.conditions}:
            readers.setdefault(name, []).append(raw.index)
    owned: dict[str, set[int]] = {}
    for group in groups:
        if group.why is None and group.listen.variable is not None:
            owned.setdefault(group.listen.variable, set()).update(group.outcomes)
    for group in groups:
        variable = group.listen.variable
        if variable is None or group.why is not None:
            continue
        stray = [i for i in readers.get(variable, []) if i not in owned.get(variable, set())]
        if stray:
            group.why = (f"its variable {variable!r} is also read at {raws[stray[0]].at}, "
                         "outside its menu")


def cluster(groups: list[Group], raws: list[Raw]) -> Plan:
    """Gathers whose steps overlap: read back if they nest as a tree (each inside the
    no-key steps of the one around it), else all kept native together."""
    found = Plan()
    for group in groups:
        if group.listen.variable is not None:
            found.first_set.setdefault(group.listen.variable, group.start)
    ordered = sorted(groups, key=lambda g: (g.span()[0], -g.span()[1]))
    clusters: list[list[Group]] = []
    reach = -1
    for group in ordered:
        low, high = group.span()
        if clusters and low < reach:
            clusters[-1].append(group)
            reach = max(reach, high)
        else:
            clusters.append([group])
            reach = high
    for members in clusters:
        why = _tree(members, raws)
        if why is None:
            found.gathers.update((g.start, g) for g in members)
            continue
        low = min(g.span()[0] for g in members)
        high = max(g.span()[1] for g in members)
        source = next((g for g in members if g.why is not None), members[0])
        found.spans[low] = Span(high, why, source.start)
    return found


def _tree(members: list[Group], raws: list[Raw]) -> str | None:
    """None when ``members`` read back as nested gathers; else why they cannot."""
    native = next((g for g in members if g.why is not None), None)
    if native is not None:
        return native.why
    stack: list[Group] = []
    for group in members:
        low, high = group.span()
        while stack and stack[-1].span()[1] <= low:
            stack.pop()
        if stack:
            parent = stack[-1]
            assert parent.target is not None
            if not (parent.end <= low and high <= parent.target):
                return (f"the keys heard at {raws[parent.start].at} and at "
                        f"{raws[group.start].at} jump into each other's steps (not a tree)")
        if len(stack) + 1 > MAX_DEPTH:
            return f"its menus nest deeper than {MAX_DEPTH} levels"
        stack.append(group)
    return None
