"""Every step kind, written every accepted way: YAML, JSON, Python models, the builder."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from univoice.errors import FlowValidationError
from univoice.flow import (
    STEP_TYPES,
    Branch,
    Conference,
    Flow,
    FlowBuilder,
    Gather,
    Hangup,
    MachineDetection,
    Native,
    Pause,
    Play,
    Record,
    Redirect,
    Say,
    SendDigits,
    Transfer,
)
from univoice.flow.documents import dump_yaml

NL = "+31201234567"
UK = "+442071838750"
SIP = "sip:agent@example.com"
MP3 = "https://media.example.com/hello.mp3"

# kind: (long-form document step, Python model, the same step from the builder)
KINDS: dict[str, tuple[Any, Any, FlowBuilder]] = {
    "say": (
        {"say": {"text": "Hello", "language": "en-GB", "gender": "male",
                 "voice": "Polly.Brian", "loop": 2}},
        Say(text="Hello", language="en-GB", gender="male", voice="Polly.Brian", loop=2),
        Flow.builder().say("Hello", language="en-GB", gender="male", voice="Polly.Brian",
                           loop=2),
    ),
    "play": (
        {"play": {"url": MP3, "loop": 3}},
        Play(url=MP3, loop=3),
        Flow.builder().play(MP3, loop=3),
    ),
    "pause": (
        {"pause": {"seconds": 1.5}},
        Pause(seconds=1.5),
        Flow.builder().pause(1.5),
    ),
    "gather": (
        {"gather": {"prompt": [{"say": {"text": "Press 1 or 2"}}], "max_digits": 2,
                    "timeout": 7, "finish_on_key": "#", "retries": 2,
                    "options": {"1": {"steps": [{"say": {"text": "One"}}]},
                                "22": {"steps": ["hangup"]}},
                    "no_input": {"steps": [{"say": {"text": "Nothing?"}}]},
                    "invalid": {"steps": [{"say": {"text": "Wrong key"}}]}}},
        Gather(prompt=[Say(text="Press 1 or 2")], max_digits=2, timeout=7, finish_on_key="#",
               retries=2,
               options={"1": Branch(steps=[Say(text="One")]), "22": Branch(steps=[Hangup()])},
               no_input=Branch(steps=[Say(text="Nothing?")]),
               invalid=Branch(steps=[Say(text="Wrong key")])),
        Flow.builder().menu("Press 1 or 2", max_digits=2, timeout=7, finish_on_key="#",
                            retries=2,
                            options={"1": Flow.builder().say("One"),
                                     "22": Flow.builder().hangup()},
                            no_input=Flow.builder().say("Nothing?"),
                            invalid=Flow.builder().say("Wrong key")),
    ),
    "record": (
        {"record": {"max_length": 120, "silence_timeout": 4, "finish_on_key": "*",
                    "beep": False, "transcribe": True, "transcribe_language": "nl-NL"}},
        Record(max_length=120, silence_timeout=4, finish_on_key="*", beep=False,
               transcribe=True, transcribe_language="nl-NL"),
        Flow.builder().record(max_length=120, silence_timeout=4, finish_on_key="*",
                              beep=False, transcribe=True, transcribe_language="nl-NL"),
    ),
    "transfer": (
        {"transfer": {"targets": [NL, SIP], "caller_id": UK, "timeout": 20, "record": True,
                      "no_answer": {"steps": [{"say": {"text": "Nobody there"}}]}}},
        Transfer(targets=[NL, SIP], caller_id=UK, timeout=20, record=True,
                 no_answer=Branch(steps=[Say(text="Nobody there")])),
        Flow.builder().transfer(NL, SIP, caller_id=UK, timeout=20, record=True,
                                no_answer=Flow.builder().say("Nobody there")),
    ),
    "conference": (
        {"conference": {"name": "daily-standup", "muted": True, "start_on_enter": False,
                        "end_on_exit": True, "hold_music": MP3, "record": True}},
        Conference(name="daily-standup", muted=True, start_on_enter=False, end_on_exit=True,
                   hold_music=MP3, record=True),
        Flow.builder().conference("daily-standup", muted=True, start_on_enter=False,
                                  end_on_exit=True, hold_music=MP3, record=True),
    ),
    "send_digits": (
        {"send_digits": {"digits": "12w34#"}},
        SendDigits(digits="12w34#"),
        Flow.builder().send_digits("12w34#"),
    ),
    "redirect": (
        {"redirect": {"url": "https://app.example.com/next", "method": "GET"}},
        Redirect(url="https://app.example.com/next", method="GET"),
        Flow.builder().redirect("https://app.example.com/next", method="GET"),
    ),
    "hangup": ("hangup", Hangup(), Flow.builder().hangup()),
    "native": (
        {"native": {"provider": "bandwidth", "document": "<Ring duration=\"2\"/>",
                    "note": "rings"}},
        Native(provider="bandwidth", document="<Ring duration=\"2\"/>", note="rings"),
        Flow.builder().native("bandwidth", "<Ring duration=\"2\"/>", note="rings"),
    ),
}


def test_the_table_covers_every_step_kind() -> None:
    assert set(KINDS) == set(STEP_TYPES)


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_way_of_writing_a_step_gives_the_same_flow(kind: str) -> None:
    document, model, builder = KINDS[kind]
    expected = Flow(steps=[model])
    assert isinstance(expected.steps[0], STEP_TYPES[kind])
    assert Flow.from_yaml(dump_yaml({"steps": [document]})) == expected
    assert Flow.from_json(json.dumps({"steps": [document]})) == expected
    assert Flow.from_json(json.dumps({"steps": [document]}).encode()) == expected
    assert Flow.from_dict({"steps": [document]}) == expected
    assert Flow.from_dict([document]) == expected  # a bare list of steps is a flow
    assert builder.build() == expected
    assert Flow(steps=[document]) == expected  # documents are accepted by the model too


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_step_is_written_back_externally_tagged(kind: str) -> None:
    document, model, _ = KINDS[kind]
    assert Flow(steps=[model]).to_dict() == {"steps": [document]}


YAML_FLOW = """\
name: Shorthands
language: en-US
gender: female
voice: Polly.Joanna
record: true
machine_detection: true
steps:
  - say: Welcome.
  - play: https://media.example.com/hello.mp3
  - pause: 2
  - gather:
      prompt: Press 1 for sales.
      options:
        1:
          - transfer: "+31201234567"
          - hangup
        2: [{say: Two}]
      no_input:
        - say: Goodbye.
  - gather:
      variable: pin
      prompt: [Enter your PIN., {pause: 1}]
      max_digits: 4
  - say: "You entered {pin}."
  - record
  - transfer: ["+31201234567", "sip:agent@example.com"]
  - conference: daily-standup
  - send_digits: "1w2#"
  - redirect: https://app.example.com/next
"""


def test_yaml_shorthands_mean_what_they_say() -> None:
    flow = Flow.from_yaml(YAML_FLOW)
    long_form = Flow(
        name="Shorthands", language="en-US", gender="female", voice="Polly.Joanna",
        record=True, machine_detection=MachineDetection(),
        steps=[
            Say(text="Welcome."),
            Play(url=MP3),
            Pause(seconds=2.0),
            Gather(prompt=[Say(text="Press 1 for sales.")],
                   options={"1": Branch(steps=[Transfer(targets=[NL]), Hangup()]),
                            "2": Branch(steps=[Say(text="Two")])},
                   no_input=Branch(steps=[Say(text="Goodbye.")])),
            Gather(variable="pin", prompt=[Say(text="Enter your PIN."), Pause(seconds=1)],
                   max_digits=4),
            Say(text="You entered {pin}."),
            Record(),
            Transfer(targets=[NL, SIP]),
            Conference(name="daily-standup"),
            SendDigits(digits="1w2#"),
            Redirect(url="https://app.example.com/next"),
        ],
    )
    assert flow == long_form
    assert flow.warnings() == []
    # The menu keys YAML read as integers are the strings the caller types.
    gather = flow.steps[3]
    assert isinstance(gather, Gather)
    assert gather.options is not None
    assert list(gather.options) == ["1", "2"]


@pytest.mark.parametrize(
    "step",
    ["hangup", {"hangup": None}, {"hangup": {}}, {"kind": "hangup"}],
    ids=["bare", "null", "empty-mapping", "tagged"],
)
def test_hangup_forms(step: Any) -> None:
    assert Flow.from_dict({"steps": [step]}).steps == (Hangup(),)


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        ({"say": "Hi"}, Say(text="Hi")),
        ({"play": MP3}, Play(url=MP3)),
        ({"pause": 3}, Pause(seconds=3)),
        ({"transfer": NL}, Transfer(targets=[NL])),
        ({"transfer": [NL, UK]}, Transfer(targets=[NL, UK])),
        ({"transfer": {"targets": NL}}, Transfer(targets=[NL])),
        ({"conference": "room-1"}, Conference(name="room-1")),
        ({"send_digits": "123"}, SendDigits(digits="123")),
        ({"redirect": "http://app.example.com/x"}, Redirect(url="http://app.example.com/x")),
        ("record", Record()),
        ({"record": None}, Record()),
        ({"kind": "say", "text": "Hi"}, Say(text="Hi")),
    ],
)
def test_scalar_shorthands(step: Any, expected: Any) -> None:
    assert Flow.from_dict({"steps": [step]}).steps == (expected,)


@pytest.mark.parametrize(
    "prompt",
    [
        "Press 1.",
        ["Press 1."],
        {"say": "Press 1."},
        [{"say": {"text": "Press 1."}}],
        [{"kind": "say", "text": "Press 1."}],
    ],
    ids=["string", "list-of-string", "lone-step", "list-of-steps", "tagged"],
)
def test_prompt_forms(prompt: Any) -> None:
    flow = Flow.from_dict({"steps": [{"gather": {"variable": "x", "prompt": prompt}}]})
    assert flow.steps == (Gather(variable="x", prompt=[Say(text="Press 1.")]),)


@pytest.mark.parametrize(
    "branch",
    [[{"say": "One"}], {"steps": [{"say": "One"}]}, Branch(steps=[Say(text="One")]),
     Flow.builder().say("One").steps()],
    ids=["bare-list", "mapping", "model", "builder-steps"],
)
def test_branch_forms(branch: Any) -> None:
    flow = Flow.from_dict({"steps": [{"gather": {"options": {1: branch}}}]})
    assert flow.steps == (Gather(options={"1": Branch(steps=[Say(text="One")])}),)


def test_empty_branch_is_allowed_and_means_go_on() -> None:
    flow = Flow.from_dict({"steps": [{"gather": {"options": {"1": [], "2": {}}}}]})
    gather = flow.steps[0]
    assert isinstance(gather, Gather)
    assert gather.options is not None
    assert gather.options == {"1": Branch(), "2": Branch()}


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, MachineDetection()), (False, None), (None, None), ({}, MachineDetection()),
     ({"on_machine": ["hangup"]}, MachineDetection(on_machine=Branch(steps=[Hangup()])))],
)
def test_machine_detection_forms(value: Any, expected: Any) -> None:
    flow = Flow.from_dict({"machine_detection": value, "steps": ["hangup"]})
    assert flow.machine_detection == expected


def test_flow_level_options_in_the_builder() -> None:
    built = (Flow.builder(name="n", language="nl-NL", gender="male", voice="alice",
                          record=True, machine_detection={"on_machine": ["hangup"]})
             .say("Hoi").build())
    assert built == Flow(name="n", language="nl-NL", gender="male", voice="alice", record=True,
                         machine_detection=MachineDetection(on_machine=Branch(steps=[Hangup()])),
                         steps=[Say(text="Hoi")])


def test_builder_free_input_gather_and_steps_objects() -> None:
    built = (Flow.builder()
             .gather("pin", [Say(text="PIN?"), Pause(seconds=1)], max_digits=4, timeout=9,
                     finish_on_key="#", retries=1, no_input=[Say(text="Nothing, {pin}")])
             .say("PIN {pin}")
             .build())
    assert list(built.steps) == [
        Gather(variable="pin", prompt=[Say(text="PIN?"), Pause(seconds=1)], max_digits=4,
               timeout=9, finish_on_key="#", retries=1,
               no_input=Branch(steps=[Say(text="Nothing, {pin}")])),
        Say(text="PIN {pin}"),
    ]


def test_builder_validates_only_at_build() -> None:
    builder = Flow.builder().say("")  # nothing checked yet
    assert builder.steps() == [{"kind": "say", "text": ""}]
    with pytest.raises(FlowValidationError) as info:
        builder.build()
    assert [i.path for i in info.value.issues] == ["steps[0].say.text"]


# Defaults ----------------------------------------------------------------------------


def test_step_defaults() -> None:
    say = Say(text="Hi")
    assert (say.language, say.gender, say.voice, say.loop) == (None, None, None, 1)
    assert Play(url=MP3).loop == 1
    gather = Gather(variable="x")
    assert (gather.prompt, gather.max_digits, gather.timeout, gather.finish_on_key,
            gather.options, gather.no_input, gather.invalid, gather.retries) == (
        (), 1, 5.0, None, None, None, None, 0)
    record = Record()
    assert (record.max_length, record.silence_timeout, record.finish_on_key, record.beep,
            record.transcribe, record.transcribe_language) == (60.0, None, "#", True, False,
                                                               None)
    transfer = Transfer(targets=[NL])
    assert (transfer.caller_id, transfer.timeout, transfer.record, transfer.no_answer) == (
        None, 30.0, False, None)
    room = Conference(name="r")
    assert (room.muted, room.start_on_enter, room.end_on_exit, room.hold_music,
            room.record) == (False, True, False, None, False)
    assert Redirect(url=MP3).method == "POST"
    assert Branch().steps == ()
    assert MachineDetection().on_machine is None


def test_flow_defaults() -> None:
    flow = Flow(steps=[Hangup()])
    assert (flow.name, flow.description, flow.language, flow.gender, flow.voice, flow.record,
            flow.machine_detection) == (None, None, None, None, None, False, None)
    assert flow.warnings() == []


def test_defaults_are_left_out_of_documents() -> None:
    flow = Flow(steps=[Say(text="Hi", loop=1), Record(), Gather(variable="x", timeout=5.0)])
    assert flow.to_dict() == {"steps": [{"say": {"text": "Hi"}}, "record",
                                        {"gather": {"variable": "x"}}]}


def test_record_without_a_finish_key_is_kept() -> None:
    flow = Flow(steps=[Record(finish_on_key=None)])
    assert flow.to_dict() == {"steps": [{"record": {"finish_on_key": None}}]}
    assert Flow.from_yaml(flow.to_yaml()) == flow


# Frozen ------------------------------------------------------------------------------

MUTATIONS = [
    (Say(text="Hi"), "text", "Bye"),
    (Gather(variable="x"), "retries", 3),
    (Transfer(targets=[NL]), "targets", [UK]),
    (Branch(), "steps", []),
    (Flow(steps=[Hangup()]), "record", True),
    (Flow(steps=[Hangup()]), "steps", [Say(text="Hi")]),
]


@pytest.mark.parametrize(("model", "field", "value"), MUTATIONS,
                         ids=[f"{type(m).__name__}.{f}" for m, f, _ in MUTATIONS])
def test_models_are_frozen(model: Any, field: str, value: Any) -> None:
    before = model.model_copy()
    with pytest.raises(ValidationError, match="frozen"):
        setattr(model, field, value)
    assert model == before


def test_equal_steps_hash_equal() -> None:
    assert hash(Say(text="Hi")) == hash(Say(text="Hi", loop=1))
    assert len({Say(text="Hi"), Say(text="Hi"), Hangup(), Hangup()}) == 2


def test_nested_collections_are_immutable_too() -> None:
    flow = Flow(steps=[Gather(options={"1": Branch()}), Transfer(targets=[NL])])
    gather, transfer = flow.steps
    assert isinstance(gather, Gather)
    assert isinstance(transfer, Transfer)
    assert gather.options is not None
    with pytest.raises(AttributeError):
        flow.steps.append(Say(text=""))  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        gather.options["9"] = Branch()  # a read-only mapping
    with pytest.raises(AttributeError):
        transfer.targets.append(UK)  # type: ignore[attr-defined]


def test_flows_without_menus_are_hashable() -> None:
    flow = Flow(steps=[Say(text="Hi"), Transfer(targets=[NL, UK])])
    assert hash(flow) == hash(Flow.from_dict(flow.to_dict()))


def test_flows_with_menus_are_hashable() -> None:
    flow = Flow(steps=[Gather(options={"1": Branch()})])
    assert hash(flow) == hash(Flow.from_dict(flow.to_dict()))


def test_builder_can_record_without_a_finish_key() -> None:
    assert Flow.builder().record(finish_on_key=None).build().steps == (
        Record(finish_on_key=None),)


def test_builder_takes_a_builder_for_on_machine() -> None:
    built = (Flow.builder(machine_detection={"on_machine": Flow.builder().say("Call back")})
             .hangup().build())
    assert built.machine_detection == MachineDetection(
        on_machine=Branch(steps=[Say(text="Call back")]))
