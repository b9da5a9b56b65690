"""Every parser of outside input, fed hostile inputs: only documented typed errors come out.

The targets (``targets.py``): ``Flow.from_yaml`` / ``from_json``; each provider's callbacks
and continuation pulls through the webhook app's reading of the request, verification,
parsing and answer; each provider's REST answers to every operation through the
transport's parse and error mapping; the hardened BXML parser; the three providers'
native-document interpreters; the configuration loader. Inputs come from a seeded,
deterministic mutational fuzzer (``mutate.py``) started from the real samples
(``../shared/reference/samples``), the cassettes, the examples and compiled documents.
Anything but a subclass of ``univoice.errors.UnivoiceError`` is a failure, reported with
its seed, index and a shrunk input (``python -m tests.fuzz NAME --seed S --index I``
replays it); so is an input that runs more than 10 s.

CI runs each target's ``ci_inputs`` (100,000 for the cheapest, 12,000 to 80,000 for those
whose every input is a whole flow, configuration, document import, call or signed request:
729,000 inputs, about 87 CPU seconds, split over two worker processes; the table
and the reasons are in ``tests/fuzz/README.md``). Longer runs::

    UNIVOICE_FUZZ_INPUTS=1000000 python -m pytest tests/fuzz -k test_target
    UNIVOICE_FUZZ_INPUTS=1000000 UNIVOICE_FUZZ_SEED=7 python -m tests.fuzz bird.webhooks

``UNIVOICE_FUZZ_WORKERS`` sets the number of worker processes (default: 2, or 1 on a
one-core machine); ``UNIVOICE_FUZZ_SCALE`` multiplies every CI count (0.5 on a slow machine).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .settings import inputs_for, seed
from .targets import TARGETS, Target

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = float(os.environ.get("UNIVOICE_FUZZ_TIMEOUT", "1800"))  # the whole campaign


def workers() -> int:
    found = os.environ.get("UNIVOICE_FUZZ_WORKERS", "").strip()
    return max(1, int(found)) if found else min(2, os.cpu_count() or 1)


def share(names: list[str], count: int) -> list[list[str]]:
    """Targets split into ``count`` groups of about equal cost (largest first)."""
    groups: list[list[str]] = [[] for _ in range(count)]
    costs = [0.0] * count
    for name in sorted(names, key=lambda n: -_cost(TARGETS[n])):
        least = costs.index(min(costs))
        groups[least].append(name)
        costs[least] += _cost(TARGETS[name])
    return [group for group in groups if group]


def _cost(target: Target) -> float:
    return inputs_for(target) * target.cost


def _selected(session: pytest.Session) -> list[str]:
    names = []
    for item in session.items:
        callspec = getattr(item, "callspec", None)
        if getattr(item, "originalname", "") == "test_target" and callspec is not None and (
                Path(str(item.fspath)).resolve() == Path(__file__).resolve()):
            names.append(callspec.params["name"])
    return names


@pytest.fixture(scope="module")
def campaign(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
             ) -> dict[str, Any]:
    """Run the selected targets in worker processes (one per core), in parallel."""
    names = _selected(request.session) or list(TARGETS)
    folder = tmp_path_factory.mktemp("fuzz")
    running = []
    for number, group in enumerate(share(names, workers())):
        report, log = folder / f"report-{number}.json", folder / f"worker-{number}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "tests.fuzz", "--report", str(report), *group],
                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        running.append((process, report, log))
    results: dict[str, Any] = {}
    logs = []
    for process, report, log in running:
        try:
            process.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        logs.append(log.read_text("utf-8", "replace"))
        if report.exists():
            results.update(json.loads(report.read_text()))
    results["__logs__"] = "\n".join(logs)
    return results


@pytest.mark.parametrize("name", list(TARGETS))
def test_target(name: str, campaign: dict[str, Any]) -> None:
    target = TARGETS[name]
    result = campaign.get(name)
    assert result is not None, f"{name} did not finish:\n{campaign['__logs__'][-5000:]}"
    print(result["summary"])
    assert not result["failures"], result["failures"]
    assert result["seed"] == seed()
    assert result["inputs"] == inputs_for(target), result["summary"]
    # The inputs reach the parser behind the first checks (not all refused at the door).
    reached = result["outcomes"].get(target.reach, 0)
    assert reached >= 0.05 * result["inputs"], result["summary"]


def test_every_target_is_tested_and_documented() -> None:
    readme = (Path(__file__).parent / "README.md").read_text("utf-8")
    rows = {line.split("|")[1].strip(" `"): line for line in readme.splitlines()
            if line.startswith("| `")}
    for name, target in TARGETS.items():
        assert name in rows, f"tests/fuzz/README.md does not list {name}"
        assert f"| {target.ci_inputs:,} |" in rows[name], f"README: {name}'s CI count"
        assert target.ci_inputs >= 10_000


def test_workers_share_the_work_evenly() -> None:
    groups = share(list(TARGETS), 2)
    costs = [sum(_cost(TARGETS[n]) for n in group) for group in groups]
    assert sorted(n for g in groups for n in g) == sorted(TARGETS)
    assert max(costs) < 1.2 * min(costs)
