"""Routing decisions: rules by region and prefix, capability filtering, weighted splits.

The split is checked statistically: tags from a seeded generator, counts held to the
weights within five standard deviations (a false alarm about once in 3.5 million runs).
"""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest

from univoice.flow import Flow
from univoice.plugins import provider_class
from univoice.provider import Provider
from univoice.routing.config import RoutingConfig
from univoice.routing.decide import Destination, decide, split_point

NAMES = ("bandwidth", "messagebird", "bird", "simulator")
PROVIDERS: dict[str, Provider] = {n: provider_class(n).offline() for n in NAMES}
GREETING = Flow.builder().say("Hello").hangup().build()
CONFERENCE = Flow.from_dict({"name": "bridge", "steps": [{"conference": {"name": "room"}}]})

CONFIG = RoutingConfig.model_validate({
    "providers": ["bandwidth", "messagebird", "bird"],
    "rules": [
        {"name": "canada", "countries": ["CA"], "providers": ["bird", "bandwidth"]},
        {"name": "amsterdam", "prefixes": ["+3120", "+31"], "providers": ["messagebird"]},
        {"name": "benelux", "countries": ["nl", "BE"], "providers": ["bird", "messagebird"]},
    ],
})


def route(to: str, config: RoutingConfig = CONFIG, **kw: object) -> tuple[str, list[str]]:
    decision = decide(config, PROVIDERS, to, tag="t", **kw)  # type: ignore[arg-type]
    return decision.rule, decision.order


def test_destinations_are_read_with_phonenumbers() -> None:
    assert Destination.parse("+14165550123").region == "CA"
    assert Destination.parse("+12125550123").region == "US"
    assert Destination.parse("+31201234567").calling_code == 31
    assert Destination.parse("sip:alice@example.com").region is None


def test_first_matching_rule_wins_and_no_match_takes_the_default() -> None:
    assert route("+14165550123") == ("canada", ["bird", "bandwidth"])  # +1, region CA
    assert route("+12125550123") == ("default", ["bandwidth", "messagebird", "bird"])
    # "amsterdam" comes before "benelux": its prefixes match any +31 number.
    assert route("+31612345678") == ("amsterdam", ["messagebird"])
    assert route("+32470123456") == ("benelux", ["bird", "messagebird"])
    decision = decide(CONFIG, PROVIDERS, "+31201234567", tag="t")
    assert decision.why == "the destination starts with +3120"  # the longest prefix
    assert route("sip:desk@pbx.example.com")[0] == "default"


def test_a_flow_goes_only_to_providers_that_can_run_it() -> None:
    config = RoutingConfig(providers=["messagebird", "bird", "bandwidth"])
    decision = decide(config, PROVIDERS, "+12125550123", tag="t", flow=CONFERENCE)
    assert decision.order == ["bandwidth"]
    passed = {p.provider: p.why for p in decision.passed}
    assert set(passed) == {"messagebird", "bird"}
    assert "conference" in passed["messagebird"] and "steps[0]" in passed["messagebird"]
    assert "passed over" in "\n".join(decision.lines())
    # Nobody left: an empty order, explained.
    only = RoutingConfig(providers=["messagebird"])
    empty = decide(only, PROVIDERS, "+12125550123", tag="t", flow=CONFERENCE)
    assert empty.order == [] and "no provider can take this call" in empty.lines()[-1]


def test_machine_detection_and_the_webhook_app_are_capabilities_too() -> None:
    config = RoutingConfig(providers=["bird", "bandwidth"])
    detect = decide(config, PROVIDERS, "+12125550123", tag="t", flow=GREETING,
                    machine_detection=True)
    assert detect.order == ["bandwidth"]
    # Bandwidth fetches every document from the app: without a public_url it cannot.
    no_app = decide(RoutingConfig(providers=["bandwidth", "messagebird"]), PROVIDERS,
                    "+12125550123", tag="t", flow=GREETING, app_known=False)
    assert no_app.order == ["messagebird"]
    assert "public_url" in no_app.passed[0].why


SPLIT = RoutingConfig(providers=["bandwidth", "bird", "messagebird"],
                      weights={"bandwidth": 90, "bird": 10, "messagebird": 0})


def test_weighted_split_follows_the_weights() -> None:
    rng = random.Random(20240609)
    n = 20_000
    firsts = Counter(decide(SPLIT, PROVIDERS, "+12125550123",
                            tag=f"{rng.getrandbits(64):016x}").order[0] for _ in range(n))
    assert firsts["messagebird"] == 0  # weight 0: drained, never first
    p = 0.9
    sigma = math.sqrt(n * p * (1 - p))
    assert abs(firsts["bandwidth"] - n * p) < 5 * sigma, firsts
    assert firsts["bandwidth"] + firsts["bird"] == n


def test_the_split_keeps_the_others_as_failover_in_order() -> None:
    orders = {tuple(decide(SPLIT, PROVIDERS, "+12125550123", tag=f"t{i}").order)
              for i in range(200)}
    assert orders == {("bandwidth", "bird", "messagebird"), ("bird", "bandwidth", "messagebird")}


def test_the_same_tag_always_takes_the_same_provider() -> None:
    for i in range(100):
        tag = f"order-{i}"
        picks = {decide(SPLIT, PROVIDERS, "+12125550123", tag=tag).order[0] for _ in range(3)}
        assert len(picks) == 1


def test_split_points_are_uniform() -> None:
    rng = random.Random(7)
    points = [split_point(f"{rng.getrandbits(64):x}", "default") for _ in range(10_000)]
    deciles = Counter(int(p * 10) for p in points)
    assert set(deciles) == set(range(10))
    # Each decile holds 1,000 +- 5 sigma (sigma = 30).
    assert all(abs(c - 1000) < 150 for c in deciles.values()), deciles


@pytest.mark.parametrize(("table", "message"), [
    ({"providers": []}, "at least 1 item"),
    ({"providers": ["bandwidth", "bandwidth"]}, "more than once"),
    ({"providers": ["bandwidth"], "weights": {"bird": 1}}, "not in providers"),
    ({"providers": ["bandwidth"], "weights": {"bandwidth": 0}}, "must not all be 0"),
    ({"providers": ["bandwidth"], "rules": [{"countries": ["XX"], "providers": ["bird"]}]},
     "XX"),
    ({"providers": ["bandwidth"], "rules": [{"prefixes": ["31"], "providers": ["bird"]}]},
     "should match pattern"),
    ({"providers": ["bandwidth"], "rules": [{"name": "default", "providers": ["bird"]}]},
     "'default'"),
    ({"providers": ["bandwidth"], "breaker": {"failures": 0}}, "greater than or equal to 1"),
    ({"providers": ["bandwidth"], "failover_on": ["typo"]}, "unreachable"),
    ({"providers": ["bandwidth"], "caller_id": {"bandwidth": "12345"}}, "E.164"),
])
def test_bad_routing_tables_are_refused_with_the_reason(table: dict[str, object],
                                                        message: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=message):
        RoutingConfig.model_validate(table)


def test_members_are_every_provider_named_once() -> None:
    assert CONFIG.members() == ["bandwidth", "messagebird", "bird"]
