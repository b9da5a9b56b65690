"""Flow benchmark: load + validate a 200-step nested flow from YAML, simulate it, and
measure what ``import univoice`` costs over a bare interpreter.

    python bench/flow_bench.py            # human-readable
    python bench/flow_bench.py --json     # for scripts

Targets (issue "Foundation"): validate + simulate under 5 ms; ``import univoice`` under
100 ms over a bare interpreter and pulling in no lxml, httpx or provider. Peers whose
packages are installed (twilio, bandwidth) are measured in the same run for comparison.
Numbers are medians of repeated runs in this process; nothing here is a test.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import yaml

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


def median_ms(fn: Callable[[], object], repeat: int = 50) -> float:
    fn()  # warm caches (phonenumbers metadata, pydantic validators)
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def import_cost_ms(statement: str, repeat: int = 15) -> float | None:
    """Median wall time of a fresh interpreter running ``statement``, minus a bare one."""
    def run(code: str) -> float | None:
        samples = []
        for _ in range(repeat):
            start = time.perf_counter()
            proc = subprocess.run([sys.executable, "-c", code], capture_output=True)
            if proc.returncode != 0:
                return None
            samples.append((time.perf_counter() - start) * 1000)
        return statistics.median(samples)

    bare, loaded = run("pass"), run(statement)
    return None if bare is None or loaded is None else loaded - bare


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


def main() -> dict[str, Any]:
    from univoice import CalleeScript, Flow, simulate

    document = nested_flow()
    text = yaml.safe_dump(document, sort_keys=False)
    flow = Flow.from_yaml(text)
    step_count = sum(1 for _ in flow.walk())
    script = CalleeScript.presses("1", "2", "3", "1", "2", "3")

    results: dict[str, Any] = {
        "steps": step_count,
        "ms": {
            "load+validate (YAML text)": median_ms(lambda: Flow.from_yaml(text)),
            "validate (dict)": median_ms(lambda: Flow.from_dict(document)),
            "simulate": median_ms(lambda: simulate(flow, script)),
            "validate+simulate": median_ms(lambda: simulate(Flow.from_dict(document), script)),
            "to_yaml": median_ms(flow.to_yaml),
        },
        "import_ms_over_bare": {
            "import univoice": import_cost_ms("import univoice"),
            "from univoice import Flow": import_cost_ms("from univoice import Flow"),
            "peer: import twilio.rest": import_cost_ms("import twilio.rest"),
            "peer: import bandwidth": import_cost_ms("import bandwidth"),
        },
        "univoice_self_importtime_us": self_import_time_us(),
        "heavy_modules_after_import": modules_after_import(),
    }
    return results


def report(results: dict[str, Any]) -> None:
    print(f"flow: {results['steps']} steps, nested three menus deep")
    for name, ms in results["ms"].items():
        print(f"  {name:<28} {ms:8.3f} ms")
    target = results["ms"]["validate+simulate"]
    print(f"  target validate+simulate < 5 ms: {'met' if target < 5 else 'MISSED'}")
    print("import cost over a bare interpreter (median of fresh processes):")
    for name, ms in results["import_ms_over_bare"].items():
        print(f"  {name:<28} {'not installed' if ms is None else f'{ms:8.1f} ms'}")
    cost = results["import_ms_over_bare"]["import univoice"]
    met = cost is not None and cost < 100
    print(f"  target import univoice < 100 ms: {'met' if met else 'MISSED'}")
    print(f"  univoice's own -X importtime: {results['univoice_self_importtime_us']} us")
    heavy = results["heavy_modules_after_import"]
    print(f"  heavy modules after import univoice: {', '.join(heavy) or 'none'}")


if __name__ == "__main__":
    res = main()
    if "--json" in sys.argv:
        print(json.dumps(res, indent=2))
    else:
        report(res)
