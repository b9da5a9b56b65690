"""How many inputs, from which seed: CI's numbers, or the environment's.

``UNIVOICE_FUZZ_INPUTS`` (inputs per target) replaces every target's CI count;
``UNIVOICE_FUZZ_SCALE`` multiplies them instead (0.5 on a slow machine, 10 for a longer run);
``UNIVOICE_FUZZ_SEED`` replaces the fixed seed (CI runs the same inputs every time).
"""

from __future__ import annotations

import os

from .targets import Target

CI_SEED = 20261123


def seed() -> int:
    value = os.environ.get("UNIVOICE_FUZZ_SEED", "").strip()
    return int(value) if value else CI_SEED


def inputs_for(target: Target) -> int:
    value = os.environ.get("UNIVOICE_FUZZ_INPUTS", "").strip()
    if value:
        return int(value.replace("_", ""))
    scale = float(os.environ.get("UNIVOICE_FUZZ_SCALE", "").strip() or 1)
    return max(1, round(target.ci_inputs * scale))
