"""Documents served from a flow's templates are the documents lxml builds, byte for byte;
a run is named by where it starts (what the templates are kept by); caches go with their
flow. The lxml path is forced by handing ``render`` a list instead of a ``Run``."""

from __future__ import annotations

import gc
import os
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.support.bandwidth_flows import fit

from univoice.errors import FlowValidationError
from univoice.flow import Flow
from univoice.flow.positions import Positions, Reprompt, Run
from univoice.testing import flows
from univoice_bandwidth import compile

ROOT = Path(__file__).resolve().parents[2]
SUPPORT = Flow.load(ROOT / "examples" / "support_ivr.yaml")
LINKS = [
    compile.Links(flow="https://app.example/univoice/bandwidth/flow/F1/",
                  events="https://app.example/univoice/bandwidth/events",
                  username="cb-user", password="cb-pass"),
    compile.Links(flow="https://app.example/univoice/bandwidth/flow/F2/",
                  events="https://app.example/events", username="other", password="100% 'x'"),
    compile.Links(),  # relative URLs, no credentials
    compile.Links(flow="https://a.example/f/", events="https://a.example/e", username="u"),
    # values XML escapes: never from a template
    compile.Links(flow="https://a.example/f?a=1&b=2/", events="https://a.example/e",
                  username='u"<>', password="p&q"),
    compile.Links(flow="https://a.example/fé/", events="https://a.example/e\t",
                  username="ü", password="%(p)b"),
]
VARIABLES = [{}, {"ticket": "12345"}, {"ticket": ""}]


def outcome(build: Callable[..., bytes], *args: Any, **kwargs: Any) -> tuple[str, object]:
    try:
        return "document", build(*args, **kwargs)
    except FlowValidationError as exc:
        return "refused", [(i.path, i.message) for i in exc.issues]
    except KeyError:
        return "no such step", None


def served_and_built(build: Callable[..., bytes], *args: Any, **kwargs: Any) -> None:
    """``build`` as served (templates) and built with lxml every time (none) agree. A run
    argument is made by a function of no arguments, as each call reads it."""
    def call() -> tuple[str, object]:
        return outcome(build, *(a() if callable(a) else a for a in args), **kwargs)

    served = call()
    with mock.patch.object(compile, "_holes", return_value=None):  # no template is used
        assert served == call()


def served_as_built(flow: Flow) -> None:
    """Every document of ``flow``, twice (the second from templates), is what lxml builds."""
    positions = Positions(flow)
    paths = [path for path, _ in flow.walk()]
    for _ in range(2):
        for links in LINKS:
            for machine in (False, True):
                served_and_built(compile.start, flow, links, machine=machine)
            for variables in VARIABLES:
                for path in paths:
                    served_and_built(compile.render, flow, partial(positions.run_from, path),
                                     links, variables)
                    served_and_built(compile.render, flow, partial(positions.run_after, path),
                                     links, variables, record_call=True)
                    for attempt in (2, 3):
                        served_and_built(compile.gather_again, flow, path, links,
                                         Reprompt(attempt), variables)


def test_support_line_documents_are_what_lxml_builds() -> None:
    served_as_built(SUPPORT)
    served_as_built(Flow.load(ROOT / "examples" / "conference_bridge.yaml"))


def test_text_with_percent_signs_braces_and_markup_is_served_as_built() -> None:
    text = '100% of "%(f)b" & <b>{{f}}</b> %s %%'
    flow = Flow.from_dict({"record": True, "steps": [
        {"say": text}, {"gather": {"prompt": text, "options": {"1": [{"say": text}]},
                                   "retries": 1}},
        {"redirect": "https://app.example/next?a=%41&b=1"}]})
    served_as_built(flow)
    body = compile.start(flow, LINKS[0])
    assert body.count(b"100% of &quot;") == 0 and body.count(b"100% of \"%(f)b\"") == 2


@settings(max_examples=int(os.environ.get("UNIVOICE_CACHE_EXAMPLES", "25")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(flows(max_depth=2, max_steps=5), st.booleans())
def test_generated_flows_documents_are_what_lxml_builds(flow: Flow, fitted: bool) -> None:
    served_as_built(fit(flow) if fitted else flow)


def test_text_reading_variables_is_built_for_each_call() -> None:
    ticket = "steps[1].gather.options['2'].steps[0].gather.options['2'].steps[0]"
    after = "steps[1].gather.options['2'].steps[0].gather.options['2'].steps[1]"
    positions = Positions(SUPPORT)
    assert positions.step(ticket) is not None
    documents = [compile.render(SUPPORT, positions.run_from(after), LINKS[0], {"ticket": t})
                 for t in ("111", "222", "111")]
    assert b"ticket 111." in documents[0] and b"ticket 222." in documents[1]
    assert documents[0] == documents[2]


def test_a_run_read_already_or_of_another_flow_object_is_built() -> None:
    positions = Positions(SUPPORT)
    run = positions.run_from("steps[0]")
    assert run.fresh and run.start == "steps[0]"
    assert next(run)[0] == "steps[0]" and not run.fresh
    rest = compile.render(SUPPORT, run, LINKS[0])  # from steps[1]: the menu only
    assert rest == compile.render(SUPPORT, positions.run_from("steps[1]"), LINKS[0])
    other = SUPPORT.model_copy()
    assert compile.render(other, positions.run_from("steps[0]"), LINKS[0]) == \
        compile.start(SUPPORT, LINKS[0])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flows(max_depth=3, max_steps=6))
def test_runs_starting_at_the_same_step_run_the_same_steps(flow: Flow) -> None:
    positions = Positions(flow)
    runs: list[Run] = [positions.start(), positions.start(machine=True)]
    for path, _ in flow.walk():
        runs += [positions.run_from(path), positions.run_after(path)]
        for attempt, digits in ((1, ""), (1, "1"), (3, ""), (3, "2"), (9, "9")):
            try:
                after, _ = positions.after_gather(path, attempt, digits)
            except KeyError:
                break
            runs += [after] if isinstance(after, Run) else []
        for answered in (True, False):
            try:
                runs.append(positions.after_transfer(path, answered=answered))
            except KeyError:
                break
    seen: dict[str | None, list[tuple[str, int]]] = {}
    for run in runs:
        start = run.start
        entries = [(path, id(step)) for path, step in run]
        assert start == (entries[0][0] if entries else None)
        assert seen.setdefault(start, entries) == entries


def test_a_flows_templates_and_index_go_with_it() -> None:
    from univoice.flow import memo as memo_module

    gc.collect()
    kept = len(memo_module._KEPT)
    flow = SUPPORT.model_copy()
    compile.start(flow, LINKS[0])
    assert len(memo_module._KEPT) == kept + 2  # its templates and its position index
    del flow
    gc.collect()
    assert len(memo_module._KEPT) == kept


@pytest.mark.parametrize("links", LINKS)
def test_a_template_holds_no_credentials(links: compile.Links) -> None:
    flow = SUPPORT.model_copy()
    compile.start(flow, links)
    for template in compile._templates(flow).values():
        assert template is None or (b"cb-pass" not in template and b"other" not in template)
