"""Fuzzing the flow loaders: whatever comes in, only ``FlowValidationError`` comes out.

Random JSON-like documents, random text and bytes, YAML token soup, and valid documents
with one mutation each go to ``Flow.from_dict`` / ``from_yaml`` / ``from_json``. A
document that loads must also round-trip.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from univoice.errors import FlowValidationError
from univoice.flow import STEP_TYPES, Flow, MachineDetection
from univoice.flow.documents import dump_yaml
from univoice.flow.yamldoc import _StrictLoader
from univoice.testing.flows import PHONE_NUMBERS, flow_documents

FUZZ = settings(deadline=None, max_examples=200)


def outcome(load: Callable[[], Flow]) -> Flow | list[tuple[str, str]]:
    """The flow ``load`` returns, or the problems it reports; anything else fails."""
    try:
        flow = load()
    except FlowValidationError as exc:
        issues = exc.issues
    else:
        assert isinstance(flow, Flow)
        assert Flow.from_dict(flow.to_dict()) == flow  # what loads, round-trips
        assert Flow.from_yaml(flow.to_yaml()) == flow
        return flow
    assert issues, "a FlowValidationError lists at least one problem"
    for issue in issues:
        assert isinstance(issue.path, str)
        assert issue.message
        assert "\n" not in str(issue)  # one problem, one line
    return [(issue.path, issue.message) for issue in issues]


# Strategies ------------------------------------------------------------------------------

# Names the model knows, so random documents get past the first level now and then.
VOCABULARY = sorted(
    {"steps", "kind", "1", "2", "12", "#", "*", "0"}
    | set(STEP_TYPES)
    | {name for model in STEP_TYPES.values() for name in model.model_fields}
    | set(Flow.model_fields) | set(MachineDetection.model_fields)
)
scalars = (st.none() | st.booleans() | st.integers() | st.floats()
           | st.text(max_size=12) | st.sampled_from(VOCABULARY)
           | st.sampled_from(PHONE_NUMBERS) | st.just("https://example.com/a.mp3"))
keys = st.sampled_from(VOCABULARY) | st.text(max_size=8) | st.integers(-1, 12)
json_like = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(keys, children, max_size=4),
    max_leaves=25,
)
# A mapping with one known key, like a step: {say: ...}, {gather: {...}}.
steps_like = st.dictionaries(st.sampled_from(sorted(STEP_TYPES)), json_like,
                             min_size=1, max_size=1)
documents_like = st.fixed_dictionaries(
    {"steps": st.lists(steps_like | json_like, max_size=4)},
    optional={k: json_like for k in ("name", "language", "record", "machine_detection")},
)


def _locations(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path to every value inside ``node`` (dict keys and list indices)."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*path, key)
            yield from _locations(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield (*path, index)
            yield from _locations(value, (*path, index))


def _nest(value: Any, levels: int, kind: str) -> Any:
    for _ in range(levels):
        value = [value] if kind == "list" else {"gather": {"options": {"1": [value]}}}
    return value


MUTATIONS = ("delete", "replace", "rename", "unknown step", "nest", "duplicate", "retype")


@st.composite
def mutated_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A valid flow document with one thing changed (the result may still be valid)."""
    doc = copy.deepcopy(draw(flow_documents(max_depth=2, max_steps=4)))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(list(_locations(doc))))
        *parents, last = path
        container: Any = doc
        for part in parents:
            container = container[part]
        mutation = draw(st.sampled_from(MUTATIONS))
        if mutation == "delete":
            del container[last]
        elif mutation == "replace":
            container[last] = draw(json_like)
        elif mutation == "rename" and isinstance(container, dict):
            container[draw(keys)] = container.pop(last)
        elif mutation == "unknown step" and isinstance(container[last], list):
            container[last].insert(draw(st.integers(0, len(container[last]))),
                                   {draw(st.text(min_size=1, max_size=8)): "x"})
        elif mutation == "nest":
            container[last] = _nest(container[last], draw(st.integers(1, 40)),
                                    draw(st.sampled_from(("list", "menu"))))
        elif mutation == "duplicate" and isinstance(container, list):
            container.insert(last, copy.deepcopy(container[last]))
        elif mutation == "retype":
            value = container[last]
            digits = isinstance(value, str) and value.isascii() and value.isdigit()
            container[last] = (str(value) if not isinstance(value, str)
                               else int(value) if digits and len(value) < 100
                               else [value])
        if not list(_locations(doc)):
            break
    return doc


YAML_TOKENS = [
    "steps:", "steps: ", "- ", "  ", "    ", "\n", ": ", ":", ",", "[", "]", "{", "}",
    "say", "hangup", "gather", "options", "prompt", "transfer", "pause", "record", "text",
    "'1'", '"#"', "1", "12", "-1", "1.5", "1e309", ".nan", ".inf", "0x1F", "0o17", "1:30",
    "null", "~", "true", "no", "&a ", "*a", "<<: ", "!!str ", "!!binary aGk=", "? ",
    "# comment", "---", "...", "|", ">", '"', "'", "\\", "\t", "%YAML 1.1\n", "Hello",
    "+31201234567", "https://example.com/a.mp3", "{{x}}", "{pin}", "\u00e9", "\x85",
]


def _hits_known_yaml_bug(text: str) -> bool:
    """Whether PyYAML's constructors raise something other than a YAMLError for ``text``.

    A few scalars do (``0b_``, ``2001-13-45``, ``!!int x``, ...); parse_yaml lets those
    through, which the xfail tests at the end of this file show. Leave such inputs to them
    so the fuzz tests stay green until it is fixed.
    """
    try:
        yaml.load(text, Loader=_StrictLoader)
    except (yaml.YAMLError, RecursionError):
        return False
    except Exception:
        return True
    return False


def _has_lone_surrogate(source: str | bytes) -> bool:
    """Whether JSON ``source`` holds a string with a lone surrogate, which makes rendering
    the problem crash (see test_lone_surrogates_are_flow_errors); left to that test."""
    try:
        data = json.loads(source)
    except (ValueError, RecursionError):
        return False
    return _surrogates(data)


def _surrogates(node: Any) -> bool:
    if isinstance(node, str):
        return any("\ud800" <= c <= "\udfff" for c in node)
    if isinstance(node, dict):
        return any(_surrogates(k) or _surrogates(v) for k, v in node.items())
    if isinstance(node, list):
        return any(_surrogates(v) for v in node)
    return False


# Properties ------------------------------------------------------------------------------


@FUZZ
@given(json_like)
def test_any_json_like_value(doc: Any) -> None:
    outcome(lambda: Flow.from_dict(doc))


@FUZZ
@given(documents_like)
def test_documents_with_steps(doc: dict[str, Any]) -> None:
    result = outcome(lambda: Flow.from_dict(doc))
    # The same document written as YAML is read the same way.
    assert outcome(lambda: Flow.from_yaml(dump_yaml(doc))) == result


@FUZZ
@given(mutated_documents())
def test_mutated_valid_documents(doc: dict[str, Any]) -> None:
    result = outcome(lambda: Flow.from_dict(doc))
    from_yaml = outcome(lambda: Flow.from_yaml(dump_yaml(doc)))
    # YAML refuses absurd nesting before building anything (libyaml recurses in C).
    if from_yaml != [("", "document nests deeper than 200 levels")]:
        assert from_yaml == result
    outcome(lambda: Flow.from_json(json.dumps(doc)))


@FUZZ
@given(st.text(max_size=200))
@example("steps: [")
@example("{")
@example("")
@example("- hangup\n- - - - -")
def test_random_text(text: str) -> None:
    assume(not _hits_known_yaml_bug(text))
    assume(not _has_lone_surrogate(text))
    outcome(lambda: Flow.from_yaml(text))
    outcome(lambda: Flow.from_json(text))


@FUZZ
@given(st.lists(st.sampled_from(YAML_TOKENS), max_size=40).map("".join))
def test_yaml_token_soup(text: str) -> None:
    assume(not _hits_known_yaml_bug(text))
    outcome(lambda: Flow.from_yaml(text))


@FUZZ
@given(st.binary(max_size=200))
@example(b"\xff\xfe{\x00}")
@example(b'{"steps": [{"say": "\xed\xa0\x80"}]}')  # a lone surrogate, as text to say
def test_random_bytes(data: bytes) -> None:
    assume(not _has_lone_surrogate(data))
    outcome(lambda: Flow.from_json(data))


@FUZZ
@given(st.recursive(st.none() | st.integers() | st.text(max_size=5),
                    lambda c: st.lists(c, max_size=3)
                    | st.dictionaries(st.text(max_size=5), c, max_size=3)).map(json.dumps))
def test_random_json_text(text: str) -> None:
    outcome(lambda: Flow.from_json(text))
    outcome(lambda: Flow.from_json(text.encode("utf-16")))


@pytest.mark.parametrize(("levels", "kind"), [
    (20, "menu"), (150, "menu"), (1000, "menu"), (100, "list"), (5000, "list"),
])
def test_deep_nesting_is_an_error(levels: int, kind: str) -> None:
    doc = {"steps": [_nest({"say": "Hi"}, levels, kind)]}
    assert isinstance(outcome(lambda: Flow.from_dict(doc)), list)
    if levels <= 150:  # json.dumps itself recurses
        assert isinstance(outcome(lambda: Flow.from_json(json.dumps(doc))), list)


@pytest.mark.parametrize("text", [
    "&a [*a]",
    "&a [{gather: {options: {'1': *a}}}]",
    "steps: &s [{gather: {options: {'1': *s}}}]",
    "steps: [" * 1000,
    "[" * 10000 + "]" * 10000,
], ids=["self-list", "self-menu", "self-steps", "unclosed", "deep-lists"])
def test_self_referencing_and_deep_yaml_is_an_error(text: str) -> None:
    assert isinstance(outcome(lambda: Flow.from_yaml(text)), list)


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, '{"steps": ' * 50_000],
                         ids=["lists", "unclosed"])
def test_deep_json_text_is_an_error(text: str) -> None:
    assert isinstance(outcome(lambda: Flow.from_json(text)), list)


# Known escapes (bugs) ------------------------------------------------------------------------

YAML_CONSTRUCTOR_ESCAPES = [  # (document, what escapes)
    ("steps: [{say: 2001-13-45}]", "bad-date-ValueError"),
    ("steps: [{pause: 0b_}]", "plain-0b_-ValueError"),
    ("steps: [{pause: 0x_}]", "plain-0x_-ValueError"),
    ("steps: [{say: !!int abc}]", "int-tag-ValueError"),
    ("steps: [{pause: !!float abc}]", "float-tag-ValueError"),
    ("steps: [{say: !!timestamp abc}]", "timestamp-tag-AttributeError"),
    ("steps: [{say: !!bool abc}]", "bool-tag-KeyError"),
    ("steps: [{pause: " + "9" * 5000 + "}]", "5000-digit-int-ValueError"),
]


@pytest.mark.parametrize(("text", "escape"), YAML_CONSTRUCTOR_ESCAPES,
                         ids=[e for _, e in YAML_CONSTRUCTOR_ESCAPES])
def test_yaml_constructor_errors_are_flow_errors(text: str, escape: str) -> None:
    outcome(lambda: Flow.from_yaml(text))


def test_the_known_escapes_are_what_the_fuzz_tests_leave_out() -> None:
    for text, _ in YAML_CONSTRUCTOR_ESCAPES:
        assert _hits_known_yaml_bug(text), text


def test_very_deep_yaml_does_not_crash_the_interpreter() -> None:
    code = ("from univoice.flow import Flow\n"
            "from univoice.errors import FlowValidationError\n"
            "try:\n"
            "    Flow.from_yaml('steps: ' + '[' * 100000 + ']' * 100000)\n"
            "except FlowValidationError:\n"
            "    print('rejected')\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=False)
    assert (run.returncode, run.stdout.strip()) == (0, "rejected"), run.stderr[-500:]


LONE_SURROGATES: list[tuple[Callable[[], Flow], str]] = [
    (lambda: Flow.from_json('{"steps": ["\\ud800"]}'), "json-text-step"),
    (lambda: Flow.from_json(b'{"steps": ["\xed\xa0\x80"]}'), "json-bytes-step"),
    (lambda: Flow.from_dict({"steps": [{"transfer": "\ud800"}]}), "dict-target"),
    (lambda: Flow.from_dict({"language": "\udfff", "steps": ["hangup"]}), "dict-language"),
    (lambda: Flow.from_dict({"steps": [{"gather": {"options": {"\ud800": []}}}]}),
     "dict-menu-key"),
]


@pytest.mark.parametrize("load", [load for load, _ in LONE_SURROGATES],
                         ids=[name for _, name in LONE_SURROGATES])
def test_lone_surrogates_are_flow_errors(load: Callable[[], Flow]) -> None:
    outcome(load)
