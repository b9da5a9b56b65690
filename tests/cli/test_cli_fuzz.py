"""Fuzz `univoice flow check`: whatever the file holds, it answers valid (0) or invalid (1)
with one line per problem, never an internal error or a traceback."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from univoice.flow import Flow

from ..conftest import EXAMPLES

Cli = Callable[..., Any]
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(
    max_size=20)
DOCS = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.sampled_from(["steps", "say", "gather", "options", "text", "1", "prompt", "hangup",
                     "transfer", "targets", "record", "x"]) | st.text(max_size=8), inner,
    max_size=4), max_leaves=25)
IVR = Flow.from_yaml(EXAMPLES / "support_ivr.yaml").to_dict()


def _mutate(doc: Any, path: list[int], value: Any) -> Any:
    """Replace the node reached by following ``path`` choices with ``value``."""
    if not path or not isinstance(doc, (dict, list)) or not doc:
        return value
    keys = list(doc) if isinstance(doc, dict) else list(range(len(doc)))
    key = keys[path[0] % len(keys)]
    copy = dict(doc) if isinstance(doc, dict) else list(doc)
    copy[key] = _mutate(doc[key], path[1:], value)  # type: ignore[index]
    return copy


def _check(cli: Cli, file: Path) -> None:
    result = cli("flow", "check", str(file))
    assert result.code in (0, 1), result.err
    assert "internal error" not in result.err
    assert "Traceback" not in result.out + result.err
    if result.code == 1:
        assert all(line.startswith("error: ") for line in result.err.strip().splitlines())


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=200))
def test_random_text(cli: Cli, tmp_path: Path, text: str) -> None:
    file = tmp_path / "flow.yaml"
    file.write_text(text, encoding="utf-8")
    _check(cli, file)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=DOCS, as_json=st.booleans())
def test_random_documents(cli: Cli, tmp_path: Path, doc: Any, as_json: bool) -> None:
    file = tmp_path / ("flow.json" if as_json else "flow.yaml")
    file.write_text(json.dumps(doc) if as_json else yaml.safe_dump(doc), encoding="utf-8")
    _check(cli, file)


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.lists(st.integers(0, 20), max_size=8), value=DOCS)
def test_mutated_valid_flow(cli: Cli, tmp_path: Path, path: list[int], value: Any) -> None:
    file = tmp_path / "flow.yaml"
    file.write_text(yaml.safe_dump(_mutate(IVR, path, value)), encoding="utf-8")
    _check(cli, file)
