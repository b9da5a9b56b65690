"""BXML benchmark: the support line's documents as a webhook handler serves them, built by
univoice's Bandwidth compiler, by bandwidth-sdk's BXML classes (the official SDK), by raw
lxml (the floor) and by joining strings (the absolute floor), in one run.

    python -m pip install -e '.[bench]'     # bandwidth-sdk, twilio; without them, rows say so
    python bench/bxml_bench.py [--json] [--quick]     # --quick: a few seconds (smoke test)

Two documents of ``examples/support_ivr.yaml``, with the callback URLs and credentials the
webhook app puts on them:
  first document  what answers the call: welcome SpeakSentence, then the main menu's
                  Gather (gatherUrl, digits, timeouts, credentials) around its prompt;
  after a choice  what the app serves once the caller pressed 1: SpeakSentence, then the
                  Transfer to sales (transferCompleteUrl, credentials) with its PhoneNumber
                  (transferAnswerUrl, transferDisconnectUrl, credentials).
Every call is for one of 64 stored flows: the flow's URLs (its id) and the call change per
call, as they do for a handler; texts, verbs and attributes stay.

What is timed, per document (the bytes a handler answers with):
  univoice              from an already loaded ``Flow`` (parsed and validated: what a
                        process that keeps its flows holds): build the ``Links`` of the
                        flow id, then ``compile.start``; for the choice,
                        ``compile.after_gather`` (which branch runs, then its document). A
                        flow object already served keeps its documents as templates, and
                        the outcome of each menu key (see compile.py): the steady state.
  peers                 the same document hard-coded in the handler (the SDK's verb
                        objects, lxml elements, string pieces) with the per-call URLs put in:
                        what a hand-written handler for this one IVR would do. They decide
                        nothing; univoice works out which steps run (and, building a
                        document the first time, where the 64 KB limit cuts it).
For context, twilio's ``VoiceResponse`` builds the same two documents in TwiML (its own
dialect: timed beside the others, not compared). Information rows (no target):
``render_continuation`` (the provider method the webhook app calls, the ``Links`` from the
settings, a ``Document``; the call's variables, in a SQLite ``:memory:`` store, are read
only when the document speaks one); a ``Flow`` object never served before (the first call
of a flow: positions indexed, document built with lxml, template kept); ``Flow.from_dict``
+ compile: what an app that loaded the stored flow anew at every callback would pay (the
webhook app parses a content-addressed flow once per process; parsing and validating cost
far more than the document).

Before timing, every row's output is parsed and compared canonically (C14N 2.0: attribute
order and quoting aside) with univoice's, so every row builds the same document.
Targets: univoice's first document <= 1.5x raw lxml and faster than bandwidth-sdk; after a
choice <= 2x string joining. Rounds run round-robin in this process; µs are medians of
rounds, ratios medians of each round's ratio (both sides measured moments apart). Nothing
here is a test: no time is asserted.
"""

from __future__ import annotations

import importlib.metadata
import json
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree

if str(Path(__file__).parent) not in sys.path:  # run by path without it (runpy)
    sys.path.insert(0, str(Path(__file__).parent))
from _measure import Spread, cli, over, paired, round_robin

ROOT = Path(__file__).resolve().parents[1]
FLOW_FILE = ROOT / "examples" / "support_ivr.yaml"
BASE = "https://voice.example.com"
FLOW_PREFIX = f"{BASE}/univoice/bandwidth/flow/"
EVENTS = f"{BASE}/univoice/bandwidth/events"
USER, PASSWORD = "univoice-callbacks", "cb-Secret-0123456789"
FLOW_IDS = [f"{n:032x}" for n in range(0x5EED, 0x5EED + 64)]  # content digests, as hosted
MENU, CHOICE = "steps[1]", "1"  # the main menu's gather; sales
FULL, QUICK = (1000, 11), (40, 2)  # documents per variant and round, rounds
TARGETS = {"lxml": 1.5, "join": 2.0}

# The document's texts and values, as a hand-written handler would hold them.
LOCALE, GENDER = "en_US", "female"
WELCOME = "Thank you for calling Acme."
PROMPT = "For sales, press 1. For support, press 2. To leave a message, press 3."
SALES = "Connecting you to sales."
SALES_NUMBER = "+31201234567"
GATHER_NODE = "steps%5B1%5D?on=gather&attempt=1"
TRANSFER_NODE = "steps%5B1%5D.gather.options%5B%271%27%5D.steps%5B1%5D"

Variant = Callable[[str], bytes]  # flow id -> the document's bytes
FIRST, AFTER = "first document", "after a choice"
NOT_INSTALLED = "not installed (pip install -e '.[bench]')"
TWIML = "twilio VoiceResponse (TwiML)"  # timed beside the others, not one of their rows
LOADED = "univoice + Flow.from_dict"


# Floors and peers ----------------------------------------------------------------------------


def _attr(value: str) -> str:
    """A value as an XML attribute holds it (what a correct string floor must do)."""
    return (value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def lxml_first(flow_id: str) -> bytes:
    root = etree.Element("Response")
    speak = etree.SubElement(root, "SpeakSentence", {"locale": LOCALE, "gender": GENDER})
    speak.text = WELCOME
    gather = etree.SubElement(root, "Gather", {
        "gatherUrl": f"{FLOW_PREFIX}{flow_id}/{GATHER_NODE}", "maxDigits": "1",
        "firstDigitTimeout": "5", "interDigitTimeout": "5",
        "username": USER, "password": PASSWORD})
    prompt = etree.SubElement(gather, "SpeakSentence", {"locale": LOCALE, "gender": GENDER})
    prompt.text = PROMPT
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def lxml_after(flow_id: str) -> bytes:
    node = f"{FLOW_PREFIX}{flow_id}/{TRANSFER_NODE}"
    root = etree.Element("Response")
    speak = etree.SubElement(root, "SpeakSentence", {"locale": LOCALE, "gender": GENDER})
    speak.text = SALES
    transfer = etree.SubElement(root, "Transfer", {
        "callTimeout": "25", "transferCompleteUrl": f"{node}?on=transfer",
        "username": USER, "password": PASSWORD})
    number = etree.SubElement(transfer, "PhoneNumber", {
        "transferAnswerUrl": f"{node}?on=answered", "transferDisconnectUrl": EVENTS,
        "username": USER, "password": PASSWORD})
    number.text = SALES_NUMBER
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


_HEAD = "<?xml version='1.0' encoding='UTF-8'?>\n<Response>"
_SPEAK = f'<SpeakSentence locale="{LOCALE}" gender="{GENDER}">'


def join_first(flow_id: str) -> bytes:
    credentials = f' username="{_attr(USER)}" password="{_attr(PASSWORD)}"'
    return "".join((
        _HEAD, _SPEAK, WELCOME, "</SpeakSentence>",
        '<Gather gatherUrl="', _attr(f"{FLOW_PREFIX}{flow_id}/"), GATHER_NODE.replace("&", "&amp;"),
        '" maxDigits="1" firstDigitTimeout="5" interDigitTimeout="5"', credentials, ">",
        _SPEAK, PROMPT, "</SpeakSentence></Gather></Response>")).encode()


def join_after(flow_id: str) -> bytes:
    node = _attr(f"{FLOW_PREFIX}{flow_id}/") + TRANSFER_NODE
    credentials = f' username="{_attr(USER)}" password="{_attr(PASSWORD)}"'
    return "".join((
        _HEAD, _SPEAK, SALES, "</SpeakSentence>",
        '<Transfer callTimeout="25" transferCompleteUrl="', node, '?on=transfer"', credentials,
        '><PhoneNumber transferAnswerUrl="', node, '?on=answered" transferDisconnectUrl="',
        _attr(EVENTS), '"', credentials, ">", SALES_NUMBER,
        "</PhoneNumber></Transfer></Response>")).encode()


def sdk_variants() -> tuple[dict[str, Variant], str]:
    """bandwidth-sdk's builders, and its version ({} and why when it is missing)."""
    try:
        from bandwidth.models.bxml import (  # type: ignore[import-untyped, import-not-found, unused-ignore]
            Gather,
            PhoneNumber,
            Response,
            SpeakSentence,
            Transfer,
        )
        version = importlib.metadata.version("bandwidth-sdk")
    except ImportError:
        return {}, NOT_INSTALLED

    def first(flow_id: str) -> bytes:  # every list given: the SDK's defaults are shared
        document: str = Response(nested_verbs=[
            SpeakSentence(text=WELCOME, locale=LOCALE, gender=GENDER),
            Gather(audio_verbs=[SpeakSentence(text=PROMPT, locale=LOCALE, gender=GENDER)],
                   gather_url=f"{FLOW_PREFIX}{flow_id}/{GATHER_NODE}", max_digits=1,
                   first_digit_timeout=5, inter_digit_timeout=5,
                   username=USER, password=PASSWORD),
        ]).to_bxml()
        return document.encode()

    def after(flow_id: str) -> bytes:
        node = f"{FLOW_PREFIX}{flow_id}/{TRANSFER_NODE}"
        document: str = Response(nested_verbs=[
            SpeakSentence(text=SALES, locale=LOCALE, gender=GENDER),
            Transfer(transfer_to=[PhoneNumber(
                number=SALES_NUMBER, transfer_answer_url=f"{node}?on=answered",
                transfer_disconnect_url=EVENTS, username=USER, password=PASSWORD)],
                call_timeout="25", transfer_complete_url=f"{node}?on=transfer",
                username=USER, password=PASSWORD),
        ]).to_bxml()
        return document.encode()

    return {FIRST: first, AFTER: after}, version


def twilio_variants() -> tuple[dict[str, Variant], str]:
    """twilio's ``VoiceResponse`` building the same two documents in TwiML (for context:
    another provider's dialect, so it is not compared with univoice's BXML), and its
    version ({} and why when it is missing). TwiML puts no credentials on URLs."""
    try:
        from twilio.twiml.voice_response import (  # type: ignore[import-untyped, import-not-found, unused-ignore]
            VoiceResponse,
        )
        version = importlib.metadata.version("twilio")
    except ImportError:
        return {}, NOT_INSTALLED

    def first(flow_id: str) -> bytes:
        response = VoiceResponse()
        response.say(WELCOME, language="en-US", voice="woman")
        gather = response.gather(action=f"{FLOW_PREFIX}{flow_id}/{GATHER_NODE}",
                                 num_digits=1, timeout=5)
        gather.say(PROMPT, language="en-US", voice="woman")
        document: str = response.to_xml(xml_declaration=True)
        return document.encode()

    def after(flow_id: str) -> bytes:
        node = f"{FLOW_PREFIX}{flow_id}/{TRANSFER_NODE}"
        response = VoiceResponse()
        response.say(SALES, language="en-US", voice="woman")
        dial = response.dial(action=f"{node}?on=transfer", timeout=25)
        dial.number(SALES_NUMBER, url=f"{node}?on=answered", status_callback=EVENTS)
        document: str = response.to_xml(xml_declaration=True)
        return document.encode()

    return {FIRST: first, AFTER: after}, version


# univoice ------------------------------------------------------------------------------------


@dataclass
class Univoice:
    """univoice's variants of each document, and what they need set up."""

    variants: dict[str, dict[str, Variant]]  # document -> name -> variant
    fresh: dict[str, Callable[[int], Variant]]  # document -> (n -> variant over n new flows)
    close: Callable[[], None]


def univoice_variants() -> Univoice:
    from univoice import Flow
    from univoice.events import BaseEvent, DigitsGathered
    from univoice.store import open_store
    from univoice.webhooks.continuations import Continuations
    from univoice.webhooks.request import WebhookRequest
    from univoice_bandwidth import BandwidthProvider, compile

    flow = Flow.load(FLOW_FILE)
    stored = json.loads(json.dumps(flow.to_dict()))  # what the store gives back
    provider = BandwidthProvider(account_id="9900000", callback_username=USER,
                                 callback_password=PASSWORD)
    store = open_store("sqlite://:memory:")
    context = Continuations(store, BASE, "bandwidth")
    store.put_state("bandwidth:call:c-bench", {"variables": {}})

    def links(flow_id: str) -> compile.Links:  # as the provider makes them
        return compile.Links(f"{FLOW_PREFIX}{flow_id}/", EVENTS, USER, PASSWORD)

    def first(flow_id: str, flow: Flow = flow) -> bytes:
        return compile.start(flow, links(flow_id))

    def after(flow_id: str, flow: Flow = flow) -> bytes:
        return compile.after_gather(flow, MENU, 1, CHOICE, links(flow_id), {})[0]

    def request(flow_id: str, node: str, query: dict[str, str]) -> WebhookRequest:
        path = f"/univoice/bandwidth/flow/{flow_id}/{node}"
        return WebhookRequest(method="POST", url=BASE + path, path=path, query=query,
                              headers={}, body=b"{}")

    starts = {i: request(i, "start", {}) for i in FLOW_IDS}
    gathers = {i: request(i, MENU, {"on": "gather", "attempt": "1"}) for i in FLOW_IDS}
    digits: list[BaseEvent] = [DigitsGathered(id="e-bench", provider="bandwidth", call_id="c-bench",
                             digits=CHOICE)]

    def served_first(flow_id: str) -> bytes:
        document = provider.render_continuation(flow, flow_id, "start", starts[flow_id], [],
                                                context)
        return document.body.encode()

    def served_after(flow_id: str) -> bytes:
        document = provider.render_continuation(flow, flow_id, MENU, gathers[flow_id],
                                                digits, context)
        return document.body.encode()

    def loaded_first(flow_id: str) -> bytes:
        return first(flow_id, Flow.from_dict(stored))

    def loaded_after(flow_id: str) -> bytes:
        return after(flow_id, Flow.from_dict(stored))

    def fresh(build: Callable[[str, Flow], bytes]) -> Callable[[int], Variant]:
        def make(n: int) -> Variant:  # n flow objects never served, made before the clock
            flows = iter([flow.model_copy() for _ in range(n)])
            return lambda flow_id: build(flow_id, next(flows))
        return make

    return Univoice(
        variants={
            FIRST: {"univoice": first, "univoice render_continuation": served_first,
                    LOADED: loaded_first},
            AFTER: {"univoice": after, "univoice render_continuation": served_after,
                    LOADED: loaded_after}},
        fresh={FIRST: fresh(first), AFTER: fresh(after)},
        close=store.close)


# Measuring -----------------------------------------------------------------------------------

NEW_FLOW = "univoice, flow never served"


def canonical(document: bytes) -> bytes:
    """The document as C14N 2.0 writes it: attribute order and quoting do not matter."""
    text: str = etree.canonicalize(document.decode("utf-8").split("?>", 1)[-1])
    return text.encode()


def check_same(document: str, outputs: dict[str, bytes]) -> dict[str, bool]:
    """Assert every output means univoice's document; which are byte for byte the same."""
    reference = outputs["univoice"]
    for name, body in outputs.items():
        if canonical(body) != canonical(reference):
            raise AssertionError(f"{document}: {name} builds another document:\n"
                                 f"{body.decode()}\nunivoice:\n{reference.decode()}")
    return {name: body == reference for name, body in outputs.items()}


def measure(variants: dict[str, Variant], fresh: Callable[[int], Variant], n: int,
            rounds: int) -> dict[str, list[float]]:
    """µs per document of each variant (and of ``fresh``) in each round, round-robin."""
    ids = [FLOW_IDS[i % len(FLOW_IDS)] for i in range(n)]
    makers = {name: over(fn, ids) for name, fn in variants.items()}
    makers[NEW_FLOW] = lambda: over(fresh(n), ids)()  # n flows never served, per round
    return round_robin(makers, n, rounds)


def target(name: str, ratio: Spread | None, limit: float, *, strict: bool = False
           ) -> dict[str, Any]:
    median = None if ratio is None else ratio.median
    met = None if median is None else (median < limit if strict else median <= limit)
    return {"name": name, "ratio": median, "target": f"{'<' if strict else '<='} {limit:g}",
            "met": met, "spread": None if ratio is None else ratio.as_dict()}


def main(quick: bool = False, rounds: int | None = None, *, essential: bool = False
         ) -> dict[str, Any]:
    """Every row of both documents; ``samples`` holds each row's µs per round.
    ``essential``: without ``Flow.from_dict`` (its rows, the slowest, bench/run.py omits)."""
    n, default_rounds = QUICK if quick else FULL
    rounds = rounds or default_rounds
    uv = univoice_variants()
    sdk, sdk_version = sdk_variants()
    twiml, twilio_version = twilio_variants()
    floors: dict[str, dict[str, Variant]] = {
        FIRST: {"raw lxml": lxml_first, "string join": join_first},
        AFTER: {"raw lxml": lxml_after, "string join": join_after}}
    documents: dict[str, Any] = {}
    samples: dict[str, dict[str, list[float]]] = {}
    try:
        for document in (FIRST, AFTER):
            variants = {**uv.variants[document], **(
                {"bandwidth-sdk": sdk[document]} if document in sdk else {}),
                **floors[document]}
            sample = FLOW_IDS[1]
            outputs = {name: fn(sample) for name, fn in variants.items()}
            outputs[NEW_FLOW] = uv.fresh[document](1)(sample)
            identical = check_same(document, outputs)
            if document in twiml:
                variants[TWIML] = twiml[document]
            if essential:
                del variants[LOADED]
            samples[document] = measure(variants, uv.fresh[document], n, rounds)
            us: dict[str, float | None] = {
                name: statistics.median(values) for name, values in samples[document].items()}
            us.setdefault("bandwidth-sdk", None)  # not installed
            documents[document] = {"us": {k: v for k, v in us.items() if k != TWIML},
                                   "twiml_us": us.get(TWIML), "bytes": len(outputs["univoice"]),
                                   "byte_identical": identical}
    finally:
        uv.close()
    first, after = samples[FIRST], samples[AFTER]

    def ratio(document: dict[str, list[float]], name: str, floor: str) -> Spread | None:
        return paired(document[name], document[floor]) if floor in document else None

    targets = [
        target("first document: univoice ÷ raw lxml", ratio(first, "univoice", "raw lxml"),
               TARGETS["lxml"]),
        target("first document: univoice ÷ bandwidth-sdk",
               ratio(first, "univoice", "bandwidth-sdk"), 1.0, strict=True),
        target("after a choice: univoice ÷ string join",
               ratio(after, "univoice", "string join"), TARGETS["join"]),
    ]
    information = [
        {"document": doc, "name": f"{name} ÷ raw lxml",
         "ratio": paired(samples[doc][name], samples[doc]["raw lxml"]).median}
        for doc in (FIRST, AFTER)
        for name in ("univoice render_continuation", NEW_FLOW, LOADED) if name in samples[doc]]
    return {"quick": quick, "documents_per_round": n, "rounds": rounds,
            "python": sys.version.split()[0], "lxml": etree.__version__,
            "bandwidth_sdk": sdk_version, "twilio": twilio_version, "documents": documents,
            "targets": targets, "information": information, "samples": samples}


def report(results: dict[str, Any]) -> None:
    print(f"{'quick run, ' if results['quick'] else ''}{results['rounds']} rounds of "
          f"{results['documents_per_round']} documents a row; Python {results['python']}, "
          f"lxml {results['lxml']}, bandwidth-sdk {results['bandwidth_sdk']}, "
          f"twilio {results['twilio']}")
    for document, got in results["documents"].items():
        print(f"{document} ({got['bytes']} bytes; every row checked to build it):")
        for name, us in got["us"].items():
            if us is None:
                print(f"  {name:<32}not installed")
                continue
            same = "  same bytes" if got["byte_identical"].get(name) else ""
            print(f"  {name:<32}{us:9.2f} µs{same}")
        if got["twiml_us"] is not None:
            print(f"  {TWIML:<32}{got['twiml_us']:9.2f} µs  (TwiML, for context)")
    for target in results["targets"]:
        value = "not installed" if target["ratio"] is None else f"{target['ratio']:.2f}"
        verdict = "" if target["met"] is None else (" met" if target["met"] else " MISSED")
        print(f"  target {target['name']} {target['target']}: {value}{verdict}")
    for info in results["information"]:
        print(f"  ({info['document']}) {info['name']}: {info['ratio']:.2f}")


if __name__ == "__main__":
    cli(main, report)
