"""Bird call flows -> neutral flows (``univoice convert --from bird``). Pure: no I/O.

Reads JSON: a ``callFlow`` (a list of commands); a create-call or update body holding one
(``record`` becomes the flow's, ``sendKeys`` a first ``send_digits`` step, the other call
parameters are notes); a call object (the 202 of a create, or a GET), whose
``callFlow.commands`` Bird echoes with names and conditions but no options, so little
carries over. Anything else (a webhook subscription, one command or its options) is an
``InvalidDocument`` saying what it looks like.

Conditions become menus. A gather that always runs starts a *section*, up to the next
such gather (which overwrites ``keys``). Each key sequence a condition in the section names
(and the gather can produce), "" (nothing pressed) and "any other keys" is one outcome;
walking the section once per outcome, every ``keys`` condition (``eq``/``neq``, all must
hold) is decided, giving each branch its commands, and what every branch that goes on ends
with is hoisted after the menu. So univoice's compiled pattern (``eq "1"``; ``eq ""``;
``neq`` each option and "") reads back as the menu it came from, and hand-written
conditions as far as they decide outcomes of keys; a gather under a condition is a nested
menu. A section whose conditions read another variable or use another operator is kept as
written (native steps, which compile back to the same commands), as are conditioned
commands before any gather. A gather whose keys nothing reads is free input into ``keys``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from univoice.errors import FlowIssue, FlowValidationError
from univoice.flow import Branch, Flow, Gather, Hangup, Native, Say, Step
from univoice.flow.fields import MAX_DEPTH, shown
from univoice.flow.walk import walk
from univoice.migrate import Carry, Imported, ImportNote, InvalidDocument
from univoice_bird import import_steps
from univoice_bird.compile import DEFAULT_LOCALE, HOLD_SECONDS, MAX_COMMANDS
from univoice_bird.import_json import load, pointer
from univoice_bird.import_steps import ECHOED, Defaults, Mapped

MAX_READ = 100  # commands read from one document (Bird runs 20)
MAX_CONDITIONS = 1000  # conditions in one document
WORK = 20_000  # command visits unfolding one section (a 20-command menu: ~500); beyond,
# the section is kept as written
_KEYS = re.compile(r"[0-9*#]+")
_CALL_FIELDS = {  # a create-call (or update) body's fields besides callFlow and record
    "to": "who is called: given when placing the call (calls.create(to=...)), not in a flow",
    "from": "the caller id: given when placing the call (calls.create(from_=...))",
    "ringTimeout": "how long the call rings: a call parameter, not part of a flow",
    "maxDuration": "the longest the call may last: a call parameter, not part of a flow",
    "scheduledFor": "a deferred call: a call parameter, not part of a flow",
    "notification": "the call's status callback: univoice's webhook app receives them",
    "tags": "the call's tags: given when placing the call (tag=...)",
    "recordStart": "when the whole-call recording starts: a neutral flow records from answer",
    "stereo": "stereo whole-call recording: no neutral equivalent",
    "flowStart": "when the call flow starts: a neutral flow starts when the call is answered",
    "amdSettings": "answering-machine detection: the result lands on the call, and nothing "
                   "in a Bird call flow acts on it",
    "status": "a change of the call's status (an update), not part of a flow",
}
_SUBSCRIPTION = frozenset(("service", "event", "eventFilters", "signingKey"))
_OPTION_NAMES = frozenset(k for schema in import_steps.OPTIONS.values() for k in schema)


def import_document(source: str | bytes) -> Imported:
    """Read a Bird call flow (see the module docstring) into a neutral flow, with a note
    for every construct that did not carry over as it was."""
    document = load(source)
    commands, base, echoed = _commands(document)
    notes: list[tuple[int, ImportNote]] = []
    record, first = _call_fields(document, echoed, notes)
    return _Importer(commands, base, echoed, notes).run(record, first)


def _commands(document: Any) -> tuple[list[Any], str, bool]:
    """(the commands, their JSON pointer, whether a call object echoes them)."""
    if isinstance(document, list):
        commands, base, echoed = document, "", False
    elif isinstance(document, dict) and isinstance(document.get("callFlow"), list):
        commands, base, echoed = document["callFlow"], "/callFlow", False
    elif isinstance(document, dict) and isinstance(document.get("callFlow"), dict):
        commands, base, echoed = document["callFlow"].get("commands"), "/callFlow/commands", True
        if not isinstance(commands, list):
            raise _invalid(base, "a call object's callFlow lists its commands here")
    elif isinstance(document, dict) and "callFlow" in document:
        raise _invalid("/callFlow", "must be a list of commands")
    else:
        raise _invalid("", _not_a_flow(document))
    if not commands:
        raise _invalid(base, f"an empty call flow: Bird runs 1 to {MAX_COMMANDS} commands")
    if len(commands) > MAX_READ:
        raise _invalid(base, f"{len(commands)} commands: Bird runs at most {MAX_COMMANDS} "
                             f"in a call flow, and univoice reads at most {MAX_READ}")
    issues = [i for n, c in enumerate(commands) for i in import_steps.check(c, f"{base}/{n}")]
    if issues:
        raise InvalidDocument(issues[:20])
    if sum(len(c.get("conditions") or ()) for c in commands) > MAX_CONDITIONS:
        raise _invalid(base, f"more than {MAX_CONDITIONS} conditions")
    return commands, base, echoed


def _not_a_flow(document: Any) -> str:
    if not isinstance(document, dict):
        return ("not a Bird call flow: expected a list of commands, a create-call or update "
                "body with 'callFlow', or a call object")
    if "command" in document:
        return "one command, not a call flow: put it in a list ([{...}])"
    if _SUBSCRIPTION & document.keys():
        return "a webhook subscription (service, event, url), not a call flow"
    if _CALL_FIELDS.keys() & document.keys():
        return "a create-call or update body without 'callFlow'"
    if _OPTION_NAMES & document.keys():
        return ("the options of one command (the body of POST .../calls/{callId}/<command>), "
                "not a call flow")
    return ("no 'callFlow': expected a list of commands, a create-call or update body, or a "
            "call object")


def _invalid(at: str, message: str) -> InvalidDocument:
    return InvalidDocument([FlowIssue(at, message)])


def _call_fields(document: Any, echoed: bool, notes: list[tuple[int, ImportNote]]
                 ) -> tuple[bool, Step | None]:
    """The flow-level parts of a create-call body: (record, a first step), notes for the
    rest. A call object's fields describe a call, not a flow: one note says so."""
    if not isinstance(document, dict):
        return False, None
    if echoed:
        notes.append((-1, ImportNote("/callFlow", "call object", Carry.DROPPED,
                                     "a call object echoes each command's name and "
                                     "conditions without its options, and its other fields "
                                     "describe the call: import the create-call body for "
                                     "the whole flow")))
        return False, None
    record, first, later = False, None, []
    for key, value in document.items():
        at = pointer(key)
        if key == "callFlow":
            continue
        if key == "record" and isinstance(value, bool):
            record = value
        elif key == "sendKeys" and isinstance(value, str):
            found: list[ImportNote] = []
            first = import_steps.send_keys(value, at, found)
            later += found
        elif key in ("record", "sendKeys"):
            raise _invalid(at, "must be " + ("true or false" if key == "record" else
                                             "a string of keys"))
        elif key == "flowStart" and value == "from-answer":
            continue  # what a neutral flow does
        else:
            later.append(ImportNote(at, f"field '{key}'", Carry.DROPPED, _CALL_FIELDS.get(
                key, "a field of a create-call body univoice does not know")))
    notes += [(-1, note) for note in later]
    return record, first


def _defaults(commands: list[dict[str, Any]]) -> Defaults:
    """The say language and gender every say agrees on, if they all do (the flow's; Bird's
    default language is univoice's, so it needs no saying)."""
    says = [c.get("options") or {} for c in commands if c["command"] == "say"]
    says += [c["options"]["say"] for c in commands if c["command"] == "gather"
             and isinstance(c.get("options"), dict) and "say" in c["options"]]
    says = [s for s in says if "text" in s]
    locales = {s.get("locale", DEFAULT_LOCALE) for s in says}
    voices = {s.get("voice") for s in says}
    language = locales.pop() if len(locales) == 1 else None
    if language == DEFAULT_LOCALE:
        language = None  # a neutral flow's default too
    try:
        Say(text="x", language=language)
    except FlowValidationError:
        language = None
    gender = voices.pop() if len(voices) == 1 else None
    return Defaults(language, gender if gender in ("male", "female") else None)


@dataclass(eq=False)
class _Menu:
    """A gather read as a menu (or free input), and what follows it in every outcome that
    goes on; compared by identity, as a place in the document."""

    index: int  # the gather command's
    gather: Gather
    rest: list[_Entry]
    ended: bool  # every outcome hangs up


_Entry = int | _Menu  # a command (by index) or a gather with the section it decides
_Know = str | None  # the keys in one outcome: these digits ("" none); None: any others


class _NotAMenu(Exception):
    """A section's conditions do not decide outcomes of keys (the message says why)."""


class _Importer:
    def __init__(self, commands: list[dict[str, Any]], base: str, echoed: bool,
                 notes: list[tuple[int, ImportNote]]) -> None:
        self.commands, self.base, self.echoed = commands, base, echoed
        self.defaults = _defaults(commands)
        self.notes = notes  # (command index, note); -1: the document's own fields
        self.mapped: dict[int, Mapped] = {}
        self.emitted: set[int] = set()  # commands that became part of the flow
        self.menus: dict[int, _Menu] = {}
        self.natives: dict[tuple[int, bool], Native] = {}
        self.work = 0

    def at(self, index: int) -> str:
        return f"{self.base}/{index}"

    def conditions(self, index: int) -> list[dict[str, str]]:
        found: list[dict[str, str]] = self.commands[index].get("conditions") or []
        return found

    def name(self, index: int) -> str:
        found: str = self.commands[index]["command"]
        return found

    def map(self, index: int) -> Mapped:
        if index not in self.mapped:
            self.mapped[index] = import_steps.command(self.commands[index], self.at(index),
                                                      self.defaults, echoed=self.echoed)
        return self.mapped[index]

    def note(self, index: int, carry: Carry, detail: str, at: str | None = None,
             construct: str | None = None) -> None:
        self.notes.append((index, ImportNote(at or self.at(index),
                                             construct or f"command '{self.name(index)}'",
                                             carry, detail)))

    # The whole document ----------------------------------------------------------------

    def run(self, record: bool, first: Step | None) -> Imported:
        count = len(self.commands)
        if count > MAX_COMMANDS:
            self.notes.append((-1, ImportNote(
                self.at(MAX_COMMANDS), "callFlow", Carry.CHANGED,
                f"{count} commands: Bird refuses a call flow of more than {MAX_COMMANDS}; "
                "the neutral flow runs them all")))
        starts = [i for i in range(count) if self.name(i) == "gather"
                  and not self.conditions(i)]
        ends = [*starts[1:], count] if starts else []
        steps = [] if first is None else [first]
        steps += self.as_written(0, starts[0] if starts else count,
                                 "guarded by conditions before any gather: nothing has set "
                                 "'keys' yet")
        for start, end in zip(starts, ends, strict=True):
            steps += self.section(start, end)
        self.never_run()
        self.hosted_shape()
        try:
            flow = Flow(steps=steps or [Hangup()], language=self.defaults.language,
                        gender=self.defaults.gender, record=record)
        except FlowValidationError as exc:
            raise InvalidDocument([FlowIssue(self.base, f"no neutral flow holds it: {i}")
                                   for i in exc.issues]) from None
        return Imported(flow, "bird", self.placed(flow))

    def placed(self, flow: Flow) -> tuple[ImportNote, ...]:
        """The notes in document order, each naming the neutral step it became."""
        paths: dict[int, str] = {}
        for path, step in walk(flow):
            paths.setdefault(id(step), path)
        out = []
        for index, note in sorted(self.notes, key=lambda pair: pair[0]):
            where = next((paths[id(s)] for s in self.steps_of(index) if id(s) in paths), None)
            out.append(note if where is None else ImportNote(
                note.at, note.construct, note.carry, note.detail, where))
        return tuple(out)

    def steps_of(self, index: int) -> list[Step]:
        """The steps command ``index`` may have become (the flow holds one of them)."""
        found: list[Step] = [self.natives[key] for key in ((index, False), (index, True))
                             if key in self.natives]
        if index in self.menus:
            found.append(self.menus[index].gather)
        mapped = self.mapped.get(index)
        return found + (mapped.steps[:1] if mapped is not None else [])

    def as_written(self, start: int, end: int, why: str, gather_why: str | None = None
                   ) -> list[Step]:
        """Commands as they stand: conditioned ones (and gathers) kept native."""
        steps: list[Step] = []
        for index in range(start, end):
            if self.conditions(index) or self.name(index) == "gather":
                because = why if gather_why is None or index != start else gather_why
                own = self.map(index).native
                steps.append(self.native(index, True, because if own is None
                                         else f"{own}; {because}"))
            else:
                steps += self.neutral(index)
        return steps

    def neutral(self, index: int) -> list[Step]:
        """What one command became (native if it has no neutral equivalent)."""
        mapped = self.map(index)
        if mapped.native is not None:
            return [self.native(index, False, mapped.native)]
        if index not in self.emitted:
            self.emitted.add(index)
            self.notes += [(index, note) for note in mapped.notes]
        return list(mapped.steps)

    def native(self, index: int, conditions: bool, why: str) -> Native:
        """The command as written; ``conditions``: with its own (else a menu holds it)."""
        key = (index, conditions)
        if key not in self.natives:
            document = {k: v for k, v in self.commands[index].items()
                        if not (self.echoed and k in ECHOED)
                        and (conditions or k != "conditions")}
            try:
                self.natives[key] = Native(provider="bird", document=document,
                                           note=why[:500])
            except FlowValidationError as exc:
                raise InvalidDocument([FlowIssue(self.at(index), "too large to keep as "
                                                 f"written: {i.message}")
                                       for i in exc.issues]) from None
        if index not in self.emitted:
            self.emitted.add(index)
            self.note(index, Carry.NATIVE, why)
        return self.natives[key]

    # Sections: a gather and the commands its keys decide ---------------------------------

    def section(self, start: int, end: int) -> list[Step]:
        notes, emitted, menus = len(self.notes), set(self.emitted), dict(self.menus)
        try:
            self.work = 0
            self.menu_conditions(start, end)
            menu = self.menu(start, end, 1)
        except _NotAMenu as exc:  # undo what the attempt noted
            del self.notes[notes:]
            self.emitted, self.menus = emitted, menus
            return self.as_written(
                start, end, f"guarded by conditions: kept as written with the gather at "
                            f"{self.at(start)} before it",
                f"its keys are read by conditions univoice cannot read as a menu: {exc}")
        return [menu.gather, *self.flatten(menu.rest)]

    def menu_conditions(self, start: int, end: int) -> None:
        for index in range(start + 1, end):
            for n, condition in enumerate(self.conditions(index)):
                at = f"{self.at(index)}/conditions/{n}"
                if condition.keys() != {"variable", "operator", "value"}:
                    raise _NotAMenu(f"the condition at {at} has fields besides variable, "
                                    "operator and value")
                if condition["variable"] != "keys":
                    raise _NotAMenu(f"the condition at {at} reads "
                                    f"'{shown(condition['variable'])}', not a gather's keys")
                if condition["operator"] not in ("eq", "neq"):
                    raise _NotAMenu(f"the condition at {at} compares with "
                                    f"'{shown(condition['operator'])}' (a menu: eq, neq)")

    def menu(self, start: int, end: int, depth: int) -> _Menu:
        """The gather at ``start`` and the outcomes of its keys, up to ``end``."""
        if start in self.menus:
            return self.menus[start]
        if depth > MAX_DEPTH:
            raise _NotAMenu(f"menus nested more than {MAX_DEPTH} deep")
        mapped = self.map(start)
        if mapped.gather is None:
            raise _NotAMenu(f"the gather itself: {mapped.native}")
        fields = dict(mapped.gather)
        values = self.outcomes(start, end, fields)
        walks = {know: self.walk(start + 1, end, know, depth) for know in [*values, "", None]}
        going = any(not ended for _, ended in walks.values())
        rest = _hoisted(list(walks.values()))

        def branch(know: _Know) -> Branch | None:
            entries, _ = walks[know]
            cut = len(entries) - len(rest)
            steps = self.flatten(entries[:cut] if entries[cut:] == rest else entries)
            return Branch(steps=steps) if steps or know not in ("", None) else None

        try:
            if values:
                gather = Gather(**fields, options={v: branch(v) for v in values},
                                no_input=branch(""), invalid=branch(None))
            elif branch(None) is not None:
                raise _NotAMenu("its conditions tell only whether keys were pressed, and "
                                "a neutral menu needs at least one option")
            else:
                gather = Gather(**fields, variable="keys", no_input=branch(""))
        except FlowValidationError as exc:
            raise _NotAMenu("; ".join(str(issue) for issue in exc.issues)) from None
        self.neutral(start)  # its notes
        self.retries_note(start, gather)
        self.menus[start] = _Menu(start, gather, rest, not going)
        return self.menus[start]

    def outcomes(self, start: int, end: int, fields: dict[str, Any]) -> list[str]:
        """The key sequences conditions after the gather name that it can produce."""
        found: dict[str, None] = {}
        for index in range(start + 1, end):
            for condition in self.conditions(index):
                if _producible(condition["value"], fields):
                    found.setdefault(condition["value"])
        return list(found)

    def walk(self, start: int, end: int, know: _Know, depth: int
             ) -> tuple[list[_Entry], bool]:
        """The commands that run when the keys are ``know``; True if the call ends."""
        out: list[_Entry] = []
        for index in range(start, end):
            self.work += 1
            if self.work > WORK:
                raise _NotAMenu("too many conditions to unfold into menus")
            if not _holds(self.conditions(index), know):
                continue
            if self.name(index) == "gather":
                menu = self.menu(index, end, depth + 1)
                out.append(menu)
                return out, menu.ended
            out.append(index)
            if self.map(index).ends:
                return out, True
        return out, False

    def flatten(self, entries: list[_Entry]) -> list[Step]:
        steps: list[Step] = []
        for entry in entries:
            if isinstance(entry, _Menu):
                steps += [entry.gather, *self.flatten(entry.rest)]
            else:
                steps += self.neutral(entry)
        return steps

    # Notes -------------------------------------------------------------------------------

    def retries_note(self, index: int, gather: Gather) -> None:
        at = f"{self.at(index)}/options/retries"
        if gather.retries and gather.options is not None:
            self.note(index, Carry.CHANGED, "Bird prompts again only when nothing was "
                      "pressed; a neutral menu also prompts again after keys that match no "
                      "option", at, "option 'gather.retries'")
        elif gather.retries and gather.finish_on_key:
            self.note(index, Carry.CHANGED, "pressing only the end key ends Bird's gather; "
                      "a neutral gather prompts again", at, "option 'gather.retries'")

    def never_run(self) -> None:
        for index in range(len(self.commands)):
            if index in self.emitted:
                continue
            unmet = [c["value"] for c in self.conditions(index) if c["operator"] == "eq"
                     and c["variable"] == "keys" and not _KEYS.fullmatch(c["value"] or "0")]
            why = (f"keys are never {shown(unmet[0])!r} (0-9, * and #)" if unmet else
                   "no outcome of the gathers before it both meets its conditions and "
                   "reaches it (a hangup comes first, the keys it asks for are longer than "
                   "the gather takes or hold its end key, or its conditions contradict each "
                   "other)")
            self.note(index, Carry.DROPPED, f"never runs: {why}")

    def hosted_shape(self) -> None:
        """univoice's hosted parts end gather, hold, hangup: the app decided what next."""
        if len(self.commands) < 3:
            return
        gather, hold, hangup = range(len(self.commands) - 3, len(self.commands))
        menu = self.menus.get(gather)
        if (menu is not None and menu.gather.variable is not None
                and not any(self.conditions(i) for i in (gather, hold, hangup))
                and self.name(hold) == "pause" and self.name(hangup) == "hangup"
                and (self.commands[hold].get("options") or {}).get("length") == HOLD_SECONDS):
            self.note(gather, Carry.CHANGED, f"a gather, a {HOLD_SECONDS} s hold and a "
                      "hangup: the shape of a part univoice's webhook app pushed, which "
                      "then pushed what came next from these keys; that is not in this "
                      "document, so here the keys are kept in 'keys' and the call hangs "
                      "up after the hold")


def _producible(value: str, fields: dict[str, Any]) -> bool:
    end = fields.get("finish_on_key")
    return (bool(_KEYS.fullmatch(value)) and len(value) <= fields["max_digits"]
            and (end is None or end not in value))


def _holds(conditions: list[dict[str, str]], know: _Know) -> bool:
    """Whether every condition (all on keys, eq or neq) holds when the keys are ``know``."""
    return all((c["operator"] == "eq") == (know is not None and know == c["value"])
               for c in conditions)


def _hoisted(walks: list[tuple[list[_Entry], bool]]) -> list[_Entry]:
    """What runs after the menu: the end every outcome that goes on shares; when every
    outcome hangs up, the end most of them share (the rest end on their own)."""
    going = [entries for entries, ended in walks if not ended]
    if going:
        return _common_suffix(going)
    groups: dict[_Entry, list[list[_Entry]]] = {}
    for entries, _ in walks:  # an outcome that hangs up ran at least the hangup
        groups.setdefault(entries[-1], []).append(entries)
    return _common_suffix(max(groups.values(), key=lambda lists: (
        len(lists), _position(lists[0][-1]))))


def _position(entry: _Entry) -> int:
    return entry.index if isinstance(entry, _Menu) else entry


def _common_suffix(lists: list[list[_Entry]]) -> list[_Entry]:
    if not lists:
        return []
    size = 0
    shortest = min(len(entries) for entries in lists)
    while size < shortest and all(entries[-1 - size] == lists[0][-1 - size]
                                  for entries in lists):
        size += 1
    return lists[0][len(lists[0]) - size:]
