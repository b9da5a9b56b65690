"""Flow benchmark: load + validate a 200-step nested flow from YAML (beside a plain C safe
load of the same text, the floor), simulate it; and what ``import univoice`` pulls in.

    python bench/flow_bench.py [--json] [--quick]

Target (issue "Foundation"): validate + simulate under 5 ms. ``import univoice`` must pull
in no lxml, httpx, provider or pydantic (its cost, and the peers', is bench/cold_bench.py).
Variants run round-robin; figures are medians of rounds. Nothing here is a test.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import yaml
from _measure import Spread, cli, paired, repeat, round_robin

STEPS = 200
FORBIDDEN_AT_IMPORT = ("lxml", "httpx", "univoice_bandwidth", "univoice_messagebird",
                       "univoice_bird", "univoice.flow", "pydantic")


def nested_flow(total: int = STEPS) -> dict[str, Any]:
    """A realistic IVR shape: two menus three deep (91 steps each: every branch says,
    pauses and goes one menu deeper), then announcements up to ``total`` steps."""
    said = 0

    def say() -> dict[str, Any]:
        nonlocal said
        said += 1
        return {"say": {"text": f"Announcement number {said}, please hold on."}}

    def menu(depth: int) -> dict[str, Any]:
        options = {digit: [say(), {"pause": {"seconds": 0.5}}]
                   + ([menu(depth + 1)] if depth < 3 else []) for digit in "123"}
        return {"gather": {"prompt": "Press 1, 2 or 3.", "options": options, "retries": 1}}

    steps: list[Any] = [menu(1), menu(1)]
    steps += [say() for _ in range(total - 2 * 91 - 1)]
    return {"name": "bench", "language": "en-US", "steps": [*steps, "hangup"]}


def modules_after_import() -> list[str]:
    code = ("import sys, univoice; print(' '.join(m for m in sys.modules if m.split('.')[0] "
            f"in {FORBIDDEN_AT_IMPORT!r} or m in {FORBIDDEN_AT_IMPORT!r}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return out.stdout.split()


def self_import_time_us() -> int:
    """univoice's own cumulative microseconds from ``python -X importtime``."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", "import univoice"],
                          capture_output=True, text=True)
    for line in proc.stderr.splitlines():
        parts = [p.strip() for p in line.removeprefix("import time:").split("|")]
        if len(parts) == 3 and parts[2] == "univoice":
            return int(parts[1])
    return -1


def main(quick: bool = False, rounds: int | None = None) -> dict[str, Any]:
    """ms per call of each variant (median, spread) and per round (``samples``)."""
    from univoice import CalleeScript, Flow, simulate

    document = nested_flow()
    text = yaml.safe_dump(document, sort_keys=False)
    flow = Flow.from_yaml(text)
    script = CalleeScript.presses("1", "2", "3", "1", "2", "3")
    fastest = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    calls = 2 if quick else 5
    samples = round_robin({
        "load+validate (YAML text)": repeat(lambda: Flow.from_yaml(text), calls),
        "floor: yaml.load (C safe loader)": repeat(lambda: yaml.load(text, Loader=fastest),
                                                   calls),
        "validate (dict)": repeat(lambda: Flow.from_dict(document), calls),
        "simulate": repeat(lambda: simulate(flow, script), calls),
        "validate+simulate": repeat(lambda: simulate(Flow.from_dict(document), script), calls),
        "to_yaml": repeat(flow.to_yaml, calls),
    }, calls, rounds or (2 if quick else 10))
    ms = {name: [us / 1000 for us in got] for name, got in samples.items()}
    return {
        "steps": sum(1 for _ in flow.walk()),
        "ms": {name: Spread.of(got).as_dict() for name, got in ms.items()},
        "load_ratio": paired(ms["load+validate (YAML text)"],
                             ms["floor: yaml.load (C safe loader)"]).as_dict(),
        "samples": ms,
        "univoice_self_importtime_us": self_import_time_us(),
        "heavy_modules_after_import": modules_after_import(),
    }


def report(results: dict[str, Any]) -> None:
    print(f"flow: {results['steps']} steps, nested three menus deep (median, min-max)")
    for name, ms in results["ms"].items():
        print(f"  {name:<34} {ms['median']:8.3f} ms  ({ms['low']:.3f}-{ms['high']:.3f})")
    print(f"  load+validate ÷ the floor: {results['load_ratio']['median']:.2f}")
    target = results["ms"]["validate+simulate"]["median"]
    print(f"  target validate+simulate < 5 ms: {'met' if target < 5 else 'MISSED'}")
    print(f"  univoice's own -X importtime: {results['univoice_self_importtime_us']} us")
    heavy = results["heavy_modules_after_import"]
    print(f"  heavy modules after import univoice: {', '.join(heavy) or 'none'}")


if __name__ == "__main__":
    cli(main, report)
