"""Shared fixtures: paths to the repository's examples and the test plugin tree."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
PLUGINS = Path(__file__).resolve().parent / "plugins"


@pytest.fixture
def examples() -> Path:
    return EXAMPLES
