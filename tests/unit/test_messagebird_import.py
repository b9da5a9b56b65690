"""MessageBird call flows read into neutral flows (``univoice_messagebird.importer``).

The round trip. Statement: for every generated flow that ``fit`` brings within
MessageBird's reach and that ``inline`` then keeps to what MessageBird runs by itself
(``compile.needs_app(flow)`` is False), importing the call flow univoice compiles for it
(``MessageBirdProvider.compile_flow``) gives a flow holding no native step that ``simulate``
runs exactly like the original for every generated callee script
(``univoice.simulator.compare.differences`` is empty); and when the imported flow runs
inline too, compiling it gives back the very same call flow (a fixed point).

Why ``inline``: a flow that needs the webhook app compiles to ``fetchCallFlow`` steps whose
URLs name the app's stored flow; the menus, re-prompts and free input live there, not in
the document, so an import can only say so (a redirect and a note: tested on its own
below). ``inline`` removes re-prompts (``retries``), turns free-input gathers into menus
and menus nested in a branch into a say, and makes say texts stop reading variables (no
gather sets them any more): what remains is every step kind and option MessageBird
compiles inline. Equality of the flows is not the statement: compiling loses what does
not change a call (a flow-level language and gender are written on each say, an option
with no steps disappears, a trailing hangup appears, a free gather and a menu whose
outcomes have no steps run alike). Scripts never use ``hang_up_at`` (step paths a call
flow does not carry).
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.support.fake_messagebird import ACCESS_KEY, FakeMessageBird
from tests.support.live_server import LiveServer
from tests.support.messagebird_flows import fit
from typer.testing import CliRunner

from univoice.cli import app
from univoice.errors import FlowValidationError
from univoice.flow import Flow, Native
from univoice.flow.rules import PLACEHOLDER
from univoice.migrate import Carry, Imported, InvalidDocument, Runs, portability
from univoice.plugins import provider_class
from univoice.simulator import CalleeScript, simulate
from univoice.simulator.compare import differences
from univoice.testing import callee_scripts, flows
from univoice_messagebird import MessageBirdProvider, compile
from univoice_messagebird.import_read import ACTIONS, STEP_FIELDS
from univoice_messagebird.interpreter import CallSetup, run_call

DATA = Path(__file__).resolve().parents[1] / "data" / "import" / "messagebird"
SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "reference" / "samples" / (
    "messagebird")
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MB = MessageBirdProvider.offline()
FILES = sorted(p.name for p in DATA.glob("*.json"))


def imported(source: str | bytes) -> Imported:
    return MB.import_document(source)


def note_lines(result: Imported) -> list[str]:
    return [f"{n.at}: {n.construct}: {n.carry.name.lower()}" + (f" -> {n.step}" if n.step
                                                                 else "")
            for n in result.notes]


# (a) Round trip: import(compile(flow)) runs like flow -------------------------------------

_KEYS = "0123456789*#"


def _unread(text: str) -> str:
    return PLACEHOLDER.sub(lambda m: m.group(0) if m.group(1) is None else m.group(1), text)


def _inline(steps: list[Any], nested: bool) -> list[Any]:
    out: list[Any] = []
    for step in steps:
        kind, body = next(iter(step.items())) if isinstance(step, dict) else (step, None)
        if kind == "say":
            step = ({"say": {**body, "text": _unread(body["text"])}} if isinstance(body, dict)
                    else {"say": _unread(body)})
        elif kind == "gather" and nested:
            step = {"say": "A menu inside a menu."}
        elif kind == "gather":
            body.pop("retries", None)
            if body.pop("variable", None) is not None:
                body["options"] = {next(k for k in _KEYS if k != body.get("finish_on_key")): []}
            body["prompt"] = _inline(body.get("prompt", []), False)
            for key, branch in body["options"].items():
                body["options"][key] = _branch(branch)
            for name in ("no_input", "invalid"):
                if name in body:
                    body[name] = _branch(body[name])
        out.append(step)
    return out


def _branch(branch: Any) -> list[Any]:
    return _inline(branch.get("steps", []) if isinstance(branch, dict) else branch, True)


def inline(flow: Flow) -> Flow:
    """``flow`` kept to what MessageBird runs without the webhook app (see the docstring)."""
    document = flow.to_dict()
    document["steps"] = _inline(document["steps"], False)
    return Flow.from_dict(document)


@st.composite
def cases(draw: st.DrawFn) -> tuple[Flow, CalleeScript]:
    flow = inline(fit(draw(flows(max_depth=2, max_steps=5))))
    script = draw(callee_scripts(flow)).model_copy(update={"hang_up_at": None})
    return flow, script


@settings(max_examples=int(os.environ.get("UNIVOICE_IMPORT_EXAMPLES", "150")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(cases())
def test_compiled_flows_import_back_to_flows_that_run_alike(
        case: tuple[Flow, CalleeScript]) -> None:
    flow, script = case
    assert not compile.needs_app(flow)
    document = MB.compile_flow(flow)
    result = imported(document.body)
    assert not [n for n in result.notes if n.carry is Carry.NATIVE], note_lines(result)
    expected = simulate(flow, script, call_id="mb1")
    actual = simulate(result.flow, script, call_id="mb1")
    problems = differences(expected, actual)
    assert not problems, "\n".join([*problems, document.body, result.flow.to_yaml()])
    if not compile.needs_app(result.flow):
        assert MB.compile_flow(result.flow).native == document.native


def test_a_menu_whose_outcomes_have_no_steps_comes_back_as_free_input() -> None:
    flow = Flow.from_yaml("steps:\n  - gather: {prompt: Press 1., options: {'1': []}}\n")
    gather = imported(MB.compile_flow(flow).body).flow.steps[0]
    assert gather.kind == "gather" and gather.options is None
    assert gather.variable is not None and gather.variable.startswith("digits_")


def test_a_flow_that_needs_the_app_imports_as_redirects_and_says_so() -> None:
    """Outside the round trip: the continuation URLs univoice's app serves become
    redirects (the menu they continue lives in the app), each with a note saying so."""
    flow = Flow.load(EXAMPLES / "support_ivr_portable.yaml")
    links = compile.Links(flow="https://voice.example.com/univoice/messagebird/flow/f1/")
    document = compile.start(flow, links)
    result = imported(json.dumps(document))
    fetches = [s for s in document["steps"] if s["action"] == "fetchCallFlow"]
    continuations = [n for n in result.notes if "continuation univoice's webhook app" in
                     n.detail]
    assert len(fetches) == len(continuations) == 2
    gather = result.flow.steps[1]
    assert gather.kind == "gather" and gather.variable == compile.KEYS_VARIABLE
    assert gather.no_input is not None
    assert gather.no_input.steps[0].url.endswith("input=none")
    assert result.flow.steps[2].kind == "redirect"
    # Offline (relative URLs, as `univoice flow render` prints them) they cannot be
    # redirects: kept native, with the same advice.
    offline = imported(MB.compile_flow(flow).body)
    assert [n.carry for n in offline.notes] == [Carry.NATIVE, Carry.NATIVE]
    assert all("convert the neutral flow" in n.detail for n in offline.notes)


# (b) Hand-written documents: every action and option ---------------------------------------


@pytest.mark.parametrize("name", FILES)
def test_hand_written_document(name: str) -> None:
    expected = yaml.safe_load((DATA / name).with_suffix(".expected.yaml").read_text())
    result = imported((DATA / name).read_bytes())
    assert result.flow == Flow.from_dict(expected["flow"])
    assert note_lines(result) == expected["notes"]
    assert result.provider == "messagebird"


def _used() -> tuple[dict[str, set[str]], set[str]]:
    options: dict[str, set[str]] = {}
    fields: set[str] = set()
    for name in FILES:
        document = json.loads((DATA / name).read_text())
        flow = document.get("callFlow") or (document.get("data") or [document])[0]
        for step in flow["steps"]:
            options.setdefault(step["action"], set()).update(step.get("options", {}))
            fields.update(step)
    return options, fields


def test_the_documents_cover_every_action_option_and_step_field() -> None:
    options, fields = _used()
    assert set(ACTIONS) < set(options)  # and an action MessageBird does not document
    missing = {action: sorted(set(readers) - options[action])
               for action, (readers, _) in ACTIONS.items() if set(readers) - options[action]}
    assert not missing
    assert fields > STEP_FIELDS  # and a field no step has


def _removals(document: Any, dropped: set[int]) -> list[tuple[str, Any]]:
    """(pointer, document without that option or step field) for each one there is that
    is not a default, in a step not ``dropped`` as a whole."""
    flow = document.get("callFlow") or (document.get("data") or [document])[0]
    found = []
    for index, step in enumerate(flow["steps"]):
        if index in dropped:
            continue
        for key in [k for k in step if k not in ("id", "action", "options")
                    and step[k] not in _DEFAULTS.get(k, ())]:
            changed = copy.deepcopy(document)
            target = changed.get("callFlow") or (changed.get("data") or [changed])[0]
            del target["steps"][index][key]
            found.append((f"/steps/{index}/{key}", changed))
        for key in [k for k, v in step.get("options", {}).items()
                    if v not in _DEFAULTS.get(k, ())]:
            changed = copy.deepcopy(document)
            target = changed.get("callFlow") or (changed.get("data") or [changed])[0]
            del target["steps"][index]["options"][key]
            found.append((f"/steps/{index}/options/{key}", changed))
    return found


# Values that say what MessageBird does when the option is absent: removing them changes
# nothing, rightly.
_DEFAULTS: dict[str, tuple[Any, ...]] = {
    "maxNumKeys": (1,), "maxLength": (0,), "finishOnKey": ("none",), "repeat": (1,),
    "transcribe": (False, "false")}


@pytest.mark.parametrize("name", FILES)
def test_no_option_is_ignored(name: str) -> None:
    """Taking away any option or step field changes what the import gives (its flow or
    its notes): each is mapped, noted, or kept native. Step ids only name jump targets."""
    document = json.loads((DATA / name).read_text())
    before = imported(json.dumps(document))
    never = {int(n.at.split("/")[2]) for n in before.notes if n.at.endswith("/conditions")
             and n.carry is Carry.DROPPED}  # steps that never run: dropped whole
    for at, changed in _removals(document, never):
        try:
            after = imported(json.dumps(changed))
        except InvalidDocument:
            continue  # a required option: its absence is an error, not a default
        assert (after.flow, note_lines(after)) != (before.flow, note_lines(before)), at


def test_braces_stay_text_and_long_loops_come_back_whole() -> None:
    flow = Flow.from_yaml("steps:\n  - say: {text: 'Press {{1}} now', loop: 25}\n")
    document = MB.compile_flow(flow).native
    assert [s["options"].get("repeat") for s in document["steps"][:3]] == [10, 10, 5]
    back = imported(json.dumps(document)).flow.steps[0]
    assert back.model_dump(include={"text", "loop"}) == {"text": "Press {{1}} now", "loop": 25}


def _interpret(call_flow: dict[str, Any], script: CalleeScript) -> Any:
    setup = CallSetup("mb-n", "+31201234567", "+31612345678", call_flow)
    return run_call(setup, script, lambda *_: (404, "")).trace


@pytest.mark.parametrize("name", ["gotos.json", "gotos_tangled.json", "menu.json"])
@pytest.mark.parametrize("keys", [[], ["1"], ["2"], ["1", "1", "2"], ["9"], [None, "1"],
                                  ["2", "123456#"]])
def test_native_steps_compile_back_as_written(name: str, keys: list[str | None]) -> None:
    """What is kept native (loops, stray jumps, conditions) compiles back to a call flow
    that MessageBird runs exactly as it ran the original."""
    original = json.loads((DATA / name).read_text())
    again = MB.compile_flow(imported(json.dumps(original)).flow).native
    script = CalleeScript(keys=keys)
    assert differences(_interpret(original, script), _interpret(again, script)) == []


def test_native_steps_run_nowhere_else_and_keep_out_of_univoices_ids() -> None:
    kept = imported((DATA / "gotos.json").read_bytes()).flow
    rows = {name: portability(kept, provider_class(name).offline())
            for name in ("simulator", "bandwidth", "bird", "messagebird")}
    assert {name: row.runs for name, row in rows.items()} == {
        "simulator": Runs.CANNOT, "bandwidth": Runs.CANNOT, "bird": Runs.CANNOT,
        "messagebird": Runs.NATIVELY}
    assert rows["bird"].step == "steps[0].native"
    with pytest.raises(FlowValidationError, match="form univoice gives its own steps"):
        MB.compile_flow(Flow(steps=[Native(provider="messagebird",
                                           document={"id": "s1", "action": "hangup"})]))
    with pytest.raises(FlowValidationError, match="not text"):
        MB.compile_flow(Flow(steps=[Native(provider="messagebird", document="<Hangup/>")]))
    # A univoice-compiled flow edited by hand (a loop back to "s0"): its ids are renamed.
    looped = {"steps": [
        {"id": "s0", "action": "say", "options": {"payload": "Hi", "language": "en-US"}},
        {"id": "s1", "action": "pause", "onKeypressGoto": "s0", "options": {"length": 2}}]}
    result = imported(json.dumps(looped))
    documents = [s.document for s in result.flow.steps if isinstance(s, Native)]
    assert [(d["id"], d.get("onKeypressGoto")) for d in documents] == [
        ("mb-s0", None), ("mb-s1", "mb-s0")]
    assert "renamed" in result.notes[0].detail
    script = CalleeScript(keys=["1", None])
    assert differences(_interpret(looped, script), _interpret(
        MB.compile_flow(result.flow).native, script)) == []


# (c) The documented samples -----------------------------------------------------------------

SAMPLE_FILES = sorted(p.name for p in SAMPLES.glob("*.json"))
FLOWS = {"go_callflow_say_pause_record.json", "java_callflow_view_all_options.json",
         "php_callflow_create_201.json", "php_callflow_create_request.json",
         "seed_callflow_request_transfer_hangup.json"}


@pytest.mark.skipif(not SAMPLE_FILES, reason="the shared samples are not checked out")
@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_documented_sample(name: str) -> None:
    """Each call flow imports; anything else is a typed error saying it is no call flow
    (or several, or an error answer), where."""
    data = (SAMPLES / name).read_bytes()
    if name in FLOWS:
        result = imported(data)
        assert not [n for n in result.notes if n.carry is Carry.NATIVE]
        return
    with pytest.raises(InvalidDocument) as caught:
        imported(data)
    issue = caught.value.issues[0]
    assert any(words in issue.message for words in (
        "not a call flow", "call flows: a document converts one", "an error answer"))
    assert issue.path in ("", "/data", "/data/0", "/errors")


@pytest.mark.skipif(not SAMPLE_FILES, reason="the shared samples are not checked out")
def test_documented_samples_read_as_they_say() -> None:
    go = imported((SAMPLES / "go_callflow_say_pause_record.json").read_bytes()).flow
    assert go.to_dict() == {"language": "en-US", "gender": "male", "steps": [
        {"say": {"text": "Hello"}}, {"pause": {"seconds": 10.0}},
        {"record": {"max_length": 10.0, "silence_timeout": 5.0, "transcribe": True,
                    "transcribe_language": "en-US"}}]}
    java = imported((SAMPLES / "java_callflow_view_all_options.json").read_bytes())
    assert java.flow.record and java.flow.steps[0].record  # "record": "both"
    assert java.flow.steps[0].targets == ("+31612345678",)
    assert [n.at for n in java.notes] == ["/data/0/steps/0/options",
                                          "/data/0/steps/0/options/mask"]
    assert "'transcribe'" in java.notes[0].construct  # a record option, on a transfer
    listed = SAMPLES / "py_callflow_list.json"
    with pytest.raises(InvalidDocument, match="2 call flows"):
        imported(listed.read_bytes())


# (d) Hostile input ------------------------------------------------------------------------



def _flow(*steps: str) -> str:
    return '{"steps": [' + ", ".join(steps) + "]}"


_SAY = '{"action": "say", "options": {"payload": "Hi", "language": "en-US"}}'
HOSTILE: dict[str, tuple[str | bytes, str, str]] = {
    "malformed": ('{"steps": [\n  {"action": "say",}\n]}', "line 2, column 20", "not JSON"),
    "not UTF-8": (b'{"steps": [{"action": "\xff"}]}', "", "not UTF-8"),
    "a list": ("[1, 2]", "", "a JSON object with steps"),
    "no steps": ('{"id": "x", "status": "ended"}', "", "not a call flow"),
    "steps not a list": ('{"steps": {"action": "hangup"}}', "/steps", "list of steps"),
    "no step": ('{"steps": []}', "/steps", "at least one step"),
    "step not an object": (_flow('"hangup"'), "/steps/0", "a JSON object"),
    "no action": (_flow('{"options": {}}'), "/steps/0/action", "required"),
    "options not an object": (_flow('{"action": "say", "options": []}'), "/steps/0/options",
                              "JSON object"),
    "payload a number": (_flow('{"action": "say", "options": {"payload": 5}}'),
                         "/steps/0/options/payload", "expected a string"),
    "required option": (_flow('{"action": "play", "options": {}}'), "/steps/0/options/media",
                        "play needs its media"),
    "length not a number": (_flow('{"action": "pause", "options": {"length": "long"}}'),
                            "/steps/0/options/length", "expected a number"),
    "repeat not whole": (_flow('{"action": "say", "options": {"payload": "x", '
                               '"repeat": 1.5}}'), "/steps/0/options/repeat", "whole number"),
    "transcribe a word": (_flow('{"action": "record", "options": {"transcribe": "yes"}}'),
                          "/steps/0/options/transcribe", "true or false"),
    "condition not an object": (_flow(f'{_SAY[:-1]}, "conditions": ["x"]}}'),
                                "/steps/0/conditions/0", "a JSON object"),
    "goto a number": (_flow(f'{_SAY[:-1]}, "onKeypressGoto": 3}}'),
                      "/steps/0/onKeypressGoto", "expected a string"),
    "title a number": ('{"title": 3, "steps": [' + _SAY + "]}", "/title", "expected a string"),
    "envelope of calls": ('{"data": [{"id": "c1", "status": "ended"}]}', "/data/0",
                          "not a call flow"),
    "error answer": ('{"data": null, "errors": [{"code": 13, "description": "Not found"}]}',
                     "/errors", "Not found"),
    "duplicate key": (_flow('{"action": "say", "action": "hangup"}'), "/steps/0",
                      "key 'action' appears twice"),
    "NaN": (_flow('{"action": "pause", "options": {"length": NaN}}'), "", "NaN"),
    "huge number": (_flow('{"action": "pause", "options": {"length": 1e999}}'),
                    "/steps/0/options/length", "too large"),
    "5000 digits": (_flow('{"action": "pause", "options": {"length": ' + "9" * 5000 + "}}"),
                    "", "not JSON"),
    "lone surrogate": (_flow('{"action": "say", "options": {"payload": "\\ud800"}}'),
                       "/steps/0/options/payload", "lone surrogate"),
    "deep": (_flow(f'{_SAY[:-1]}, "x": {"[" * 40 + "]" * 40}}}'), "/steps/0/x" + "/0" * 30,
             "nested deeper than 32"),
    "deeper than the parser goes": ('{"steps": ' + "[" * 100_000 + "]" * 100_000 + "}", "",
                                    "nested deeper"),
    "too many steps": (_flow(*[_SAY] * 1001), "/steps", "more than 1000 steps"),
    "huge": (_flow(*[_SAY] * 20_000), "", "larger than 1048576 bytes"),
    "empty": (" \n ", "", "empty document"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_input_is_a_typed_error_with_its_position(name: str) -> None:
    source, where, message = HOSTILE[name]
    with pytest.raises(InvalidDocument) as caught:
        imported(source)
    issue = caught.value.issues[0]
    assert (issue.path, message in issue.message) == (where, True), issue


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(InvalidDocument) as caught:
        imported('{"title": 1, "steps": [{"action": "play", "options": {"media": 2}}, 3, '
                 '{"action": "pause", "options": {"length": "x"}, "maxNumKeys": "y"}]}')
    assert [i.path for i in caught.value.issues] == [
        "/title", "/steps/0/options/media", "/steps/1", "/steps/2/options/length",
        "/steps/2/maxNumKeys"]


# (e) The command line ---------------------------------------------------------------------

runner = CliRunner()


@pytest.mark.parametrize("name", ["menu.json", "stored.json"])
def test_convert_prints_the_flow_and_reports_what_changed(name: str, tmp_path: Path) -> None:
    path = str(DATA / name)
    result = runner.invoke(app, ["convert", path, "--from", "messagebird"])
    assert result.exit_code == 0, result.output
    expected = yaml.safe_load((DATA / name).with_suffix(".expected.yaml").read_text())
    assert Flow.from_yaml(result.stdout) == Flow.from_dict(expected["flow"])
    notes = imported((DATA / name).read_bytes()).notes
    report = [line for line in result.stderr.splitlines() if line.startswith("  /")]
    assert report == [f"  {note}" for note in notes]
    assert (f"{len(notes)} construct(s) did not carry over" if notes
            else "everything carried over") in result.stderr
    out = tmp_path / "flow.yaml"
    written = runner.invoke(app, ["convert", path, "--from", "messagebird", "-o", str(out)])
    assert written.exit_code == 0 and written.stdout == ""
    assert Flow.from_yaml(out) == Flow.from_dict(expected["flow"])


@pytest.mark.parametrize("target", ["bandwidth", "bird", "simulator", "messagebird"])
def test_convert_to_each_provider(target: str) -> None:
    result = runner.invoke(app, ["convert", str(DATA / "stored.json"), "--from",
                                 "messagebird", "--to", target])
    assert result.exit_code == 0, result.output
    assert "We are closed. Leave a message after the beep." in result.stdout
    assert "everything carried over" in result.stderr
    natives = runner.invoke(app, ["convert", str(DATA / "gotos.json"), "--from",
                                  "messagebird", "--to", target])
    if target == "messagebird":
        assert natives.exit_code == 0
        assert '"onKeypressGoto":"top"' in natives.stdout
    else:  # another provider cannot run MessageBird's own steps: the step is named
        assert natives.exit_code == 1
        assert "steps[0].native" in str(natives.exception)


def test_convert_refuses_what_it_cannot_read(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"steps": [\n  {"action": "say",}\n]}')
    result = runner.invoke(app, ["convert", str(bad), "--from", "messagebird"])
    assert result.exit_code == 1
    assert isinstance(result.exception, InvalidDocument)
    assert "line 2, column 20" in str(result.exception)


def test_port_tells_where_an_imported_flow_runs(tmp_path: Path) -> None:
    flow = tmp_path / "imported.yaml"
    flow.write_text(imported((DATA / "menu_jump.json").read_bytes()).flow.to_yaml())
    result = runner.invoke(app, ["port", str(flow), "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["provider"]: row for row in json.loads(result.stdout)}
    assert rows["simulator"]["runs"] == "natively"
    assert rows["messagebird"]["runs"] == "with_app"  # free input goes through the app
    assert rows["bandwidth"]["runs"] == "with_app"


def test_convert_a_stored_flow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--stored ID`` reads the flow over REST (a fake MessageBird on 127.0.0.1)."""
    monkeypatch.chdir(tmp_path)  # no univoice.toml: the environment configures it
    monkeypatch.delenv("UNIVOICE_CONFIG", raising=False)
    fake = FakeMessageBird()
    body = json.loads((DATA / "stored.json").read_text())["data"][0]
    stored = {k: body[k] for k in ("title", "steps")}
    with LiveServer(fake.asgi(), name="fake-messagebird") as server:
        created = httpx.post(f"{server.url}/call-flows", json=stored,
                             headers={"Authorization": f"AccessKey {ACCESS_KEY}"})
        assert created.status_code == 201, created.text
        flow_id = created.json()["data"][0]["id"]
        env = {"UNIVOICE_MESSAGEBIRD__ACCESS_KEY": ACCESS_KEY,
               "UNIVOICE_MESSAGEBIRD__API_URL": server.url}
        result = runner.invoke(app, ["convert", "--stored", flow_id, "--from", "messagebird"],
                               env=env)
        missing = runner.invoke(app, ["convert", "--stored", "nope", "--from",
                                      "messagebird"], env=env)
    assert result.exit_code == 0, result.output
    expected = yaml.safe_load((DATA / "stored.expected.yaml").read_text())["flow"]
    assert Flow.from_yaml(result.stdout) == Flow.from_dict(expected)
    assert missing.exit_code == 1
