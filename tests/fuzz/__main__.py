"""Run the fuzz targets by hand: long runs, other seeds, one input replayed.

    python -m tests.fuzz                              # every target, its CI count
    python -m tests.fuzz bandwidth.webhooks --inputs 1000000 --seed 7
    python -m tests.fuzz flow.yaml --seed 20261123 --index 4711   # replay one input
    python -m tests.fuzz --list
    python -m tests.fuzz flow.json config --report out.json   # results as JSON (CI's workers)

Exit status 1 when a target let an untyped exception out (each failure is printed with its
minimal input).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .harness import outcome, run, shrink, where
from .mutate import Mutator
from .pending import pending_for
from .settings import inputs_for, seed
from .targets import TARGETS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz")
    parser.add_argument("targets", nargs="*", help="target names (default: all)")
    parser.add_argument("--inputs", type=int, default=None,
                        help="inputs per target (default: $UNIVOICE_FUZZ_INPUTS or CI's)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--start", type=int, default=0, help="first input index")
    parser.add_argument("--index", type=int, default=None, help="replay this one input")
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--report", type=Path, default=None,
                        help="also write each target's results to this JSON file")
    args = parser.parse_args(argv)
    if args.list:
        for target in TARGETS.values():
            print(f"{target.name:26} {inputs_for(target):>8,}  {target.what}")
        return 0
    chosen = args.targets or list(TARGETS)
    unknown = [name for name in chosen if name not in TARGETS]
    if unknown:
        parser.error(f"unknown targets {unknown}; --list shows them")
    the_seed = seed() if args.seed is None else args.seed
    failed = False
    results: dict[str, dict[str, object]] = {}
    for name in chosen:
        target = TARGETS[name]
        fn = target.make()
        mutator = Mutator(target.corpus(), the_seed)
        if args.index is not None:
            data = mutator.input(args.index)
            error = outcome(fn, data)
            print(f"{name} #{args.index} ({len(data)} bytes): {data[:2000]!r}")
            if error is None:
                print("  accepted or refused with a typed error")
                continue
            kind = f"{type(error).__name__} at {where(error)}"
            print(f"  {kind}: {error}\n  minimal: {shrink(fn, data, kind)!r}")
            failed = True
            continue
        count = args.inputs if args.inputs is not None else inputs_for(target)
        report = run(name, fn, mutator, count, start=args.start,
                     excuse=lambda error, name=name: _key(name, error))
        print(report.summary(), flush=True)
        if report.failures:
            failed = True
            print(report.failure_text(), flush=True)
        results[name] = {"inputs": report.inputs, "seconds": report.seconds,
                         "cpu": report.cpu, "outcomes": dict(report.outcomes),
                         "summary": report.summary(), "failures": report.failure_text(),
                         "seed": the_seed}
        if args.report is not None:  # after each target: a crash keeps what was done
            args.report.write_text(json.dumps(results, indent=1))
    return 1 if failed else 0


def _key(target: str, error: BaseException) -> str | None:
    found = pending_for(target, error)
    return None if found is None else found.key


if __name__ == "__main__":
    sys.exit(main())
