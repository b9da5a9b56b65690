"""Every validation rule: each problem is reported with the path of the step and a reason."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from univoice.errors import FlowIssue, FlowValidationError
from univoice.flow import Branch, Flow, Gather, Say, Transfer
from univoice.flow.fields import MAX_DEPTH

NL = "+31201234567"


def problems(doc: Any) -> list[tuple[str, str]]:
    """The (path, message) of every issue ``Flow.from_dict(doc)`` reports."""
    with pytest.raises(FlowValidationError) as info:
        Flow.from_dict(doc)
    return [(issue.path, issue.message) for issue in info.value.issues]


def assert_problem(doc: Any, path: str, phrase: str) -> None:
    found = problems(doc)
    assert len(found) == 1, found
    assert found[0][0] == path, found
    assert phrase in found[0][1], found


def steps(*items: Any) -> dict[str, Any]:
    return {"steps": list(items)}


def menu(options: dict[Any, Any], **fields: Any) -> dict[str, Any]:
    return {"gather": {"options": options, **fields}}


# Field rules ---------------------------------------------------------------------------

FIELD_RULES = [
    # (id, document, path, phrase)
    ("empty text", steps({"say": ""}), "steps[0].say.text", "must not be empty"),
    ("blank text", steps({"say": " \t\n"}), "steps[0].say.text", "only white space"),
    ("long text", steps({"say": "x" * 3001}), "steps[0].say.text", "at most 3000"),
    ("blank prompt text", steps({"gather": {"variable": "x", "prompt": " "}}),
     "steps[0].gather.prompt[0].say.text", "must not be empty"),
    ("not e164", steps({"transfer": "0201234567"}), "steps[0].transfer.targets[0]",
     "is not an E.164 number"),
    ("e164 too long", steps({"transfer": "+3120123456789012"}),
     "steps[0].transfer.targets[0]", "is not an E.164 number"),
    ("e164 letters", steps({"transfer": "+31 20 123 4567"}),
     "steps[0].transfer.targets[0]", "is not an E.164 number"),
    ("unassigned country", steps({"transfer": "+99912345678"}),
     "steps[0].transfer.targets[0]", "is not a valid phone number"),
    ("too short for NL", steps({"transfer": "+3120123"}), "steps[0].transfer.targets[0]",
     "is not a valid phone number"),
    ("bad caller id", steps({"transfer": {"targets": NL, "caller_id": "+31000"}}),
     "steps[0].transfer.caller_id", "is not a valid phone number"),
    ("sip caller id", steps({"transfer": {"targets": NL, "caller_id": "sip:a@b.c"}}),
     "steps[0].transfer.caller_id", "is not an E.164 number"),
    ("sip without user", steps({"transfer": "sip:example.com"}),
     "steps[0].transfer.targets[0]", "is not a SIP URI"),
    ("sip with space", steps({"transfer": "sip:agent @example.com"}),
     "steps[0].transfer.targets[0]", "is not a SIP URI"),
    ("second target", steps({"transfer": [NL, "sips:"]}), "steps[0].transfer.targets[1]",
     "is not a SIP URI"),
    ("ftp url", steps({"play": "ftp://example.com/a.mp3"}), "steps[0].play.url",
     "is not an http(s) URL with a host"),
    ("url without host", steps({"play": "https:///a.mp3"}), "steps[0].play.url",
     "is not an http(s) URL with a host"),
    ("javascript url", steps({"redirect": "javascript:alert(1)"}), "steps[0].redirect.url",
     "is not an http(s) URL"),
    ("relative url", steps({"redirect": "/next"}), "steps[0].redirect.url",
     "is not an http(s) URL"),
    ("hold music url", steps({"conference": {"name": "r", "hold_music": "file:///x.mp3"}}),
     "steps[0].conference.hold_music", "is not an http(s) URL"),
    ("bad language", steps({"say": {"text": "Hi", "language": "English"}}),
     "steps[0].say.language", "is not a language tag"),
    ("upper-case language", steps({"say": {"text": "Hi", "language": "EN-us"}}),
     "steps[0].say.language", "is not a language tag"),
    ("flow language", {"language": "en_US", "steps": ["hangup"]}, "language",
     "is not a language tag"),
    ("transcribe language", steps({"record": {"transcribe": True,
                                              "transcribe_language": "dutch"}}),
     "steps[0].record.transcribe_language", "is not a language tag"),
    ("gender", steps({"say": {"text": "Hi", "gender": "robot"}}), "steps[0].say.gender",
     "'female' or 'male'"),
    ("finish key two chars", steps({"gather": {"variable": "x", "finish_on_key": "##"}}),
     "steps[0].gather.finish_on_key", "at most 1 character"),
    ("finish key letter", steps({"gather": {"variable": "x", "finish_on_key": "a"}}),
     "steps[0].gather.finish_on_key", "is not one of 0-9, * or #"),
    ("record finish key", steps({"record": {"finish_on_key": "x"}}),
     "steps[0].record.finish_on_key", "is not one of 0-9, * or #"),
    ("variable name", steps({"gather": {"variable": "1st"}}), "steps[0].gather.variable",
     "is not a variable name"),
    ("dtmf", steps({"send_digits": "12x"}), "steps[0].send_digits.digits",
     "may only hold 0-9, *, # and w"),
    ("conference name", steps({"conference": "my room"}), "steps[0].conference.name",
     "should match pattern"),
    ("redirect method", steps({"redirect": {"url": "http://a.example", "method": "PUT"}}),
     "steps[0].redirect.method", "'GET' or 'POST'"),
    ("max_digits zero", steps({"gather": {"variable": "x", "max_digits": 0}}),
     "steps[0].gather.max_digits", "greater than or equal to 1"),
    ("max_digits 65", steps({"gather": {"variable": "x", "max_digits": 65}}),
     "steps[0].gather.max_digits", "less than or equal to 64"),
    ("retries", steps({"gather": {"variable": "x", "retries": 11}}),
     "steps[0].gather.retries", "less than or equal to 10"),
    ("negative retries", steps({"gather": {"variable": "x", "retries": -1}}),
     "steps[0].gather.retries", "greater than or equal to 0"),
    # Durations: zero, negative, absurd.
    ("pause zero", steps({"pause": 0}), "steps[0].pause.seconds", "greater than 0"),
    ("pause negative", steps({"pause": -1}), "steps[0].pause.seconds", "greater than 0"),
    ("pause absurd", steps({"pause": 601}), "steps[0].pause.seconds",
     "less than or equal to 600"),
    ("pause infinite", steps({"pause": float("inf")}), "steps[0].pause.seconds",
     "less than or equal to 600"),
    ("pause nan", steps({"pause": float("nan")}), "steps[0].pause.seconds", ""),
    ("gather timeout zero", steps({"gather": {"variable": "x", "timeout": 0}}),
     "steps[0].gather.timeout", "greater than 0"),
    ("gather timeout absurd", steps({"gather": {"variable": "x", "timeout": 301}}),
     "steps[0].gather.timeout", "less than or equal to 300"),
    ("record zero", steps({"record": {"max_length": 0}}), "steps[0].record.max_length",
     "greater than 0"),
    ("record negative", steps({"record": {"max_length": -5}}), "steps[0].record.max_length",
     "greater than 0"),
    ("record absurd", steps({"record": {"max_length": 10801}}),
     "steps[0].record.max_length", "less than or equal to 10800"),
    ("silence timeout", steps({"record": {"silence_timeout": 0}}),
     "steps[0].record.silence_timeout", "greater than 0"),
    ("ring zero", steps({"transfer": {"targets": NL, "timeout": 0}}),
     "steps[0].transfer.timeout", "greater than 0"),
    ("ring absurd", steps({"transfer": {"targets": NL, "timeout": 86400}}),
     "steps[0].transfer.timeout", "less than or equal to 300"),
    # Loops.
    ("say loop zero", steps({"say": {"text": "Hi", "loop": 0}}), "steps[0].say.loop",
     "greater than or equal to 1"),
    ("say loop absurd", steps({"say": {"text": "Hi", "loop": 101}}), "steps[0].say.loop",
     "less than or equal to 100"),
    ("play loop negative", steps({"play": {"url": "http://a.example/x.mp3", "loop": -1}}),
     "steps[0].play.loop", "greater than or equal to 1"),
    # Targets.
    ("too many targets", steps({"transfer": [NL] * 11}), "steps[0].transfer.targets",
     "at most 10 items"),
    ("no targets", steps({"transfer": []}), "steps[0].transfer.targets",
     "a transfer needs at least one target"),
    # Menu keys.
    ("key letter", steps(menu({"a": []})), "steps[0].gather.options['a'] (key)",
     "may only hold 0-9, * and #"),
    ("key empty", steps(menu({"": []})), "steps[0].gather.options[''] (key)",
     "may only hold 0-9, * and #"),
    ("key negative int", steps(menu({-1: []})), "steps[0].gather.options['-1'] (key)",
     "may only hold 0-9, * and #"),
    ("key float", steps(menu({1.5: []})), "steps[0].gather.options",
     "menu keys must be digit strings"),
    ("duplicate int and str key", steps(menu({1: [], "1": []})), "steps[0].gather.options",
     "digit '1' appears twice"),
    # Structure and types.
    ("unknown step kind", steps({"speak": "Hi"}), "steps[0]", "unknown step kind 'speak'"),
    ("unknown bare kind", steps("hang-up"), "steps[0]", "unknown step kind 'hang-up'"),
    ("unknown tagged kind", steps({"kind": "speak", "text": "Hi"}), "steps[0]",
     "does not match any of the expected tags"),
    ("unknown kind in a branch", steps(menu({"1": [{"dial": NL}]})),
     "steps[0].gather.options['1'].steps[0]", "unknown step kind 'dial'"),
    ("gather in a prompt", steps({"gather": {"variable": "x", "prompt": [{"gather": {}}]}}),
     "steps[0].gather.prompt[0]", "unknown step kind 'gather'; expected one of: say, play"),
    ("two kinds in a step", steps({"say": "Hi", "play": "http://a.example/x.mp3"}),
     "steps[0]", "a step is a mapping with one key"),
    ("step is a number", steps(5), "steps[0]", "a step is a mapping with one key"),
    ("bare kind needing a value", steps("say"), "steps[0]", "step 'say' needs a value"),
    ("scalar for gather", steps({"gather": 5}), "steps[0]",
     "step 'gather' takes a mapping of options"),
    ("unknown field", steps({"say": {"text": "Hi", "speed": 2}}), "steps[0].say.speed",
     "unknown field"),
    ("unknown hangup field", steps({"hangup": {"reason": "done"}}),
     "steps[0].hangup.reason", "unknown field"),
    ("unknown flow field", {"steps": ["hangup"], "owner": "me"}, "owner", "unknown field"),
    ("missing steps", {"name": "x"}, "steps", "required field is missing"),
    ("no steps", {"steps": []}, "steps", "a flow needs at least one step"),
    ("steps not a list", {"steps": "hangup"}, "steps", "should be a valid"),
    ("text not a string", steps({"say": 5}), "steps[0].say.text", "valid string"),
    ("seconds not a number", steps({"pause": "soon"}), "steps[0].pause.seconds",
     "valid number"),
    ("beep not a bool", steps({"record": {"beep": "maybe"}}), "steps[0].record.beep",
     "valid boolean"),
    ("options not a mapping", steps({"gather": {"options": ["1"]}}),
     "steps[0].gather.options", "valid dictionary"),
    ("flow record not a bool", {"record": "yes please", "steps": ["hangup"]}, "record",
     "valid boolean"),
    ("machine detection", {"machine_detection": "on", "steps": ["hangup"]},
     "machine_detection", ""),
    ("branch not a list", steps(menu({"1": "hangup"})), "steps[0].gather.options['1']", ""),
    ("nested error on machine", {"machine_detection": {"on_machine": [{"say": ""}]},
                                 "steps": ["hangup"]},
     "machine_detection.on_machine.steps[0].say.text", "must not be empty"),
    ("nested error in no_answer", steps({"transfer": {"targets": NL,
                                                      "no_answer": [{"pause": 0}]}}),
     "steps[0].transfer.no_answer.steps[0].pause.seconds", "greater than 0"),
]


@pytest.mark.parametrize(("doc", "path", "phrase"), [r[1:] for r in FIELD_RULES],
                         ids=[r[0] for r in FIELD_RULES])
def test_field_rule(doc: Any, path: str, phrase: str) -> None:
    assert_problem(doc, path, phrase)


# Rules across steps ----------------------------------------------------------------------

CROSS_STEP_RULES = [
    ("menu key longer than max_digits", steps(menu({"12": []})),
     "steps[0].gather.options['12']", "has 2 digits but max_digits is 1"),
    ("menu key within max_digits", steps(menu({"12": [], "3": []}, max_digits=2)), None, None),
    ("menu key holds finish_on_key",
     steps(menu({"1#": []}, max_digits=2, finish_on_key="#")),
     "steps[0].gather.options['1#']", "contains '#', which ends input (finish_on_key)"),
    ("menu key is finish_on_key", steps(menu({"*": []}, finish_on_key="*")),
     "steps[0].gather.options['*']", "contains '*'"),
    ("options and variable", steps({"gather": {"options": {"1": []}, "variable": "x"}}),
     "steps[0].gather", "has both options and variable"),
    ("neither options nor variable", steps({"gather": {"prompt": "Hi"}}), "steps[0].gather",
     "needs either options (a menu) or variable (free input)"),
    ("empty options", steps(menu({})), "steps[0].gather.options",
     "a menu needs at least one option"),
    ("invalid on free input", steps({"gather": {"variable": "x", "invalid": ["hangup"]}}),
     "steps[0].gather.invalid", "only a menu has invalid input"),
    ("transcribe_language without transcribe",
     steps({"record": {"transcribe_language": "en-US"}}),
     "steps[0].record.transcribe_language", "is set but transcribe is false"),
    ("transcribe_language with transcribe false",
     steps({"record": {"transcribe": False, "transcribe_language": "en-US"}}),
     "steps[0].record.transcribe_language", "is set but transcribe is false"),
    # Variables.
    ("variable never set", steps({"say": "Hi {name}"}), "steps[0].say.text",
     "reads variable 'name' before any gather sets it"),
    ("variable set later", steps({"say": "PIN {pin}"}, {"gather": {"variable": "pin"}}),
     "steps[0].say.text", "reads variable 'pin'"),
    ("variable in its own prompt", steps({"gather": {"variable": "pin", "prompt": "{pin}?"}}),
     "steps[0].gather.prompt[0].say.text", "reads variable 'pin'"),
    ("variable set in one menu branch",
     steps(menu({"1": [{"gather": {"variable": "acct"}}], "2": []}), {"say": "{acct}"}),
     "steps[1].say.text", "reads variable 'acct' before any gather sets it"),
    ("variable set in every option but not on no input",
     steps(menu({"1": [{"gather": {"variable": "v"}}], "2": [{"gather": {"variable": "v"}}]},
                invalid=[{"gather": {"variable": "v"}}]), {"say": "{v}"}),
     "steps[1].say.text", "reads variable 'v'"),
    ("variable set in every outcome",
     steps(menu({"1": [{"gather": {"variable": "v"}}], "2": [{"gather": {"variable": "v"}}]},
                no_input=[{"gather": {"variable": "v"}}],
                invalid=[{"gather": {"variable": "v"}}]), {"say": "{v}"}),
     None, None),
    ("free input read after", steps({"gather": {"variable": "pin"}}, {"say": "PIN {pin}"}),
     None, None),
    ("free input read in its own no_input",
     steps({"gather": {"variable": "pin", "no_input": [{"say": "No {pin}?"}]}}), None, None),
    ("free input read in a later prompt",
     steps({"gather": {"variable": "pin"}},
           {"gather": {"options": {"1": []}, "prompt": "Is {pin} right?"}}), None, None),
    ("variable set in no_answer", steps({"transfer": {"targets": NL, "no_answer": [
        {"gather": {"variable": "cb"}}]}}, {"say": "{cb}"}),
     "steps[1].say.text", "reads variable 'cb'"),
    ("variable set in on_machine", {"machine_detection": {"on_machine": [
        {"gather": {"variable": "m"}}]}, "steps": [{"say": "{m}"}]},
     "steps[0].say.text", "reads variable 'm'"),
    ("variable read in on_machine", {"machine_detection": {"on_machine": [{"say": "{m}"}]},
                                     "steps": [{"gather": {"variable": "m"}}]},
     "machine_detection.on_machine.steps[0].say.text", "reads variable 'm'"),
    ("literal braces are no variable", steps({"say": "Press {{1}} or {{ x }}"}), None, None),
    ("variable inside literal braces", steps({"say": "{{{v}}}"}), "steps[0].say.text",
     "reads variable 'v'"),
    ("variable in a nested branch", steps(menu({"1": [menu({"2": [{"say": "{deep}"}]})]})),
     "steps[0].gather.options['1'].steps[0].gather.options['2'].steps[0].say.text",
     "reads variable 'deep'"),
]


@pytest.mark.parametrize(("doc", "path", "phrase"), [r[1:] for r in CROSS_STEP_RULES],
                         ids=[r[0] for r in CROSS_STEP_RULES])
def test_cross_step_rule(doc: Any, path: str | None, phrase: str | None) -> None:
    if path is None:
        flow = Flow.from_dict(doc)
        assert flow.warnings() == []
    else:
        assert phrase is not None
        assert_problem(doc, path, phrase)


def nested_menus(levels: int) -> dict[str, Any]:
    """A flow whose menus nest ``levels`` branches deep."""
    body: list[Any] = [{"say": "Bottom"}]
    for _ in range(levels):
        body = [menu({"1": body})]
    return {"steps": body}


def test_nesting_up_to_the_limit_is_fine() -> None:
    Flow.from_dict(nested_menus(MAX_DEPTH))


def test_nesting_deeper_than_the_limit_names_the_branch() -> None:
    branch = ".steps[0].gather.options['1']" * (MAX_DEPTH + 1)
    assert_problem(nested_menus(MAX_DEPTH + 1), branch.removeprefix("."),
                   f"branches nest deeper than the limit of {MAX_DEPTH} levels")


def test_nesting_through_every_kind_of_branch_counts() -> None:
    body: list[Any] = [{"say": "Bottom"}]
    wrappers: list[Callable[[Any], Any]] = [
        lambda b: menu({"1": b}),
        lambda b: menu({"1": []}, no_input=b),
        lambda b: menu({"1": []}, invalid=b),
        lambda b: {"gather": {"variable": "x", "no_input": b}},
        lambda b: {"transfer": {"targets": NL, "no_answer": b}},
    ]
    for level in range(MAX_DEPTH):
        body = [wrappers[level % len(wrappers)](body)]
    doc = {"machine_detection": {"on_machine": body}, "steps": ["hangup"]}
    found = problems(doc)  # on_machine is one level more: nine in all
    assert found == [(
        "machine_detection.on_machine.steps[0].gather.invalid.steps[0].gather.no_input"
        ".steps[0].gather.options['1'].steps[0].transfer.no_answer.steps[0].gather.no_input"
        ".steps[0].gather.invalid.steps[0].gather.no_input.steps[0].gather.options['1']",
        f"branches nest deeper than the limit of {MAX_DEPTH} levels",
    )]


# Documents -------------------------------------------------------------------------------


def yaml_problems(text: str) -> list[FlowIssue]:
    with pytest.raises(FlowValidationError) as info:
        Flow.from_yaml(text)
    return info.value.issues


def test_duplicate_yaml_key_names_line_and_column() -> None:
    text = "steps:\n  - gather:\n      options:\n        1: [hangup]\n        1: [hangup]\n"
    [issue] = yaml_problems(text)
    assert issue.path == "line 5, column 9"
    assert "key 1 appears twice in one mapping" in issue.message


def test_yaml_int_and_string_key_are_the_same_digit() -> None:
    text = "steps:\n  - gather:\n      options:\n        1: [hangup]\n        '1': [hangup]\n"
    [issue] = yaml_problems(text)
    assert (issue.path, issue.message) == ("steps[0].gather.options",
                                           "digit '1' appears twice in the menu")


def test_duplicate_json_key() -> None:
    with pytest.raises(FlowValidationError) as info:
        Flow.from_json('{"steps": ["hangup"], "steps": ["hangup"]}')
    [issue] = info.value.issues
    assert "key 'steps' appears twice" in issue.message


def test_bad_yaml_syntax() -> None:
    [issue] = yaml_problems("steps: [\n  - say: Hi\n")
    assert issue.path == "line 2, column 3"
    assert issue.message.startswith("invalid YAML:")


def test_yaml_tab_indentation() -> None:
    [issue] = yaml_problems("steps:\n\t- hangup\n")
    assert issue.path.startswith("line 2")
    assert "invalid YAML" in issue.message


def test_bad_json_syntax() -> None:
    with pytest.raises(FlowValidationError) as info:
        Flow.from_json('{"steps": [hangup]}')
    [issue] = info.value.issues
    assert issue.path == "line 1, column 12"
    assert issue.message.startswith("invalid JSON:")


def test_json_bytes_that_are_not_utf8() -> None:
    with pytest.raises(FlowValidationError) as info:
        Flow.from_json(b'{"steps": ["\xff"]}')
    assert "invalid JSON" in info.value.issues[0].message


@pytest.mark.parametrize(
    ("load", "what"),
    [
        (lambda: Flow.from_yaml("just some text"), "str"),
        (lambda: Flow.from_yaml(""), "NoneType"),
        (lambda: Flow.from_yaml("- - hangup\n- 5\n").steps, None),
        (lambda: Flow.from_json("5"), "int"),
        (lambda: Flow.from_json('"steps"'), "str"),
        (lambda: Flow.from_dict(None), "NoneType"),
        (lambda: Flow.from_dict(3.5), "float"),
    ],
    ids=["yaml-text", "yaml-empty", "yaml-nested-lists", "json-int", "json-str", "none",
         "float"],
)
def test_document_that_is_not_a_mapping(load: Any, what: str | None) -> None:
    with pytest.raises(FlowValidationError) as info:
        load()
    if what is not None:
        [issue] = info.value.issues
        assert issue.path == ""
        assert f"a flow document is a mapping with 'steps' (or a list of steps), not {what}" \
            == issue.message


def test_missing_file(tmp_path: Path) -> None:
    loads: list[tuple[Callable[[Any], Flow], str | Path]] = [
        (Flow.from_yaml, tmp_path / "nope.yaml"),
        (Flow.from_yaml, str(tmp_path / "nope.yml")),
        (Flow.from_json, tmp_path / "nope.json"),
        (Flow.load, tmp_path / "nope.json"),
        (Flow.load, tmp_path / "nope.yaml"),
    ]
    for load, path in loads:
        with pytest.raises(FlowValidationError) as info:
            load(path)
        [issue] = info.value.issues
        assert issue.message == f"cannot read {path}: No such file or directory"
        assert info.value.source == str(path)


def test_errors_in_a_file_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "ivr.yaml"
    path.write_text("steps:\n  - say: ''\n", encoding="utf-8")
    with pytest.raises(FlowValidationError) as info:
        Flow.load(path)
    assert info.value.source == str(path)
    assert str(info.value).splitlines() == [
        f"invalid flow in {path}: 1 problem",
        "  steps[0].say.text: must not be empty or only white space",
    ]


def test_files_load_by_suffix(tmp_path: Path) -> None:
    flow = Flow(steps=[Say(text="Hi"), Transfer(targets=[NL])])
    (tmp_path / "f.yaml").write_text(flow.to_yaml(), encoding="utf-8")
    (tmp_path / "f.json").write_text(flow.to_json(), encoding="utf-8")
    assert Flow.load(tmp_path / "f.yaml") == flow
    assert Flow.load(tmp_path / "f.json") == flow
    assert Flow.from_yaml(str(tmp_path / "f.yaml")) == flow
    assert Flow.from_json(str(tmp_path / "f.json")) == flow


# Warnings ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("doc", "path", "end"),
    [
        (steps("hangup", {"say": "Hi"}), "steps[1]", "steps[0] (hangup)"),
        (steps({"say": "Hi"}, {"redirect": "https://a.example/next"}, "hangup", "hangup"),
         "steps[2]", "steps[1] (redirect)"),
        (steps(menu({"1": ["hangup", {"say": "Hi"}]})),
         "steps[0].gather.options['1'].steps[1]",
         "steps[0].gather.options['1'].steps[0] (hangup)"),
    ],
)
def test_steps_after_the_end_are_a_warning(doc: Any, path: str, end: str) -> None:
    flow = Flow.from_dict(doc)  # not an error
    [warning] = flow.warnings()
    assert (warning.path, warning.severity) == (path, "warning")
    assert warning.message == f"never runs: the flow has already ended at {end}"


def test_warnings_are_a_copy() -> None:
    flow = Flow.from_dict(steps("hangup", "hangup"))
    flow.warnings().clear()
    assert len(flow.warnings()) == 1


# Many problems at once ---------------------------------------------------------------------


def test_every_field_problem_is_reported() -> None:
    doc = {
        "language": "English",
        "steps": [
            {"say": ""},
            {"play": "ftp://example.com/a.mp3"},
            {"transfer": ["123", NL, "sip:nobody"]},
            {"pause": 0},
            {"gather": {"options": {"1": [{"say": " "}]}, "timeout": -1}},
            {"shout": "Hi"},
        ],
    }
    found = problems(doc)
    assert [path for path, _ in found] == [
        "language",
        "steps[0].say.text",
        "steps[1].play.url",
        "steps[2].transfer.targets[0]",
        "steps[2].transfer.targets[2]",
        "steps[3].pause.seconds",
        "steps[4].gather.timeout",
        "steps[4].gather.options['1'].steps[0].say.text",
        "steps[5]",
    ]


def test_every_cross_step_problem_is_reported() -> None:
    doc = steps(
        {"say": "{a}"},
        menu({"12": [], "3#": []}, finish_on_key="#"),
        {"gather": {"variable": "x", "options": {"1": []}}},
        {"gather": {"variable": "y", "invalid": []}},
        {"record": {"transcribe_language": "en-US"}},
        {"say": "{b} {c}"},
    )
    found = problems(doc)
    assert found == [
        ("steps[0].say.text", "reads variable 'a' before any gather sets it"),
        ("steps[1].gather.options['12']",
         "has 2 digits but max_digits is 1; no caller can enter it"),
        ("steps[1].gather.options['3#']",
         "has 2 digits but max_digits is 1; no caller can enter it"),
        ("steps[1].gather.options['3#']",
         "contains '#', which ends input (finish_on_key); no caller can enter it"),
        ("steps[2].gather", "has both options and variable; a gather is a menu or free input"),
        ("steps[3].gather.invalid",
         "only a menu has invalid input; free input accepts any keys"),
        ("steps[4].record.transcribe_language", "is set but transcribe is false"),
        ("steps[5].say.text", "reads variable 'b' before any gather sets it"),
        ("steps[5].say.text", "reads variable 'c' before any gather sets it"),
    ]
    with pytest.raises(FlowValidationError) as info:
        Flow.from_dict(doc)
    assert str(info.value).startswith("invalid flow: 9 problems\n  steps[0].say.text: ")


# Direct construction keeps paths ---------------------------------------------------------


def test_direct_construction_raises_flow_validation_error() -> None:
    with pytest.raises(FlowValidationError) as info:
        Say(text="")
    assert [(i.path, i.message) for i in info.value.issues] == [
        ("say.text", "must not be empty or only white space")]


def test_direct_construction_of_a_nested_step_keeps_the_full_path() -> None:
    with pytest.raises(FlowValidationError) as info:
        Gather(options={"1": [{"say": {"text": ""}}]})
    assert [i.path for i in info.value.issues] == ["gather.options['1'].steps[0].say.text"]
    with pytest.raises(FlowValidationError) as info:
        Flow(steps=[Gather(options={"1": Branch()}), {"gather": {"options": {
            "1": {"steps": [{"say": {"text": ""}}]}}}}])
    assert [i.path for i in info.value.issues] == ["steps[1].gather.options['1'].steps[0].say.text"]


def test_nested_error_keeps_the_full_path() -> None:
    # Guards `__pydantic_base_init__` in univoice.validated: without it, pydantic would run
    # Validated.__init__ for nested models too and the error would say only "say.text".
    assert_problem(steps(menu({"1": [{"say": ""}]})),
                   "steps[0].gather.options['1'].steps[0].say.text", "must not be empty")
    assert_problem(steps(menu({"1": [menu({"2": [{"say": {"text": "Hi", "loop": 0}}]})]})),
                   "steps[0].gather.options['1'].steps[0].gather.options['2'].steps[0]"
                   ".say.loop", "greater than or equal to 1")


def test_flow_validation_error_is_not_a_value_error() -> None:
    # A ValueError raised in a validator would be re-wrapped by pydantic, losing the paths.
    assert not issubclass(FlowValidationError, ValueError)


def test_issue_str_names_the_step() -> None:
    assert str(FlowIssue("steps[0].say.text", "bad")) == "steps[0].say.text: bad"
    assert str(FlowIssue("", "bad")).endswith("bad")


def test_flow_validation_error_pickles() -> None:
    import pickle

    with pytest.raises(FlowValidationError) as info:
        Flow.from_yaml("steps: [{say: ''}]")
    again = pickle.loads(pickle.dumps(info.value))
    assert again.issues == info.value.issues


def test_json_round_trip_of_an_invalid_document_reports_the_same_problems() -> None:
    doc = steps({"say": ""}, {"transfer": "+31000"})
    with pytest.raises(FlowValidationError) as from_json:
        Flow.from_json(json.dumps(doc))
    assert [(i.path, i.message) for i in from_json.value.issues] == problems(doc)


# Bugs found (see the reasons) ----------------------------------------------------------------


def test_phone_numbers_must_use_ascii_digits() -> None:
    assert_problem(steps({"transfer": "+31\u066201234567"}), "steps[0].transfer.targets[0]",
                   "is not an E.164 number")


def test_kind_inside_a_step_body_is_rejected() -> None:
    # Once `- say: {kind: hangup}` silently became a hangup.
    assert_problem(steps({"say": {"kind": "hangup"}}), "steps[0]",
                   "'kind' is not a field: a step's kind is its key ('say')")
    assert_problem(steps({"gather": {"variable": "x", "prompt": [{"say": {"kind": "play"}}]}}),
                   "steps[0].gather.prompt[0]", "'kind' is not a field")


def test_outcomes_that_hang_up_do_not_hide_a_variable() -> None:
    # Only outcomes that go on after the gather count for the variables known after it.
    Flow.from_dict(steps(
        menu({"1": [{"gather": {"variable": "acct", "no_input": ["hangup"]}}],
              "2": [{"say": "Bye"}, "hangup"]},
             no_input=["hangup"], invalid=["hangup"]),
        {"say": "Account {acct}"},
    ))


def test_an_outcome_that_goes_on_without_the_variable_still_counts() -> None:
    assert_problem(steps(
        menu({"1": [{"gather": {"variable": "acct"}}], "2": [{"say": "Bye"}]},
             no_input=["hangup"], invalid=[{"redirect": "https://a.example/x"}]),
        {"say": "Account {acct}"},
    ), "steps[1].say.text", "reads variable 'acct'")


def test_a_menu_whose_every_outcome_ends_the_call_ends_the_flow() -> None:
    flow = Flow.from_dict(steps(
        menu({"1": ["hangup"], "2": [{"redirect": "https://a.example/x"}]},
             no_input=["hangup"], invalid=["hangup"]),
        {"say": "Never said"},
    ))
    assert [(w.path, w.message) for w in flow.warnings()] == [
        ("steps[1]", "never runs: the flow has already ended at steps[0] (gather)")]


def test_a_menu_that_can_fall_through_does_not_end_the_flow() -> None:
    for doc in (steps(menu({"1": ["hangup"]}), {"say": "Fell through"}),  # no input, invalid
                steps(menu({"1": ["hangup"]}, no_input=["hangup"]), {"say": "Invalid"}),
                steps({"gather": {"variable": "x", "no_input": ["hangup"]}}, {"say": "{x}"})):
        assert Flow.from_dict(doc).warnings() == []
