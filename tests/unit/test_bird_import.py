"""Bird call flows read into neutral flows (``univoice_bird.importer``).

The round trip. Statement: for every generated flow that ``fit`` brings within Bird's
reach and that Bird runs natively (``compile.hosted(flow)`` is False: one call flow of at
most 20 commands, menus at the top level, no re-prompts, no free input), importing the
create-call body univoice sends for it (``BirdProvider.create_call``: ``to``, ``from``,
``ringTimeout``, ``callFlow``, ``record``) gives a flow holding no native step that
``simulate`` runs exactly like the original for every generated callee script
(``univoice.simulator.compare.differences`` is empty). Its only notes are the call
parameters (not part of a flow), the compiler's closing hangup when it can never run
(after a menu whose every outcome hangs up), and the hosted-part shape when the compiled
flow happens to end gather, 15 s pause, hangup. When the imported flow runs natively too,
it is a fixed point: importing its compiled form gives it back.

Restrictions, and why: hosted flows are outside it, since each pushed part is a document
whose next part the app decides (importing one says so: a free gather and a note).
Generated flows hold a top-level menu only about one time in fifteen, so a second
strategy puts one in every example (generated steps around and in it; no step that never
runs, which the importer reports as such). Scripts never use ``hang_up_at`` (step paths a
native document does not carry). Equality with the original flow is not the statement:
compiling loses what does not change a call (a prompt becomes commands before the gather,
an empty branch disappears, a closing hangup appears, the say language moves to the flow,
a menu of empty branches reads as free input).

Hand-written conditions (any eq/neq on keys, menus in sequence, nested, overlapping) are
held to Bird's own interpreter: the imported flow runs as the document does, and compiles
back (native steps included) to a call flow that runs alike.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from tests.support.bird_flows import fit
from typer.testing import CliRunner

from univoice.cli import app
from univoice.errors import FlowValidationError, UnsupportedFeature
from univoice.flow import Flow
from univoice.flow.fields import MAX_DEPTH as MAX_DEPTH_FLOW
from univoice.migrate import MAX_DOCUMENT, Carry, Imported, InvalidDocument
from univoice.models import EndReason
from univoice.params import CreateCall
from univoice.plugins import provider_class
from univoice.simulator import CalleeScript, simulate
from univoice.simulator.compare import differences
from univoice.simulator.trace import Trace
from univoice.testing import callee_scripts, flows
from univoice_bird import BirdProvider, compile, import_steps
from univoice_bird.import_json import MAX_DEPTH
from univoice_bird.importer import MAX_CONDITIONS, MAX_READ
from univoice_bird.interpreter import CallSetup, run_call

DATA = Path(__file__).resolve().parents[1] / "data" / "import" / "bird"
SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "reference" / "samples" / "bird"
OFFLINE = BirdProvider.offline()
PLACING = BirdProvider(workspace_id="11111111-2222-4333-8444-555555555555",
                       channel_id="66666666-7777-4888-9999-000000000000",
                       access_key="k" * 32, signing_key="s" * 32)
CALL_FIELDS = {"/to", "/from", "/ringTimeout"}


def create_body(flow: Flow) -> bytes:
    """The body univoice POSTs to place a call running ``flow``."""
    request = PLACING.create_call(CreateCall(to="+31612345678", from_="+31201234567",
                                             flow=flow)).request
    return bytes(request.content)


def runs_alike(flow: Flow, imported: Imported, script: CalleeScript) -> None:
    expected = simulate(flow, script, call_id="b1")
    actual = simulate(imported.flow, script, call_id="b1")
    problems = differences(expected, actual)
    assert not problems, "\n".join([*problems, "original:", flow.to_yaml(), "imported:",
                                    imported.flow.to_yaml()])


@st.composite
def native_cases(draw: st.DrawFn) -> tuple[Flow, CalleeScript]:
    flow = fit(draw(flows(max_depth=2, max_steps=5)))
    assume(not compile.hosted(flow))
    script = draw(callee_scripts(flow)).model_copy(update={"hang_up_at": None})
    return flow, script


def _steps(draw: st.DrawFn, most: int) -> list[Any]:
    """A generated list of steps, none ending the call (no hangup or redirect)."""
    steps: list[Any] = draw(flows(max_depth=1, max_steps=most)).to_dict()["steps"]
    return [s for s in steps if s not in ("hangup",) and "redirect" not in s]


@st.composite
def menu_cases(draw: st.DrawFn) -> tuple[Flow, CalleeScript]:
    """A top-level menu (the generic flows hold one in about one flow in fifteen): one to
    four options of one or two keys, maybe a finish key, no-input and invalid branches,
    generated steps before, in and after it."""
    two = draw(st.booleans())
    keys = st.text("0123456789*", min_size=1, max_size=2 if two else 1)
    gather: dict[str, Any] = {
        "prompt": draw(st.sampled_from(["Choose.", [{"play": "https://a.example/m.wav"}],
                                        [{"say": "Choose."}, {"pause": 1}]])),
        "max_digits": 2 if two else 1, "timeout": draw(st.integers(1, 8)),
        "options": {k: _steps(draw, 2) + draw(st.sampled_from([[], ["hangup"]]))
                    for k in draw(st.lists(keys, min_size=1, max_size=4, unique=True))}}
    if two and draw(st.booleans()):
        gather["finish_on_key"] = "#"
    for outcome in ("no_input", "invalid"):
        if draw(st.booleans()):
            gather[outcome] = _steps(draw, 2)
    flow = fit(Flow.from_dict({"steps": [*_steps(draw, 2), {"gather": gather},
                                         *_steps(draw, 2)]}))
    assume(not compile.hosted(flow) and not flow.warnings())  # no steps that never run
    script = draw(callee_scripts(flow)).model_copy(update={"hang_up_at": None})
    return flow, script


EXAMPLES = int(os.environ.get("UNIVOICE_IMPORT_EXAMPLES", "70"))
PROPERTY = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])


def round_trip(flow: Flow, script: CalleeScript) -> None:
    body = create_body(flow)
    imported = OFFLINE.import_document(body)
    assert not [s for _, s in imported.flow.walk() if s.kind == "native"]
    commands = json.loads(body)["callFlow"]
    closing = f"/callFlow/{len(commands) - 1}"  # the compiler's closing hangup, dead after
    for note in imported.notes:                 # a menu whose every outcome hangs up
        assert (note.at in CALL_FIELDS or "webhook app" in note.detail
                or (note.at == closing and commands[-1] == {"command": "hangup"}
                    and note.detail.startswith("never runs"))), str(note)
    runs_alike(flow, imported, script)
    if not compile.hosted(imported.flow):  # a menu of empty branches reads as free input
        again = OFFLINE.import_document(create_body(imported.flow))
        assert again.flow == imported.flow


@PROPERTY
@given(native_cases())
def test_importing_a_compiled_flow_gives_a_flow_that_runs_alike(
        case: tuple[Flow, CalleeScript]) -> None:
    round_trip(*case)


@PROPERTY
@given(menu_cases())
def test_importing_a_compiled_menu_gives_a_menu_that_runs_alike(
        case: tuple[Flow, CalleeScript]) -> None:
    round_trip(*case)


# Hand-written conditions: read as Bird runs them -------------------------------------------

_CONDITION = st.fixed_dictionaries({
    "variable": st.just("keys"), "operator": st.sampled_from(["eq", "neq"]),
    "value": st.sampled_from(["", "1", "2", "12", "#"])})


@st.composite
def conditioned(draw: st.DrawFn) -> tuple[list[dict[str, Any]], CalleeScript]:
    """Call flows of says, pauses, gathers (one or two keys, maybe an end key) and hangups,
    any of them (but the first) guarded by eq/neq conditions on keys: menus in sequence,
    nested, overlapping, contradicting, after a hangup."""
    commands: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(1, 14))):
        kind = draw(st.sampled_from(["say", "say", "say", "gather", "gather", "hangup",
                                     "pause"]))
        command: dict[str, Any] = {"command": kind}
        if kind == "say":
            command["options"] = {"text": draw(st.sampled_from(["One.", "Two two."]))}
        elif kind == "pause":
            command["options"] = {"length": draw(st.integers(1, 3))}
        elif kind == "gather":
            command["options"] = {"maxNumKeys": draw(st.integers(1, 2)),
                                  "timeout": draw(st.integers(1, 5)),
                                  **({"endKey": "#"} if draw(st.booleans()) else {})}
        if len(commands) > 0 and draw(st.booleans()):
            command["conditions"] = draw(st.lists(_CONDITION, min_size=1, max_size=3))
        commands.append(command)
    keys = draw(st.lists(st.sampled_from(["1", "2", "12", "", "3", "1#", "#"]), max_size=4))
    return commands, CalleeScript(keys=keys)


def bird_run(commands: list[Any], script: CalleeScript) -> Trace:
    return run_call(CallSetup(call_id="b1", from_="+31201234567", to="+31612345678",
                              call_flow=commands), script).trace


@PROPERTY
@given(conditioned())
def test_conditions_read_into_menus_run_as_bird_runs_them(
        case: tuple[list[dict[str, Any]], CalleeScript]) -> None:
    """Where the import holds no native step (conditions before any gather, or ones that
    only tell whether keys were pressed, are kept as written), ``simulate`` runs the
    imported flow as Bird's interpreter runs the document."""
    commands, script = case
    imported = OFFLINE.import_document(json.dumps(commands))
    assume(not [s for _, s in imported.flow.walk() if s.kind == "native"])
    problems = differences(bird_run(commands, script),
                           simulate(imported.flow, script, call_id="b1"))
    assert not problems, "\n".join([*problems, json.dumps(commands), imported.flow.to_yaml()])


@PROPERTY
@given(conditioned())
def test_an_imported_flow_compiles_back_to_one_that_runs_alike(
        case: tuple[list[dict[str, Any]], CalleeScript]) -> None:
    """Native steps included (in a menu branch, their conditions and the branch's), where
    the imported flow still runs natively on Bird."""
    commands, script = case
    imported = OFFLINE.import_document(json.dumps(commands))
    try:
        OFFLINE.check_flow(imported.flow)
    except UnsupportedFeature:
        assume(False)  # more than 20 commands once branches are written out
    assume(not compile.hosted(imported.flow))  # free input: hosted
    again = OFFLINE.compile_flow(imported.flow).native
    assert not differences(bird_run(commands, script), bird_run(again, script)), again


# Hand-written documents: every command and option, and ones the adapter does not know ----

CASES = sorted(DATA.glob("*.json"))


def expected(path: Path) -> dict[str, Any]:
    found: dict[str, Any] = yaml.safe_load(path.with_suffix(".expected.yaml").read_text())
    return found


@pytest.mark.parametrize("path", CASES, ids=lambda path: path.stem)
def test_a_hand_written_document_imports_as_expected(path: Path) -> None:
    imported = OFFLINE.import_document(path.read_bytes())
    want = expected(path)
    assert imported.flow == Flow.from_dict(want["flow"])
    assert [{k: v for k, v in note.to_dict().items() if k != "detail" and v is not None}
            for note in imported.notes] == want["notes"]
    assert all(note.detail for note in imported.notes)
    assert imported.provider == "bird"


def _used(path: Path) -> set[tuple[str, str]]:
    """(command, option) pairs a document writes, nested gather prompts included."""
    document = json.loads(path.read_text())
    commands = document if isinstance(document, list) else document["callFlow"]
    if isinstance(commands, dict):
        commands = commands["commands"]
    used = set()
    for command in commands:
        used.add((command["command"], ""))
        for key, value in (command.get("options") or {}).items():
            used.add((command["command"], key))
            if command["command"] == "gather" and isinstance(value, dict):
                used |= {(key, inner) for inner in value}
    return used


def test_the_documents_cover_every_command_and_option_and_some_unknown_ones() -> None:
    used = set().union(*(_used(path) for path in CASES))
    known = {(name, option) for name, schema in import_steps.OPTIONS.items()
             for option in ["", *schema]}
    assert known - used == set()
    assert {name for name, _ in used} - import_steps.OPTIONS.keys()  # unknown commands
    assert {pair for pair in used if pair[0] in import_steps.OPTIONS} - known  # and options


def test_the_importer_reads_every_option_the_compiler_writes() -> None:
    flows_ = [Flow.from_dict(json.loads(json.dumps(flow))) for flow in (
        {"language": "nl-NL", "gender": "male", "steps": [
            {"say": {"text": "Hallo.", "loop": 2}},
            {"play": {"url": "https://a.example/x.wav", "loop": 2}}, {"pause": 2},
            {"gather": {"prompt": "Kies.", "max_digits": 2, "finish_on_key": "#",
                        "options": {"1": ["hangup"]}, "no_input": [{"say": "Niets."}],
                        "invalid": [{"say": "Fout."}]}},
            {"record": {"max_length": 30, "silence_timeout": 4, "beep": False,
                        "transcribe": True}},
            {"transfer": {"targets": "+31201234567", "caller_id": "+31612345678",
                          "timeout": 20, "record": True}}]},
    )]
    for flow in flows_:
        for command in compile.start(flow):
            schema = import_steps.OPTIONS[command["command"]]
            assert set(command.get("options", {})) <= set(schema), command
            assert set(command) <= {"command", "options", "conditions"}


def test_kept_commands_compile_back_as_written_and_run_in_the_interpreter() -> None:
    written = json.loads((DATA / "conditions_native.json").read_text())
    flow = OFFLINE.import_document(json.dumps(written)).flow
    written[4]["options"]["locale"] = "en-US"  # the one neutral say gains Bird's default
    assert OFFLINE.compile_flow(flow).native == written
    unknown = OFFLINE.import_document((DATA / "unknown.json").read_bytes()).flow
    commands = OFFLINE.compile_flow(unknown).native
    assert commands[1] == {"command": "sendDtmf", "options": {"keys": "123"}}
    assert commands[4] == {"command": "transfer", "options": {"url": "https://app.example/next"},
                           "conditions": [{"variable": "keys", "operator": "eq", "value": "1"}]}
    run = run_call(CallSetup(call_id="b1", from_="+31201234567", to="+31612345678",
                             call_flow=commands), CalleeScript(keys=["1"]))
    assert run.ignored == ["sendDtmf", "transfer"]
    assert run.trace.end_reason is EndReason.HANGUP


def test_a_native_step_compiles_only_as_a_bird_command() -> None:
    flow = Flow.from_dict({"steps": [{"native": {"provider": "bird",
                                                 "document": "<Pause duration='1'/>"}}]})
    with pytest.raises(FlowValidationError, match="one command object"):
        OFFLINE.compile_flow(flow)
    with pytest.raises(UnsupportedFeature, match="bird"):
        provider_class("bandwidth").offline().check_flow(
            OFFLINE.import_document((DATA / "unknown.json").read_bytes()).flow)


# The reference samples -------------------------------------------------------------------

SAMPLE_OUTCOMES = {  # every sample: the flow's step kinds, or the error it is
    "seed_create_call_request_playback_hangup.json": ["play"] * 4 + ["hangup"],
    "seed_create_call_request_say_hangup.json": ["say", "hangup"],
    "seed_create_call_202_response.json": ["hangup"],  # a call object: names only
    "seed_call_object_schema_example.json": ["native"],  # command "text": unknown
    "gather_command_request.json": "the options of one command",
    "command_202_response_generic.json": "one command, not a call flow",
    "webhook_subscription_voice_inbound.json": "a webhook subscription",
}


@pytest.mark.parametrize("path", sorted(SAMPLES.glob("*.json")), ids=lambda path: path.stem)
def test_every_reference_sample_imports_or_says_why_not(path: Path) -> None:
    outcome = SAMPLE_OUTCOMES[path.name]  # a new sample must be placed here
    if isinstance(outcome, str):
        with pytest.raises(InvalidDocument, match=outcome):
            OFFLINE.import_document(path.read_bytes())
        return
    imported = OFFLINE.import_document(path.read_bytes())
    assert [step.kind for step in imported.flow.steps] == outcome
    assert imported.notes  # each says what did not carry over (to, a gap, the options)
    assert Flow.from_yaml(imported.flow.to_yaml()) == imported.flow


def test_the_say_sample_keeps_its_voice_and_the_call_object_says_what_is_missing() -> None:
    say = OFFLINE.import_document((SAMPLES / "seed_create_call_request_say_hangup.json"
                                   ).read_bytes())
    assert (say.flow.language, say.flow.gender) == (None, "female")  # en-US: the default
    assert [note.at for note in say.notes] == ["/to"]
    call = OFFLINE.import_document((SAMPLES / "seed_create_call_202_response.json").read_bytes())
    assert [(n.at, n.carry) for n in call.notes] == [
        ("/callFlow", Carry.DROPPED), ("/callFlow/commands/0", Carry.DROPPED)]


# Hostile input: typed errors with the JSON pointer of the problem --------------------------

def problems(source: str | bytes) -> list[str]:
    with pytest.raises(InvalidDocument) as caught:
        OFFLINE.import_document(source)
    return [str(issue) for issue in caught.value.issues]


@pytest.mark.parametrize(("source", "found"), [
    ('[{"command": "say",]', ["/0: invalid JSON at line 1, column 20: Expecting property"]),
    ('{"callFlow": [{"command": "say", "options": {"text": }}]}',
     ["/callFlow/0/options/text: invalid JSON at line 1, column 54"]),
    ('[{"command": "hangup", "command": "say"}]', ["/0/command: the key 'command' is written "
                                                   "twice"]),
    ("[1e999]", ["/0: not a finite number"]),
    ('[{"command": "pause", "options": {"length": 1e999}}]', ["/0/options/length: not a "
                                                             "finite number"]),
    ('[{"command": "pause", "options": {"length": NaN}}]', ["/0/options/length: NaN is not"]),
    ('[{"command": "say", "options": {"text": "\\ud800"}}]', ["/0/options/text: not Unicode"]),
    ('[{"command": "say", "options": {"loop": ' + "9" * 5000 + "}}]",
     ["/0/options/loop: " + "9" * 30 + " is not a number"]),
    (b'\xff\xfe[]', ["not UTF-8 text (byte 0)"]),
    ("  ", ["empty document"]),
    ("[]", ["an empty call flow"]),
    ('"say"', ["not a Bird call flow"]),
    ('{"callFlow": "say"}', ["/callFlow: must be a list of commands"]),
    ('{"callFlow": {"commands": 3}}', ["/callFlow/commands: a call object's callFlow"]),
    ('{"to": "+31612345678"}', ["a create-call or update body without 'callFlow'"]),
    ('{"id": "x"}', ["no 'callFlow'"]),
    ('{"record": "yes", "callFlow": [{"command": "hangup"}]}', ["/record: must be true or "
                                                                "false"]),
])
def test_unreadable_documents_name_the_place(source: str | bytes, found: list[str]) -> None:
    got = problems(source)
    assert len(got) == len(found), got
    for line, start in zip(got, found, strict=True):
        assert line.startswith(start), got


def test_wrong_types_are_all_reported_with_their_pointers() -> None:
    got = problems(json.dumps({"callFlow": [
        {"command": "say", "options": {"text": 5, "loop": "2", "voice": None}},
        {"options": {}},
        {"command": "gather", "options": {"say": {"text": ["a"]}, "playback": [],
                                          "maxNumKeys": True}},
        {"command": "record", "options": []},
        {"command": "bridge", "options": {"to": "+31201234567", "callFlow": {}},
         "conditions": [{"variable": "keys", "operator": "eq", "value": 1}, "x"]},
        {"command": "hangup", "conditions": {"variable": "keys"}},
        "hangup"]}))
    assert got == [
        "/callFlow/0/options/text: must be a string",
        "/callFlow/0/options/voice: must be a string",
        "/callFlow/0/options/loop: must be a whole number",
        "/callFlow/1/command: 'command' (the command's name, a string) is missing or not a "
        "string",
        "/callFlow/2/options/maxNumKeys: must be a whole number",
        "/callFlow/2/options/say/text: must be a string",
        "/callFlow/2/options/playback: must be an object",
        "/callFlow/3/options: must be an object",
        "/callFlow/4/options/callFlow: must be a list",
        "/callFlow/4/conditions/0/value: missing or not a string",
        "/callFlow/4/conditions/1: a condition is an object {variable, operator, value}",
        "/callFlow/5/conditions: must be a list",
        "/callFlow/6: a command is an object with 'command' (and 'options', 'conditions')",
    ]


def test_huge_and_deep_documents_are_refused_with_where() -> None:
    assert problems(b"[" + b" " * MAX_DOCUMENT + b"]") == [
        f"larger than {MAX_DOCUMENT} bytes"]
    deep = "[" * 5000 + "]" * 5000  # deeper than the JSON decoder goes
    assert problems(deep) == [f"{'/0' * MAX_DEPTH}: nested more than {MAX_DEPTH} deep"]
    nested: Any = {}
    for _ in range(40):
        nested = {"a": nested}
    amd = problems(json.dumps([{"command": "bridge", "options": {
        "to": "+31201234567", "amdSettings": nested}}]))
    assert amd == ["/0/options/amdSettings" + "/a" * (MAX_DEPTH - 3)
                   + f": nested more than {MAX_DEPTH} deep"]
    many = [{"command": "say", "options": {"text": "Hi."}}] * (MAX_READ + 1)
    assert problems(json.dumps(many)) == [f"{MAX_READ + 1} commands: Bird runs at most 20 in "
                                          f"a call flow, and univoice reads at most {MAX_READ}"]
    conditions = [{"variable": "keys", "operator": "neq", "value": str(i)} for i in range(600)]
    assert problems(json.dumps([{"command": "gather"},
                                {"command": "hangup", "conditions": conditions},
                                {"command": "hangup", "conditions": conditions}])) == [
        f"more than {MAX_CONDITIONS} conditions"]


def test_conditions_too_many_or_too_deep_to_unfold_keep_the_section_as_written() -> None:
    wide = [{"command": "gather", "options": {"maxNumKeys": 3}}] + [  # 992 outcomes
        {"command": "say", "options": {"text": f"Say {i}."}, "conditions": [
            {"variable": "keys", "operator": "neq", "value": f"{i:02}{d}"} for d in range(10)]}
        for i in range(99)]
    deep = [{"command": "gather"}] + [{"command": "gather", "conditions": [
        {"variable": "keys", "operator": "eq", "value": "1"}]}] * 9
    for document, why in ((wide, "too many conditions to unfold"),
                          (deep, f"menus nested more than {MAX_DEPTH_FLOW} deep")):
        imported = OFFLINE.import_document(json.dumps(document))
        assert [step.kind for step in imported.flow.steps] == ["native"] * len(document)
        gather = next(note for note in imported.notes if note.at == "/0")
        assert (gather.carry, why in gather.detail) == (Carry.NATIVE, True), gather
    assert OFFLINE.compile_flow(imported.flow).native == [*deep, {"command": "hangup"}]


def test_a_byte_order_mark_and_more_than_twenty_commands_are_read() -> None:
    many = [{"command": "say", "options": {"text": f"Line {i}."}} for i in range(25)]
    imported = OFFLINE.import_document(b"\xef\xbb\xbf" + json.dumps(many).encode())
    assert len(imported.flow.steps) == 25
    assert [(n.at, n.carry) for n in imported.notes] == [("/20", Carry.CHANGED)]


_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 200) | st.floats(allow_nan=False)
    | st.sampled_from(["", "1", "#", "en-GB", "male", "+31201234567", "https://a.example/x",
                       "{x}", "   "]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                max_size=3),
    max_leaves=6)
_OPTION_NAMES = sorted({o for schema in import_steps.OPTIONS.values() for o in schema})
_CONDITIONS = st.lists(st.fixed_dictionaries({
    "variable": st.sampled_from(["keys", "keys", "lang"]),
    "operator": st.sampled_from(["eq", "neq", "neq", "gt"]),
    "value": st.sampled_from(["", "1", "2", "12", "#", "x"])}), max_size=3)
_COMMANDS = st.fixed_dictionaries(
    {"command": st.sampled_from([*import_steps.OPTIONS, "dial"])},
    optional={"options": st.dictionaries(st.sampled_from([*_OPTION_NAMES, "zz"]), _VALUES,
                                         max_size=4),
              "conditions": _CONDITIONS})


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_COMMANDS, min_size=1, max_size=24) | _VALUES)
def test_any_document_imports_or_is_refused_with_a_typed_error(document: Any) -> None:
    try:
        imported = OFFLINE.import_document(json.dumps(document))
    except InvalidDocument as exc:
        refused: InvalidDocument | None = exc
    else:
        refused = None
    if refused is not None:
        assert refused.issues
        return
    assert Flow.from_yaml(imported.flow.to_yaml()) == imported.flow  # convert's output loads
    assert all(note.at.startswith("/") for note in imported.notes)


# univoice convert --------------------------------------------------------------------------

runner = CliRunner()


def test_convert_prints_the_neutral_flow_and_reports_on_stderr(tmp_path: Path) -> None:
    source = DATA / "gather_menu.json"
    result = runner.invoke(app, ["convert", str(source), "--from", "bird"])
    assert result.exit_code == 0, result.output
    assert Flow.from_yaml(result.stdout) == Flow.from_dict(expected(source)["flow"])
    assert "5 construct(s) did not carry over as they were:" in result.stderr
    assert ("/callFlow/1/options/retries: option 'gather.retries': changed -> steps[1]"
            in result.stderr)
    out = tmp_path / "menu.yaml"
    written = runner.invoke(app, ["convert", str(source), "--from", "bird", "-o", str(out)])
    assert written.exit_code == 0 and written.stdout == ""
    assert Flow.from_yaml(out) == Flow.from_dict(expected(source)["flow"])
    assert "did not carry over" in written.stderr


@pytest.mark.parametrize("to", ["bandwidth", "messagebird", "simulator"])
def test_convert_to_another_provider(to: str) -> None:
    result = runner.invoke(app, ["convert", str(DATA / "gather_menu.json"), "--from", "bird",
                                 "--to", to])
    assert result.exit_code == 0, result.output
    document = result.stdout.strip()
    flow = OFFLINE.import_document((DATA / "gather_menu.json").read_bytes()).flow
    assert document == provider_class(to).offline().compile_flow(flow).body.strip()
    assert "did not carry over" in result.stderr


@pytest.mark.parametrize(("to", "code", "head"), [
    ("bandwidth", 0, "<?xml"), ("simulator", 0, "{"),
    ("messagebird", 1, None),  # send_digits (from sendKeys): MessageBird has no such step
])
def test_convert_a_create_call_body(to: str, code: int, head: str | None) -> None:
    result = runner.invoke(app, ["convert", str(DATA / "create_call.json"), "--from", "bird",
                                 "--to", to])
    assert result.exit_code == code, result.output
    if head is None:
        assert isinstance(result.exception, UnsupportedFeature)
        assert result.exception.path == "steps[0].send_digits"
        return
    assert result.stdout.startswith(head)
    assert "/sendKeys: field 'sendKeys': changed" in result.stderr


def test_convert_refuses_a_kept_bird_command_for_another_provider() -> None:
    result = runner.invoke(app, ["convert", str(DATA / "unknown.json"), "--from", "bird",
                                 "--to", "bandwidth"])
    assert result.exit_code == 1
    assert isinstance(result.exception, UnsupportedFeature)
    assert result.exception.alternatives == ["bird"]
    bird = runner.invoke(app, ["convert", str(DATA / "unknown.json"), "--from", "bird",
                               "--to", "bird"])
    assert bird.exit_code == 0, bird.output
    assert json.loads(bird.stdout)[1] == {"command": "sendDtmf", "options": {"keys": "123"}}
