"""Documents and flows round-trip: YAML, JSON, dicts with shorthands, the builder, the schema.

Also checks the strategies of ``univoice.testing.flows`` themselves: they only generate
valid flows, respect their bounds and reach every feature.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import phonenumbers
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from univoice.capabilities import ALL_FEATURES, Feature, features_of
from univoice.flow import (
    Branch,
    Conference,
    Flow,
    FlowBuilder,
    Gather,
    Hangup,
    Pause,
    Play,
    Record,
    Redirect,
    Say,
    SendDigits,
    Step,
    Transfer,
)
from univoice.flow.documents import dump_yaml
from univoice.flow.fields import MAX_DEPTH
from univoice.flow.rules import placeholders
from univoice.testing.flows import (
    PHONE_NUMBERS,
    SIP_URIS,
    flow_documents,
    flows,
    flows_with_documents,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

# ---------------------------------------------------------------------------------------
# Round trips


@settings(deadline=None, max_examples=100)
@given(flows())
def test_yaml_and_json_round_trip(flow: Flow) -> None:
    assert flow.warnings() == []
    assert Flow.from_yaml(flow.to_yaml()) == flow
    assert Flow.from_json(flow.to_json()) == flow
    assert Flow.from_json(flow.to_json(indent=None).encode()) == flow
    assert Flow.from_dict(flow.to_dict()) == flow


@settings(deadline=None, max_examples=100)
@given(flows())
def test_documents_are_stable(flow: Flow) -> None:
    doc = flow.to_dict()
    assert Flow.from_dict(doc).to_dict() == doc
    assert json.loads(flow.to_json()) == doc  # the JSON is the document, nothing more


@settings(deadline=None, max_examples=100)
@given(flows_with_documents())
def test_documents_with_shorthands_load_to_their_flow(pair: tuple[Flow, dict[str, Any]]
                                                      ) -> None:
    flow, doc = pair
    assert Flow.from_dict(doc) == flow
    assert Flow.from_yaml(dump_yaml(doc)) == flow  # int menu keys stay ints in YAML
    assert Flow.from_json(json.dumps(doc)) == flow


@settings(deadline=None, max_examples=100)
@given(flow_documents(max_depth=2, max_steps=4))
def test_flow_documents_are_accepted(doc: dict[str, Any]) -> None:
    flow = Flow.from_dict(doc)
    assert flow.warnings() == []


# ---------------------------------------------------------------------------------------
# The builder


def _branch(branch: Branch | None) -> FlowBuilder | None:
    return None if branch is None else _replay(branch.steps, Flow.builder())


def _replay(steps: Sequence[Step], builder: FlowBuilder) -> FlowBuilder:
    """Write ``steps`` again with the builder's methods (branches as builders too)."""
    for step in steps:
        if isinstance(step, Say):
            builder.say(step.text, language=step.language, gender=step.gender,
                        voice=step.voice, loop=step.loop)
        elif isinstance(step, Play):
            builder.play(step.url, loop=step.loop)
        elif isinstance(step, Pause):
            builder.pause(step.seconds)
        elif isinstance(step, Gather) and step.options is not None:
            builder.menu(list(step.prompt),
                         options={k: _branch(b) for k, b in step.options.items()},
                         no_input=_branch(step.no_input), invalid=_branch(step.invalid),
                         retries=step.retries, timeout=step.timeout,
                         max_digits=step.max_digits, finish_on_key=step.finish_on_key)
        elif isinstance(step, Gather):
            assert step.variable is not None
            builder.gather(step.variable, list(step.prompt), max_digits=step.max_digits,
                           timeout=step.timeout, finish_on_key=step.finish_on_key,
                           no_input=_branch(step.no_input), retries=step.retries)
        elif isinstance(step, Record):
            builder.record(max_length=step.max_length, silence_timeout=step.silence_timeout,
                           finish_on_key=step.finish_on_key, beep=step.beep,
                           transcribe=step.transcribe,
                           transcribe_language=step.transcribe_language)
        elif isinstance(step, Transfer):
            builder.transfer(*step.targets, caller_id=step.caller_id, timeout=step.timeout,
                             record=step.record, no_answer=_branch(step.no_answer))
        elif isinstance(step, Conference):
            builder.conference(step.name, muted=step.muted, start_on_enter=step.start_on_enter,
                               end_on_exit=step.end_on_exit, hold_music=step.hold_music,
                               record=step.record)
        elif isinstance(step, SendDigits):
            builder.send_digits(step.digits)
        elif isinstance(step, Redirect):
            builder.redirect(step.url, method=step.method)
        else:
            assert isinstance(step, Hangup)
            builder.hangup()
    return builder


@settings(deadline=None, max_examples=100)
@given(flows())
def test_the_builder_writes_every_flow(flow: Flow) -> None:
    options: dict[str, Any] = {k: getattr(flow, k) for k in (
        "name", "description", "language", "gender", "voice", "record", "machine_detection")}
    if flow.machine_detection and flow.machine_detection.on_machine:
        on_machine = _replay(flow.machine_detection.on_machine.steps, Flow.builder())
        options["machine_detection"] = {"on_machine": on_machine}
    built = _replay(flow.steps, Flow.builder(**options)).build()
    assert built == flow


IVR_YAML = """\
name: Acme
language: en-US
machine_detection: {on_machine: [{say: Please call us back.}]}
steps:
  - say: Welcome to Acme.
  - gather:
      prompt: [For sales press 1., {pause: 1}, For your account press 2.]
      retries: 2
      options:
        1:
          - transfer:
              targets: ["+31201234567", "sip:sales@example.com"]
              caller_id: "+31201234560"
              no_answer: [{say: Sales is busy.}, {record: {transcribe: true}}]
          - hangup
        2:
          - gather: {variable: account, max_digits: 8, finish_on_key: "#",
                     prompt: Enter your account number then hash.}
          - say: Account {account}, one moment.
          - redirect: {url: "https://app.example.com/account", method: GET}
      no_input: [{say: Goodbye.}, hangup]
  - conference: {name: lobby, muted: true, hold_music: "https://example.com/hold.mp3"}
"""


def test_builder_and_yaml_of_the_same_ivr_are_equal() -> None:
    built = (
        Flow.builder(name="Acme", language="en-US",
                     machine_detection={"on_machine": Flow.builder()
                                        .say("Please call us back.").steps()})
        .say("Welcome to Acme.")
        .menu(["For sales press 1.", Pause(seconds=1), "For your account press 2."],
              retries=2,
              options={
                  "1": Flow.builder()
                  .transfer("+31201234567", "sip:sales@example.com",
                            caller_id="+31201234560",
                            no_answer=Flow.builder().say("Sales is busy.")
                            .record(transcribe=True))
                  .hangup(),
                  "2": Flow.builder()
                  .gather("account", "Enter your account number then hash.", max_digits=8,
                          finish_on_key="#")
                  .say("Account {account}, one moment.")
                  .redirect("https://app.example.com/account", method="GET"),
              },
              no_input=Flow.builder().say("Goodbye.").hangup())
        .conference("lobby", muted=True, hold_music="https://example.com/hold.mp3")
        .build()
    )
    from_yaml = Flow.from_yaml(IVR_YAML)
    assert built == from_yaml
    assert Flow.from_json(built.to_json()) == from_yaml


def test_example_builder_script_matches_its_yaml() -> None:
    script, yaml_file = EXAMPLES / "build_support_ivr.py", EXAMPLES / "support_ivr.yaml"
    if not (script.exists() and yaml_file.exists()):
        pytest.skip("examples not present")
    spec = importlib.util.spec_from_file_location("build_support_ivr", script)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.build() == Flow.from_yaml(yaml_file)


# ---------------------------------------------------------------------------------------
# JSON Schema


def _step_unions(node: Any) -> Iterator[list[Any]]:
    """Every ``oneOf`` list in the schema (steps and prompts)."""
    if isinstance(node, dict):
        if isinstance(node.get("oneOf"), list):
            yield node["oneOf"]
        for value in node.values():
            yield from _step_unions(value)
    elif isinstance(node, list):
        for value in node:
            yield from _step_unions(value)


def test_json_schema_structure() -> None:
    schema = Flow.json_schema()
    json.dumps(schema)  # plain JSON
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["type"] == "object"
    assert schema["required"] == ["steps"]
    assert schema["additionalProperties"] is False
    steps = schema["properties"]["steps"]
    assert steps["type"] == "array"
    kinds = {next(iter(option["required"])) for option in steps["items"]["oneOf"]
             if "required" in option}
    assert kinds == {"say", "play", "pause", "gather", "record", "transfer", "conference",
                     "send_digits", "redirect", "hangup", "native"}
    assert {"const": "hangup"} in steps["items"]["oneOf"]
    for name, definition in schema["$defs"].items():
        assert "kind" not in definition.get("properties", {}), name
    assert set(schema["$defs"]["Say"]["required"]) == {"text"}
    assert schema["$defs"]["Transfer"]["properties"]["targets"]["maxItems"] == 10


def test_json_schema_is_valid_json_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator.check_schema(Flow.json_schema())


def test_json_schema_accepts_a_bare_record() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(Flow(steps=[Record()]).to_dict(), Flow.json_schema())


_SCHEMA = Flow.json_schema()


@pytest.mark.skipif(importlib.util.find_spec("jsonschema") is None,
                    reason="jsonschema is not installed (not a dependency)")
@settings(deadline=None, max_examples=60)
@given(flows())
def test_every_document_validates_against_the_schema(flow: Flow) -> None:
    jsonschema = importlib.import_module("jsonschema")
    errors = list(jsonschema.Draft202012Validator(_SCHEMA).iter_errors(flow.to_dict()))
    assert errors == []


def test_json_schema_accepts_the_examples_as_written() -> None:
    """Shorthands as the examples write them: `- say: Hello`, bare branch lists,
    `prompt: text`, `transfer: '+31...'` (integer menu keys are YAML's, not JSON's)."""
    jsonschema = pytest.importorskip("jsonschema")
    from univoice.flow.documents import parse_yaml

    doc = parse_yaml(IVR_YAML)
    Flow.from_dict(doc)  # valid
    jsonschema.validate(json.loads(json.dumps(doc)), _SCHEMA)


# ---------------------------------------------------------------------------------------
# The strategies themselves


@pytest.mark.parametrize("number", PHONE_NUMBERS)
def test_strategy_phone_numbers_are_valid(number: str) -> None:
    assert phonenumbers.is_valid_number(phonenumbers.parse(number, None))
    assert Transfer(targets=[number], caller_id=number).targets == (number,)


@pytest.mark.parametrize("uri", SIP_URIS)
def test_strategy_sip_uris_are_valid(uri: str) -> None:
    assert Transfer(targets=[uri]).targets == (uri,)


def _depth(steps: Sequence[Step]) -> int:
    """How deep branches nest below ``steps`` (0: no branches)."""
    deepest = 0
    for step in steps:
        branches: list[Branch] = []
        if isinstance(step, Gather):
            branches = [*(step.options or {}).values(),
                        *(b for b in (step.no_input, step.invalid) if b is not None)]
        elif isinstance(step, Transfer) and step.no_answer is not None:
            branches = [step.no_answer]
        for branch in branches:
            deepest = max(deepest, 1 + _depth(branch.steps))
    return deepest


@settings(deadline=None, max_examples=60)
@given(st.data(), st.integers(0, MAX_DEPTH), st.integers(1, 8))
def test_flows_respect_their_bounds(data: st.DataObject, max_depth: int, max_steps: int
                                    ) -> None:
    flow = data.draw(flows(max_depth=max_depth, max_steps=max_steps))
    assert len(flow.steps) <= max_steps
    assert _depth(flow.steps) <= max_depth
    if flow.machine_detection and flow.machine_detection.on_machine:
        assert 1 + _depth(flow.machine_detection.on_machine.steps) <= max_depth
    assert flow.warnings() == []
    for steps in _step_lists(flow):  # hangup and redirect only end a list
        assert all(step.kind not in ("hangup", "redirect") for step in steps[:-1])


def _step_lists(flow: Flow) -> Iterator[Sequence[Step]]:
    yield flow.steps
    if flow.machine_detection and flow.machine_detection.on_machine:
        yield flow.machine_detection.on_machine.steps
    for _, step in flow.walk():
        if isinstance(step, Gather):
            for branch in [*(step.options or {}).values(), step.no_input, step.invalid]:
                if branch is not None:
                    yield branch.steps
        elif isinstance(step, Transfer) and step.no_answer is not None:
            yield step.no_answer.steps


@pytest.mark.parametrize(("args", "message"), [
    ({"max_depth": -1}, "max_depth"), ({"max_depth": MAX_DEPTH + 1}, "max_depth"),
    ({"max_steps": 0}, "max_steps"),
])
def test_strategy_arguments_are_checked(args: dict[str, int], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        flows(**args)
    with pytest.raises(InvalidArgument, match=message):
        flow_documents(**args)


def _sample(strategy: st.SearchStrategy[Any], n: int, seed: int | None = None
            ) -> list[Any]:
    """``n`` examples of ``strategy``, the same on every run (no shrinking, no database);
    ``seed`` picks another fixed sample."""
    out: list[Any] = []

    @settings(max_examples=n, derandomize=seed is None, database=None,
              phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(example: Any) -> None:
        out.append(example)

    (collect if seed is None else hypothesis_seed(seed)(collect))()
    return out


def _says(flow: Flow) -> Iterator[Say]:
    for _, step in flow.walk():
        if isinstance(step, Say):
            yield step
        if isinstance(step, Gather):
            yield from (p for p in step.prompt if isinstance(p, Say))


def _options(flow: Flow) -> set[str]:
    """The rarer options a flow uses, by name."""
    found: set[str] = set()
    steps = [s for _, s in flow.walk()]
    if any(placeholders(say.text) for say in _says(flow)):
        found.add("reads a variable")
    if any(isinstance(s, Gather) and s.variable and s.no_input and any(
            isinstance(b, Say) and s.variable in placeholders(b.text)
            for b in s.no_input.steps) for s in steps):
        found.add("reads a variable in its no_input branch")
    if flow.machine_detection and flow.machine_detection.on_machine:
        found.add("on_machine")
    elif flow.machine_detection:
        found.add("machine detection without on_machine")
    if any(isinstance(s, Record) and s.transcribe_language for s in steps):
        found.add("transcribe_language")
    if any(isinstance(s, Record) and s.finish_on_key is None for s in steps):
        found.add("record without finish key")
    if any(isinstance(s, Gather) and s.options and s.finish_on_key for s in steps):
        found.add("menu with finish key")
    if any(isinstance(s, Gather) and s.options and s.max_digits > 1
           and any(len(k) == s.max_digits for k in s.options) for s in steps):
        found.add("longest menu key")
    if any(isinstance(s, Transfer) and len(s.targets) == 10 for s in steps):
        found.add("ten targets")
    if any(isinstance(s, Transfer) and any(t.startswith("sip") for t in s.targets)
           and any(t.startswith("+") for t in s.targets) for s in steps):
        found.add("numbers and SIP URIs in one transfer")
    if any(isinstance(s, Gather) and s.options and all(
            b.steps and b.steps[-1].kind in ("hangup", "redirect")
            for b in [*s.options.values(), s.no_input, s.invalid] if b is not None)
           and s.no_input and s.invalid for s in steps):
        found.add("menu whose every outcome ends the call")
    if flow.language and flow.gender and flow.voice and flow.record:
        found.add("flow language, gender, voice and record")
    if _depth(flow.steps) >= 3:
        found.add("branches three deep")
    return found


def test_flows_reach_every_kind_feature_and_option() -> None:
    kinds: set[str] = set()
    features: set[Feature] = set()
    options: set[str] = set()
    wanted_options = {
        "reads a variable", "reads a variable in its no_input branch", "on_machine",
        "machine detection without on_machine", "transcribe_language",
        "record without finish key", "menu with finish key", "longest menu key",
        "ten targets", "numbers and SIP URIs in one transfer",
        "menu whose every outcome ends the call", "flow language, gender, voice and record",
        "branches three deep",
    }
    # Samples of 600 flows, each from its own fixed seed, until everything has shown (the
    # rarest options take about 1200 flows; a few more samples keep the test from hanging
    # on one unlucky draw, and it still fails if the strategy stops reaching one).
    for chunk in range(5):
        for flow in _sample(flows(), 600, seed=chunk):
            kinds.update(step.kind for _, step in flow.walk())
            features.update(features_of(flow))
            options.update(_options(flow))
        if wanted_options <= options and ALL_FEATURES - {Feature.PAUSE} <= features:
            break
    assert kinds == {"say", "play", "pause", "gather", "record", "transfer", "conference",
                     "send_digits", "redirect", "hangup"}
    # PAUSE is not reported by features_of (see test_capabilities.py), hence left out.
    assert sorted(ALL_FEATURES - {Feature.PAUSE} - features) == []
    assert sorted(wanted_options - options) == []


def _shorthands(doc: dict[str, Any]) -> set[str]:
    text = json.dumps(doc)
    checks = {
        "bare kind": '"hangup"' in text.replace('{"hangup":', ""),
        "hangup: null": '{"hangup": null}' in text,
        "hangup: {}": '{"hangup": {}}' in text,
        "say scalar": '{"say": "' in text,
        "pause scalar": '{"pause": ' in text and '{"pause": {' not in text,
        "transfer scalar": '{"transfer": "' in text or '{"transfer": [' in text,
        "one target as a string": '"targets": "' in text,
        "bare-list branch": bool(re.search(r'"(\d+|no_input|invalid|no_answer)": \[', text)),
        "mapping branch": '{"steps": [' in text,
        "prompt string": '"prompt": "' in text,
        "prompt step": '"prompt": {' in text,
        "string in a prompt list": bool(re.search(r'"prompt": \[[^{\]]*"', text)),
        "int menu key": _has_int_key(doc),
        "machine_detection true": doc.get("machine_detection") is True,
        "tagged step": '{"kind": "' in text,
    }
    return {name for name, found in checks.items() if found}


def test_flow_documents_use_every_shorthand() -> None:
    found: set[str] = set()
    for doc in _sample(flow_documents(), 300):
        found.update(_shorthands(doc))
    assert sorted({
        "bare kind", "hangup: null", "hangup: {}", "say scalar", "pause scalar",
        "transfer scalar", "one target as a string", "bare-list branch", "mapping branch",
        "prompt string", "prompt step", "string in a prompt list", "int menu key",
        "machine_detection true", "tagged step",
    } - found) == []


def _has_int_key(node: Any) -> bool:
    if isinstance(node, dict):
        return any(isinstance(k, int) for k in node) or any(
            _has_int_key(v) for v in node.values())
    if isinstance(node, list):
        return any(_has_int_key(v) for v in node)
    return False
