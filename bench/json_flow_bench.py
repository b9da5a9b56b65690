"""Call-flow JSON benchmark: the reference IVR compiled to MessageBird call-flow JSON bytes
(and a menu to Bird callFlow commands), against building the same dicts by hand and
``json.dumps`` (the floor), in one run.

    python bench/json_flow_bench.py            # human-readable
    python bench/json_flow_bench.py --json     # for scripts
    python bench/json_flow_bench.py --quick    # a few iterations (the smoke test)

Target (issue "MessageBird adapter"): univoice within 2x of the floor. What univoice does
per document is what the webhook app and the client do per call with a flow they have
loaded: the call flow is built once per flow object (steps, ids, listen options,
conditions, URLs with tokens) and serialised per call; a second row shows a flow object's
first call, when it is built. The reference is examples/support_ivr_portable.yaml (the
support line as MessageBird can run it); both sides are checked to give the same JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

from _measure import Batch, paired, repeat, round_robin

from univoice.flow import Flow
from univoice_bird import compile as bird
from univoice_messagebird import compile

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "examples" / "support_ivr_portable.yaml"
LINKS = compile.Links(flow="https://voice.example.com/univoice/messagebird/flow/"
                           "0123456789abcdef0123456789abcdef/", key="signing-key")


def univoice_bytes(flow: Flow) -> bytes:
    return json.dumps(compile.start(flow, LINKS), separators=(",", ":"),
                      ensure_ascii=False).encode()


def _url(extra: str) -> str:
    params = {"on": "gather", "attempt": "1", **({"input": "none"} if extra else {})}
    token = compile.url_token(LINKS.key or "", "0123456789abcdef0123456789abcdef",
                              "steps[1]", params)
    return f"{LINKS.flow}steps%5B1%5D?on=gather&attempt=1{extra}&token={token}"


# A hand-written server signs its URLs once, not per call.
NO_KEYS_URL, KEYS_URL = _url("&input=none"), _url("")


def by_hand() -> bytes:
    """The same call flow as a person would write it: literal dicts, then json.dumps."""
    listen = {"onKeypressGoto": "s1-keys", "onKeypressVar": "digits", "maxNumKeys": 1}
    voice = {"language": "en-US", "voice": "female"}
    document = {"title": "Acme support line (portable)", "steps": [
        {"id": "s0", "action": "say",
         "options": {"payload": "Thank you for calling Acme.", **voice}},
        {"id": "s1", "action": "say", **listen, "options": {
            "payload": "For sales, press 1. For support, press 2. To leave a message, "
                       "press 3.", **voice}},
        {"id": "s2", "action": "pause", **listen, "options": {"length": 5}},
        {"id": "s3", "action": "fetchCallFlow", "options": {"url": NO_KEYS_URL}},
        {"id": "s1-keys", "action": "fetchCallFlow", "options": {"url": KEYS_URL}},
    ]}
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


# Bird runs menus natively (one gather, then commands guarded by conditions on `keys`).
BIRD_MENU = Flow.from_dict({"language": "en-GB", "steps": [
    {"say": "Thank you for calling Acme."},
    {"gather": {"prompt": "For sales, press 1. For support, press 2.", "timeout": 5,
                "options": {"1": [{"say": "Connecting you to sales."},
                                  {"transfer": "+31201234567"}],
                            "2": [{"say": "Support is closed today."}, "hangup"]},
                "no_input": [{"say": "We did not hear a choice."}]}},
    {"say": "Goodbye."}]})


def bird_bytes(flow: Flow) -> bytes:
    return json.dumps(bird.start(flow), separators=(",", ":"), ensure_ascii=False).encode()


def bird_by_hand() -> bytes:
    locale = {"locale": "en-GB"}

    def keys(value: str) -> list[dict[str, str]]:
        return [{"variable": "keys", "operator": "eq", "value": value}]

    commands = [
        {"command": "say", "options": {"text": "Thank you for calling Acme.", **locale}},
        {"command": "say", "options": {"text": "For sales, press 1. For support, press 2.",
                                       **locale}},
        {"command": "gather", "options": {"maxNumKeys": 1, "timeout": 5}},
        {"command": "say", "options": {"text": "We did not hear a choice.", **locale},
         "conditions": keys("")},
        {"command": "say", "options": {"text": "Connecting you to sales.", **locale},
         "conditions": keys("1")},
        {"command": "bridge", "options": {"to": "+31201234567", "ringTimeout": 30},
         "conditions": keys("1")},
        {"command": "say", "options": {"text": "Support is closed today.", **locale},
         "conditions": keys("2")},
        {"command": "hangup", "conditions": keys("2")},
        {"command": "say", "options": {"text": "Goodbye.", **locale}},
        {"command": "hangup"},
    ]
    return json.dumps(commands, separators=(",", ":"), ensure_ascii=False).encode()


def run(quick: bool, rounds: int | None = None) -> dict[str, Any]:
    """The rows; ``samples`` holds each variant's µs per round (round-robin)."""
    flow = Flow.load(REFERENCE)
    mine, floor = univoice_bytes(flow), by_hand()
    if json.loads(mine) != json.loads(floor):
        raise SystemExit("the hand-built call flow differs from univoice's: not comparable")
    if json.loads(bird_bytes(BIRD_MENU)) != json.loads(bird_by_hand()):
        raise SystemExit("the hand-built Bird callFlow differs from univoice's")
    default_rounds, calls = (3, 20) if quick else (15, 400)

    def first_calls() -> Batch:  # fresh flow objects, made before the clock starts
        copies = [flow.model_copy() for _ in range(calls)]
        return lambda: [univoice_bytes(copy) for copy in copies]

    samples = round_robin({
        "messagebird": repeat(lambda: univoice_bytes(flow), calls),
        "messagebird by hand": repeat(by_hand, calls),
        "messagebird first call": first_calls,
        "bird": repeat(lambda: bird_bytes(BIRD_MENU), calls),
        "bird by hand": repeat(bird_by_hand, calls)}, calls, rounds or default_rounds)

    def row(what: str, name: str, floor: str, target: str) -> dict[str, Any]:
        ratio = paired(samples[name], samples[floor])
        return {"what": what, "univoice_us": round(statistics.median(samples[name]), 1),
                "floor_us": round(statistics.median(samples[floor]), 1),
                "ratio": round(ratio.median, 2), "spread": ratio.as_dict(), "target": target}

    return {"rows": [
        row("support line -> call-flow JSON bytes", "messagebird", "messagebird by hand",
            "<= 2x"),
        row("  the same, a flow object's first call", "messagebird first call",
            "messagebird by hand", "info"),
        row("Bird menu -> callFlow JSON bytes", "bird", "bird by hand", "<= 2x"),
    ], "bytes": len(mine), "samples": samples}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    result = run(args.quick)
    if args.json:
        print(json.dumps(result))
        return
    print(f"{'measured':40} {'univoice':>10} {'floor':>10} {'ratio':>7}  target")
    for row in result["rows"]:
        print(f"{row['what']:40} {row['univoice_us']:>8.1f}us {row['floor_us']:>8.1f}us "
              f"{row['ratio']:>6.2f}x  {row['target']}")


if __name__ == "__main__":
    main()
