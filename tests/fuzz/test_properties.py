"""Structure-aware properties (hypothesis), where random bytes rarely reach: documents of
the right shape with hostile values.

- The providers' interpreters run any call flow of known actions and commands, whatever
  the options hold, to an end (a trace whose clock only moves forward), never an exception.
- The Bandwidth interpreter runs any document of known verbs, whatever the attributes
  hold, or fails the call with ``invalid-bxml`` as Bandwidth would.
- The configuration loader reads any ``univoice.toml`` of known tables and keys with any
  values into a configuration or a ``ConfigError``, and never shows a secret-named value.

(The flow loaders, the CLI's flow check and each provider's callback parser have their
own properties: tests/unit/test_flow_fuzz.py, tests/cli/test_cli_fuzz.py,
tests/unit/test_{bandwidth,messagebird,bird}_events.py.)
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from univoice.config import Config
from univoice.errors import ConfigError
from univoice.simulator.script import CalleeScript
from univoice_bandwidth import bxml

PROPERTY = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])
SCRIPTS = st.sampled_from([CalleeScript(), CalleeScript(keys=["1", "2#"]),
                           CalleeScript(keys=["12345", None], transfers=[False]),
                           CalleeScript(keys=["9"], hang_up_after=7.0)])
NUMBERS = st.sampled_from([0, -1, 1, 5, 2**31, 10**20, 1e308, -0.5, 3.7, math.inf, math.nan])
SCALARS = (st.none() | st.booleans() | NUMBERS | st.integers()
           | st.floats(allow_nan=True, allow_infinity=True)
           | st.text(max_size=10) | st.sampled_from(["1", "#", "*", "inf", "1e999", "", "x"]))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=8)


def _ends(run: Any) -> None:
    times = [event.at for event in run.trace.events]
    assert times == sorted(times)
    assert run.trace.end_reason is not None


# MessageBird call flows ---------------------------------------------------------------------

MB_OPTIONS = ["payload", "language", "voice", "repeat", "media", "length", "maxLength",
              "timeout", "finishOnKey", "transcribe", "destination", "record", "url"]
MB_STEP = st.fixed_dictionaries(
    {"action": st.sampled_from(["say", "play", "pause", "record", "transfer", "hangup",
                                "fetchCallFlow", "unknown"])},
    optional={"id": st.sampled_from(["s0", "s1", "s2"]) | VALUES,
              "options": st.dictionaries(st.sampled_from(MB_OPTIONS), VALUES, max_size=4),
              "onKeypressGoto": st.sampled_from(["s0", "s1", "nowhere"]) | VALUES,
              "onKeypressVar": VALUES, "maxNumKeys": VALUES, "endKey": VALUES,
              "conditions": st.lists(st.dictionaries(st.sampled_from(
                  ["variable", "operator", "value"]), VALUES), max_size=2) | VALUES})


@PROPERTY
@given(steps=st.lists(MB_STEP | VALUES, max_size=6), record=VALUES, script=SCRIPTS)
def test_messagebird_interpreter_ends_every_call(steps: list[Any], record: Any,
                                                  script: CalleeScript) -> None:
    from univoice_messagebird.interpreter import CallSetup, run_call

    def http(method: str, url: str, body: bytes | None, headers: dict[str, str]
             ) -> tuple[int, str]:
        return (200, json.dumps({"steps": steps[:2]}, allow_nan=True)) if method == "GET" \
            else (200, "")

    _ends(run_call(CallSetup(call_id="c", from_="+31201234567", to="+31612345678",
                             call_flow={"steps": steps, "record": record},
                             webhook_url="https://a/e"), script, http))


# Bird call flows ----------------------------------------------------------------------------

BIRD_OPTIONS = ["text", "locale", "voice", "loop", "media", "length", "maxNumKeys", "endKey",
                "timeout", "retries", "say", "playback", "maxLength", "transcribe", "to",
                "ringTimeout", "record", "from"]
BIRD_COMMAND = st.fixed_dictionaries(
    {"command": st.sampled_from(["say", "playback", "pause", "gather", "record", "bridge",
                                 "hangup", "answer", "unknown"])},
    optional={"options": st.dictionaries(st.sampled_from(BIRD_OPTIONS), VALUES, max_size=5),
              "conditions": st.lists(st.dictionaries(st.sampled_from(
                  ["variable", "operator", "value"]), VALUES), max_size=2) | VALUES})


@PROPERTY
@given(commands=st.lists(BIRD_COMMAND | VALUES, max_size=6), record=st.booleans(),
       script=SCRIPTS)
def test_bird_interpreter_ends_every_call(commands: list[Any], record: bool,
                                          script: CalleeScript) -> None:
    from univoice_bird.interpreter import CallSetup, run_call

    _ends(run_call(CallSetup(call_id="b", from_="+3197058016631", to="+351910648517",
                             call_flow=commands, record=record), script))


# BXML documents -----------------------------------------------------------------------------

ATTRIBUTES = sorted({name for verb in bxml.VERBS.values() for name in verb.attributes})
ATTRIBUTE_VALUES = st.sampled_from(["", "0", "1", "-1", "0.05", "1e999", "nan", "true",
                                    "POST", "GET", "https://a/b", "+15551234567", "#",
                                    "x" * 300, "2", "60", "9" * 30]) | st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=8)


@st.composite
def elements(draw: st.DrawFn, depth: int = 0) -> etree._Element:
    element = etree.Element(draw(st.sampled_from(sorted(bxml.VERBS))))
    for name in draw(st.lists(st.sampled_from(ATTRIBUTES), max_size=3, unique=True)):
        element.set(name, draw(ATTRIBUTE_VALUES))
    if draw(st.booleans()):
        element.text = draw(ATTRIBUTE_VALUES)
    if depth < 2:
        for child in draw(st.lists(elements(depth + 1), max_size=2)):
            element.append(child)
    return element


CAUSES = {"hangup", "invalid-bxml", "callback-error", "application-error", "timeout",
          "busy", "error"}


@PROPERTY
@given(children=st.lists(elements(), max_size=4), script=SCRIPTS)
def test_bandwidth_interpreter_runs_or_refuses_every_document(
        children: list[etree._Element], script: CalleeScript) -> None:
    from univoice_bandwidth.interpreter import CallSetup, run_call

    root = etree.Element("Response")
    root.extend(children)
    document = etree.tostring(root).decode()

    def http(method: str, url: str, payload: dict[str, Any],
             creds: tuple[str, str] | None) -> tuple[int, str]:
        return 200, document if payload.get("eventType") in ("answer", "redirect") else ""

    run = run_call(CallSetup(call_id="c", from_="+31201234567", to="+31612345678",
                             answer_url="https://a/answer"), script, http)
    assert run.cause in CAUSES
    _ends(run)


# Configuration ------------------------------------------------------------------------------

TOML_SCALARS = (st.booleans() | st.integers(-(2**63), 2**63 - 1)
                | st.floats(allow_nan=True, allow_infinity=True)
                | st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)),
                          max_size=12)
                | st.sampled_from(["https://voice.example.com", "sqlite:///x.db",
                                   "redis://:pw-planted-123@h/0", "bandwidth", "bird",
                                   "messagebird", "simulator", "aiohttp", "9900000"]))
KEYS = {"": ["provider", "public_url", "flow_store"],
        "http": ["timeout", "connect_timeout", "max_connections", "max_keepalive",
                 "max_attempts", "backoff", "max_backoff", "max_retry_after", "settle",
                 "async_backend"],
        "bandwidth": ["account_id", "application_id", "username", "password", "client_id",
                      "client_secret", "callback_username", "callback_password", "api_url"],
        "messagebird": ["access_key", "signing_key", "api_url", "api_version"],
        "bird": ["workspace_id", "channel_id", "access_key", "signing_key", "api_url"],
        "inbound": ["default", "+31201234567"], "simulator": ["speed", "api_key"]}


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if (
            math.isinf(value)) else repr(value)
    if isinstance(value, int):
        return str(value)
    return json.dumps(value)


@st.composite
def configs(draw: st.DrawFn) -> str:
    lines = []
    for table, keys in KEYS.items():
        chosen = draw(st.dictionaries(st.sampled_from(keys), TOML_SCALARS, max_size=4))
        if table and (chosen or draw(st.booleans())):
            lines.append(f"[{table}]" if table != "inbound" else "[inbound]")
        lines += [f"{json.dumps(k)} = {_toml(v)}" for k, v in chosen.items()]
    return "\n".join(lines) + "\n"


@PROPERTY
@given(text=configs())
def test_any_config_of_known_keys_loads_or_is_a_config_error(text: str,
                                                            tmp_path: Path) -> None:
    file = tmp_path / "univoice.toml"
    file.write_text(text, encoding="utf-8")
    shown: list[str] = []
    try:
        config = Config.load(file)
        config.missing()
        shown += [json.dumps(config.shown(), default=str), repr(config), str(config)]
        config.make_provider()
    except ConfigError as exc:
        shown.append(str(exc))
    assert all("pw-planted-123" not in text for text in shown)


def test_the_config_property_sees_a_planted_value(tmp_path: Path) -> None:
    file = tmp_path / "univoice.toml"
    file.write_text('flow_store = "redis://:pw-planted-123@h/0"\n[bird]\nnote = "x"\n')
    assert "pw-planted-123" in Config.load(file).flow_store  # there to be used, not shown
    with pytest.raises(ConfigError):
        Config.load(file).make_provider("bird")
