"""What the client skips on its hot path, and what it may not: arguments already seen are
not validated again, but anything new (or invalid) is, every time."""

from __future__ import annotations

import json

import pytest

from tests.support.fake_provider import FakeProvider
from tests.transport.conftest import ANSWER, FROM, TO
from univoice.errors import InvalidArguments
from univoice.params import CreateCall
from univoice.resources import _checked_call, _Ops


@pytest.fixture
def ops() -> _Ops:
    return _Ops(FakeProvider(base_url="http://127.0.0.1:9", token="t" * 32))


def sent(op: object) -> dict[str, object]:
    return json.loads(op.request.content)  # type: ignore[attr-defined, no-any-return]


def test_repeated_arguments_are_validated_once_and_tagged_apart(ops: _Ops) -> None:
    _checked_call.cache_clear()
    first, second = (ops.create_call(TO, FROM, None, answer_url=ANSWER, ring_timeout=20.0)
                     for _ in range(2))
    assert _checked_call.cache_info().hits == 1
    one, two = sent(first), sent(second)
    assert one.pop("tag") != two.pop("tag")  # type: ignore[comparison-overlap]
    assert one == two == {"to": TO, "from": FROM, "answer_url": ANSWER}
    assert first.tag is not None and first.tag.startswith("uv-") and len(first.tag) == 27


def test_a_cached_validation_is_the_validation(ops: _Ops) -> None:
    args = {"answer_url": ANSWER, "ring_timeout": 45, "record": True, "max_duration": 60.5}
    key = tuple(sorted((k, type(v), v) for k, v in args.items()))
    assert _checked_call(TO, FROM, key) == CreateCall(to=TO, from_=FROM, **args)


@pytest.mark.parametrize(("to", "options"), [
    ("+123", {"answer_url": ANSWER}),
    (TO, {"answer_url": "ftp://example.com/x"}),
    (TO, {"answer_url": ANSWER, "ring_timeout": -1.0}),
    (TO, {}),  # neither a flow nor an answer URL
])
def test_invalid_arguments_are_refused_every_time(ops: _Ops, to: str,
                                                  options: dict[str, object]) -> None:
    for _ in range(2):
        with pytest.raises(InvalidArguments):
            ops.create_call(to, FROM, None, **options)


def test_equal_arguments_of_other_types_are_validated_apart(ops: _Ops) -> None:
    _checked_call.cache_clear()
    ops.create_call(TO, FROM, None, answer_url=ANSWER, record=True)
    ops.create_call(TO, FROM, None, answer_url=ANSWER, record=1)  # == True, same hash
    assert _checked_call.cache_info().hits == 0


def test_a_caller_tag_or_a_flow_is_always_validated(ops: _Ops) -> None:
    _checked_call.cache_clear()
    with pytest.raises(InvalidArguments):
        ops.create_call(TO, FROM, None, answer_url=ANSWER, tag="has space")
    assert ops.create_call(TO, FROM, None, answer_url=ANSWER, tag="mine").tag == "mine"
    ops.create_call(TO, FROM, {"steps": [{"say": {"text": "hi"}}]})
    assert _checked_call.cache_info().currsize == 0
