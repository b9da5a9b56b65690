"""The fuzzer itself: deterministic, hostile enough, and able to fail.

A fuzzer that cannot see a failure proves nothing: these tests hand it targets with
planted bugs (an untyped exception behind one byte, a hang) and check it reports them
with a shrunk input; and they check the inputs hold the attacks the targets must survive.
"""

from __future__ import annotations

import json
import time

from univoice.errors import UnivoiceError

from .harness import Hang, run
from .mutate import Mutator, Seed, split_envelope
from .targets import TARGETS

CORPUS = [Seed.json({"eventType": "answer", "callId": "c-1", "items": [1, 2.5, "x"],
                     "nested": {"a": {"b": [True, None]}}}, "json"),
          Seed.of("steps:\n  - say: Hello\n  - hangup\n", "yaml", "yaml"),
          Seed.of("<Response><SpeakSentence>Hi</SpeakSentence></Response>", "xml", "xml"),
          Seed.envelope({"method": "POST", "path": "/e", "sign": True}, {"k": [1, 2]}, "env")]


def test_inputs_are_a_function_of_seed_and_index() -> None:
    a, b = Mutator(CORPUS, 7), Mutator(CORPUS, 7)
    assert [a.input(i) for i in range(300)] == [b.input(i) for i in reversed(range(300))][::-1]
    other = Mutator(CORPUS, 8)
    assert [a.input(i) for i in range(50, 100)] != [other.input(i) for i in range(50, 100)]
    assert [a.input(i) for i in range(len(CORPUS))] == [s.data for s in CORPUS]


def test_the_inputs_hold_the_attacks() -> None:
    inputs = [Mutator(CORPUS, 1).input(i) for i in range(6000)]
    joined = b"\x01".join(inputs)
    for attack in (b"NaN", b"Infinity", b"1e999", b"9" * 4000, b"[" * 1000, b'{"a":' * 50,
                   b"\\ud800", b"\xed\xa0\x80", b"\x00", b"<!DOCTYPE", b"&e;", b"*a",
                   b"!!python/object", b"\xff\xfe"):
        assert attack in joined, attack
    duplicated = sum(1 for data in inputs if _duplicate_keys(data))
    assert duplicated >= 3
    assert any(len(data) > 64 * 1024 for data in inputs)  # past the size limits
    heads = [split_envelope(data)[0] for data in inputs]
    assert sum(1 for h in heads if h is not None and h.get("sign") is not True) > 50


def _duplicate_keys(data: bytes) -> bool:
    found = False

    def pairs(items: list[tuple[str, object]]) -> dict[str, object]:
        nonlocal found
        keys = [k for k, _ in items]
        found = found or len(keys) != len(set(keys))
        return dict(items)

    try:
        json.loads(data, object_pairs_hook=pairs)
    except (ValueError, RecursionError):
        return False
    return found


def test_an_untyped_exception_is_reported_with_a_shrunk_input() -> None:
    def target(data: bytes) -> object:
        if b"\x00" in data:
            raise KeyError("planted")
        if b"x" in data:
            raise UnivoiceError("typed: fine")
        return "clean"

    report = run("planted", target, Mutator(CORPUS, 3), 3000)
    assert report.inputs <= 3000 and report.failures
    failure = report.failures[0]
    assert type(failure.error) is KeyError
    assert failure.minimal == b"\x00"  # shrunk to the one byte that matters
    text = report.failure_text()
    assert "KeyError" in text and "--seed 3 --index" in text
    assert report.outcomes["UnivoiceError"] > 0 and report.outcomes["clean"] > 0


def test_a_hang_is_interrupted_and_reported() -> None:
    def target(data: bytes) -> object:
        if data.startswith(b"steps"):
            while True:
                time.sleep(0.01)
        return None

    started = time.perf_counter()
    report = run("hangs", target, Mutator(CORPUS, 3), 5, hang=0.3)
    assert time.perf_counter() - started < 5
    assert [type(f.error) for f in report.failures] == [Hang]


def test_a_pending_failure_is_counted_not_failed() -> None:
    def target(data: bytes) -> object:
        raise RecursionError("deep")

    report = run("pending", target, Mutator(CORPUS, 3), 20,
                 excuse=lambda error: "known" if isinstance(error, RecursionError) else None)
    assert not report.failures and report.outcomes["pending known"] == 20


def test_every_target_builds_and_its_seeds_pass() -> None:
    """Each target takes its own seeds (the unchanged originals) without an untyped
    error: a target whose corpus it refuses would fuzz nothing."""
    for name, target in TARGETS.items():
        corpus = target.corpus()
        assert len(corpus) >= 3, name
        report = run(name, target.make(), Mutator(corpus, 1), len(corpus))
        assert not report.failures, report.failure_text()
