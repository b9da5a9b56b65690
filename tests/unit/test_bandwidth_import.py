"""The BXML importer (``univoice convert --from bandwidth``): round trips, hand-written
documents for every verb and option, the documented samples, hostile input, the CLI.

Two properties: compiled flows read back run alike (``import(compile(flow))``, for flows
one BXML document holds whole: see ``one_document``), and BXML documents run by the
interpreter (Bandwidth's semantics) run like their import in the simulator. A menu cannot
round-trip through one document: univoice's compile cuts a flow at each gather and the
webhook app decides the menu; each document the app serves is imported in turn instead.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from tests.support.bandwidth_flows import PASSWORD, InProcessBandwidth, fit
from typer.testing import CliRunner

from univoice.cli import app
from univoice.flow import Flow, Gather, Native, Transfer
from univoice.flow.rules import PLACEHOLDER
from univoice.migrate import Carry, Imported, InvalidDocument
from univoice.simulator import CalleeScript, TraceKind, simulate
from univoice.simulator.compare import differences
from univoice.testing import callee_scripts, flows
from univoice.testing.flows import PHONE_NUMBERS, SIP_URIS
from univoice_bandwidth import BandwidthProvider, bxml, voices
from univoice_bandwidth.interpreter import CallSetup, run_call

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "import" / "bandwidth"
SAMPLES = ROOT.parent / "shared" / "reference" / "samples" / "bandwidth"
PROVIDER = BandwidthProvider.offline()
EXAMPLES = int(os.environ.get("UNIVOICE_IMPORT_EXAMPLES", "100"))
PROPERTY = settings(max_examples=EXAMPLES, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def imported(source: str | bytes) -> Imported:
    return PROVIDER.import_document(source)


def note_lines(result: Imported) -> list[str]:
    return [f"{n.at}: {n.construct}: {n.carry.name.lower()}" + (f" -> {n.step}" if n.step
                                                                 else "")
            for n in result.notes]


# (a) Round trip: import(compile(flow)) runs like flow ----------------------------------


def _plain(text: str) -> str:
    """The text with its variable reads spelled out (no gather is left to set them)."""
    return PLACEHOLDER.sub(lambda m: m.group(0) if m.group(1) is None else m.group(1), text)


def _speaker(body: dict[str, Any], flow_voice: str | None) -> None:
    body["text"] = _plain(body["text"])
    voice = body.get("voice", flow_voice)
    if voice is not None:  # on Bandwidth the voice decides language and gender
        locale, gender = voices.VOICES[voice]
        body["language"], body["gender"] = voices.language(locale), gender


def one_document(flow: Flow) -> Flow:
    """``flow`` (already ``fit``) reduced to what Bandwidth's first document holds whole.

    * no gather: each hands its keys to univoice's app, which holds the menu, re-prompts
      and variables; a gather becomes its prompt (its says and plays still run);
    * no transfer ``no_answer`` (the outcome goes to the app) and no transfer ``record``
      (the answered leg's recording starts in a document the app serves on answer);
    * no machine detection (a call-creation option, not BXML);
    * a say that names a voice speaks that voice's language and gender (Bandwidth's voice
      overrides locale and gender, so otherwise compile(flow) itself says something else
      on Bandwidth than the flow does, and an honest import follows Bandwidth).
    """
    document = flow.to_dict()
    document.pop("machine_detection", None)
    voice = document.get("voice")
    steps: list[Any] = []
    for step in document["steps"]:
        (kind, body), = step.items() if isinstance(step, dict) else ((step, None),)
        if kind == "gather":
            for prompt in body.get("prompt", []):
                (prompt_kind, prompt_body), = prompt.items()
                if prompt_kind == "say":
                    _speaker(prompt_body, voice)
                steps.append(prompt)
            continue
        if kind == "say":
            _speaker(body, voice)
        elif kind == "transfer":
            body.pop("no_answer", None)
            body.pop("record", None)
        steps.append(step)
    document["steps"] = steps or ["hangup"]
    return Flow.from_dict(document)


@st.composite
def one_document_cases(draw: st.DrawFn) -> tuple[Flow, CalleeScript]:
    flow = one_document(fit(draw(flows(max_depth=2, max_steps=5))))
    script = draw(callee_scripts(flow)).model_copy(update={"hang_up_at": None})
    return flow, script


@PROPERTY
@given(one_document_cases())
def test_compiled_flows_import_back_to_flows_that_run_alike(
        case: tuple[Flow, CalleeScript]) -> None:
    """For every generated flow within Bandwidth's reach (``fit``) whose first document
    holds it whole (``one_document``), ``import(compile(flow))`` gives the simulator's
    observable trace of ``flow`` for every generated callee script; the one thing the
    import reports is the transfer's answered-leg document, held in univoice's app."""
    flow, script = case
    result = imported(PROVIDER.compile_flow(flow).body)
    assert not any(isinstance(s, Native) for _, s in result.flow.walk())
    problems = differences(simulate(flow, script), simulate(result.flow, script))
    assert not problems, "\n".join([*problems, flow.to_yaml(), result.flow.to_yaml()])
    assert {n.construct.split()[-1] for n in result.notes} <= {"transferAnswerUrl>"}
    assert flow.record == result.flow.record


# (a) BXML documents: the interpreter runs them as the simulator runs their import --------

_TEXTS = ("Welcome to Acme.", "Press 1 & wait <here>.", "Your code is {pin}.", "Goodbye!")
_URLS = ("https://media.example.com/a.wav", "http://127.0.0.1:8080/b.mp3")
_KEYS = "0123456789*#"


def _element(tag: str, attributes: dict[str, str] | None = None, text: str | None = None,
             children: list[etree._Element] | None = None) -> etree._Element:
    element = etree.Element(tag, attributes or {})
    element.text = text
    element.extend(children or [])
    return element


@st.composite
def _speech(draw: st.DrawFn) -> etree._Element:
    if draw(st.booleans()):
        return _element("PlayAudio", text=draw(st.sampled_from(_URLS)))
    attributes = {}
    voice = draw(st.none() | st.sampled_from(sorted(voices.VOICES)))
    if voice is not None:  # the interpreter reports the locale's language: give it
        locale, gender = voices.VOICES[voice]
        attributes = {"voice": voice, "locale": locale, "gender": gender}
    return _element("SpeakSentence", attributes, draw(st.sampled_from(_TEXTS)))


def _seconds(low: int, high: int) -> st.SearchStrategy[str]:
    return st.integers(low * 10, high * 10).map(lambda n: f"{n / 10:g}")


@st.composite
def _verb(draw: st.DrawFn) -> etree._Element:
    kind = draw(st.sampled_from(("speech", "Pause", "Gather", "Record", "Transfer",
                                 "Conference", "SendDtmf")))
    if kind == "speech":
        return draw(_speech())
    if kind == "Pause":
        return _element("Pause", {"duration": draw(_seconds(1, 20))})
    if kind == "Gather":
        timeout = draw(_seconds(1, 10))
        attributes = {"maxDigits": str(draw(st.integers(1, 6) | st.just(50))),
                      "firstDigitTimeout": timeout, "interDigitTimeout": timeout,
                      "repeatCount": str(draw(st.integers(1, 4))),
                      "terminatingDigits": draw(st.sampled_from(("", *_KEYS)))}
        prompts = draw(st.lists(_speech(), max_size=3))
        return _element("Gather", attributes, children=prompts)
    if kind == "Record":
        return _element("Record", {
            "maxDuration": draw(_seconds(1, 90)), "silenceTimeout": draw(_seconds(0, 10)),
            "terminatingDigits": draw(st.sampled_from(("", "#", "5"))),
            "transcribe": draw(st.sampled_from(("true", "false")))})
    if kind == "Transfer":
        targets = draw(st.lists(st.sampled_from(PHONE_NUMBERS + SIP_URIS), min_size=1,
                                max_size=3, unique=True))
        attributes = {"callTimeout": draw(_seconds(1, 60))}
        if draw(st.booleans()):
            attributes["transferCallerId"] = draw(st.sampled_from(PHONE_NUMBERS))
        return _element("Transfer", attributes, children=[
            _element("SipUri" if t.startswith("sip") else "PhoneNumber", text=t)
            for t in targets])
    if kind == "Conference":
        return _element("Conference", {"mute": draw(st.sampled_from(("true", "false")))},
                        draw(st.sampled_from(("sales", "room-7.b"))))
    return _element("SendDtmf", text=draw(st.text("0123456789*#w", min_size=1, max_size=8)))


@st.composite
def documents(draw: st.DrawFn) -> bytes:
    """BXML documents of verbs with a neutral equivalent, as a person writes them."""
    verbs = draw(st.lists(_verb(), min_size=1, max_size=5))
    if draw(st.booleans()):
        verbs.insert(0, _element("StartRecording"))
    end = draw(st.sampled_from((None, "Hangup", "Redirect")))
    if end == "Hangup":
        verbs.append(_element("Hangup"))
    elif end == "Redirect":
        verbs.append(_element("Redirect", {"redirectUrl": "https://app.example.com/next"}))
    return etree.tostring(_element("Response", children=verbs))


ANSWER_URL = "https://app.example.com/answer"


def interpret(document: bytes, script: CalleeScript) -> Any:
    def http(method: str, url: str, payload: dict[str, Any],
             creds: tuple[str, str] | None) -> tuple[int, str]:
        return (200, document.decode()) if url == ANSWER_URL else (404, "")

    setup = CallSetup(call_id="c-doc", from_="+31201234567", to="+31612345678",
                      answer_url=ANSWER_URL)
    return run_call(setup, script, http).trace


@PROPERTY
@given(st.data())
def test_documents_run_like_their_import(data: st.DataObject) -> None:
    """What Bandwidth (its interpreter) does with a document of verbs that have a neutral
    equivalent is what the simulator does with its import, for generated callee scripts:
    gathers with repeatCount, terminatingDigits and timeouts, records, transfers, ..."""
    document = data.draw(documents())
    result = imported(document)
    script = data.draw(callee_scripts(result.flow)).model_copy(update={"hang_up_at": None})
    problems = differences(interpret(document, script),
                           simulate(result.flow, script, call_id="c-doc"))
    assert not problems, "\n".join([*problems, document.decode(), result.flow.to_yaml()])
    assert result.notes == ()


# (a) A menu: each document univoice's app serves imports, naming what it cannot hold ----


@pytest.fixture(scope="module")
def bandwidth() -> Iterator[InProcessBandwidth]:
    running = InProcessBandwidth()
    yield running
    running.close()


def test_each_served_document_of_a_menu_imports(bandwidth: InProcessBandwidth) -> None:
    """The support IVR's documents, as the app serves them along three callers' calls:
    each imports; the part before its gather carries over, and a gather going back to
    univoice's app (its menu lives in the stored flow) is said so, without any secret."""
    served: list[str] = []

    def http(method: str, url: str, payload: dict[str, Any],
             creds: tuple[str, str] | None) -> tuple[int, str]:
        status, body = InProcessBandwidth.http(bandwidth, method, url, payload, creds)
        if body.startswith("<?xml"):
            served.append(body)
        return status, body

    flow = Flow.load(ROOT / "examples" / "support_ivr.yaml")
    bandwidth.http = http  # type: ignore[method-assign]
    try:
        for keys in (["2", "1234#"], ["1"], ["9", "", "3"]):
            bandwidth.call(flow, CalleeScript(keys=keys))
    finally:
        del bandwidth.http
    assert len(served) >= 6
    gathers = 0
    for body in served:
        result = imported(body)
        for note in result.notes:  # what the app holds, never its credentials
            assert PASSWORD not in str(note)
            assert note.carry == Carry.DROPPED
            assert "univoice's own continuation" in note.detail or \
                   "answered-leg" in note.detail, note
        gathers += sum(isinstance(s, Gather) for _, s in result.flow.walk())
    assert gathers >= 4
    first = imported(served[0]).flow
    # the flow's defaults (en-US, female) are written on each verb, and read back there
    assert first.steps[0] == flow.steps[0].model_copy(update={"language": "en-US",
                                                               "gender": "female"})


# (b) Hand-written documents: every verb and option --------------------------------------

FILES = sorted(p.name for p in DATA.glob("*.xml"))


@pytest.mark.parametrize("name", FILES)
def test_hand_written_document(name: str) -> None:
    expected = yaml.safe_load((DATA / name).with_suffix(".expected.yaml").read_text())
    result = imported((DATA / name).read_bytes())
    assert result.flow == Flow.from_dict(expected["flow"])
    assert note_lines(result) == expected["notes"]
    assert result.provider == "bandwidth"


def _attributes_used() -> dict[str, set[str]]:
    used: dict[str, set[str]] = {}
    for name in FILES:
        for element in etree.parse(str(DATA / name)).iter():
            if isinstance(element.tag, str):
                used.setdefault(element.tag, set()).update(map(str, element.attrib))
    return used


def test_the_documents_cover_every_verb_and_attribute_bxml_knows() -> None:
    used = _attributes_used()
    assert set(bxml.VERBS) <= set(used), set(bxml.VERBS) - set(used)
    missing = {tag: sorted(set(verb.attributes) - used[tag]) for tag, verb in bxml.VERBS.items()
               if set(verb.attributes) - used[tag]}
    assert not missing
    assert {"Response", "Bxml"} <= set(used)


# What Bandwidth does when an attribute is absent: removing such a value changes nothing.
_DEFAULTS = {"fileFormat": "wav", "hold": "false", "answerCall": "true",
             "silenceTimeout": "0", "recordingAvailableUrl": "../../events",
             "transcriptionAvailableUrl": "../../events", "transferDisconnectUrl": "../../events",
             "conferenceEventUrl": "../../events"}


@pytest.mark.parametrize("name", [n for n in FILES if n != "gather_univoice.xml"])
def test_no_attribute_is_ignored(name: str) -> None:
    """Taking away any attribute that does not say Bandwidth's default changes what the
    import gives (its flow or its notes): each is mapped, noted, or kept native."""
    tree = etree.parse(str(DATA / name))

    def read(root: etree._Element) -> Any:
        try:
            result = imported(etree.tostring(root))
        except InvalidDocument as exc:
            return [str(i) for i in exc.issues]
        return result.flow, [(n.construct, n.carry, n.detail, n.step) for n in result.notes]

    original = read(tree.getroot())
    elements = [e for e in tree.getroot().iter() if isinstance(e.tag, str)]
    for index, element in enumerate(elements):
        if element.tag not in bxml.VERBS:
            continue
        for attribute, value in element.attrib.items():
            if (attribute.endswith("Method") and value == "POST") or \
                    _DEFAULTS.get(str(attribute)) == value:
                continue
            changed = copy.deepcopy(tree.getroot())
            del [e for e in changed.iter() if isinstance(e.tag, str)][index].attrib[attribute]
            assert read(changed) != original, f"<{element.tag} {attribute}> is ignored"


def test_a_long_text_is_split_and_braces_stay_text() -> None:
    text = " ".join(f"{{w{n}}}" for n in range(700))  # 4,590 characters, {w0} {w1} ...
    result = imported(f"<Response><SpeakSentence>{text}</SpeakSentence></Response>")
    says = [s for _, s in result.flow.walk()]
    assert len(says) == 3  # escaped, "{{w0}}" reads no variable
    assert all(len(s.text) <= 3000 for s in says)
    spoken = simulate(result.flow).events
    assert " ".join(e.data["text"] for e in spoken if e.kind == TraceKind.SAID) == text
    assert [n.construct for n in result.notes] == ["<SpeakSentence>"]


def test_native_steps_compile_back_as_written(bandwidth: InProcessBandwidth) -> None:
    """A flow holding native verbs compiles to the same verbs (reading it again gives the
    same flow), refuses every other provider naming the step, and runs on Bandwidth."""
    for name in ("no_equivalent.xml", "recording_parts.xml", "transfer.xml", "conference.xml",
                 "send_dtmf.xml", "play_pause_ring.xml", "hangup.xml", "recording_call.xml"):
        flow = imported((DATA / name).read_bytes()).flow
        assert imported(PROVIDER.compile_flow(flow).body).flow == flow, name
    parts = imported((DATA / "recording_parts.xml").read_bytes()).flow
    from univoice.errors import UnsupportedFeature

    with pytest.raises(UnsupportedFeature, match=r"steps\[1\]\.native"):
        simulate(parts)
    trace = bandwidth.call(parts, CalleeScript(talk_seconds=3)).trace
    kinds = [e.kind for e in trace.events]
    assert kinds.count(TraceKind.RECORDING_STARTED) == 2  # the native one, the conference's
    assert kinds.count(TraceKind.RECORDED) == 2
    assert trace.end_reason == "hangup"


def test_a_native_step_that_is_not_bxml_is_a_flow_error() -> None:
    from univoice.errors import FlowValidationError

    for document in ("<Pause", "<Response><Hangup/></Response>", {"verb": "Hangup"}):
        flow = Flow(steps=[Native(provider="bandwidth", document=document)])
        with pytest.raises(FlowValidationError, match=r"steps\[0\]"):
            PROVIDER.compile_flow(flow)


# (c) The documented samples -------------------------------------------------------------


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="the shared samples are not beside the repo")
@pytest.mark.parametrize("path", sorted(p.relative_to(SAMPLES).as_posix() for p in
                                        SAMPLES.glob("*/*") if p.suffix in (".xml", ".json")))
def test_documented_sample(path: str) -> None:
    data = (SAMPLES / path).read_bytes()
    if path.endswith(".json"):  # callbacks and REST bodies: no documents
        with pytest.raises(InvalidDocument, match="JSON, not BXML"):
            imported(data)
        return
    result = imported(data)
    natives = [s for _, s in result.flow.walk() if isinstance(s, Native)]
    assert len(natives) == sum(n.carry == Carry.NATIVE for n in result.notes)
    if not natives:
        simulate(result.flow)  # a neutral flow: runs anywhere


def test_documented_samples_read_as_they_say() -> None:
    if not SAMPLES.is_dir():
        pytest.skip("the shared samples are not beside the repo")
    gather = imported((SAMPLES / "bxml" / "gather_simple.xml").read_bytes()).flow
    step = gather.steps[0]
    assert isinstance(step, Gather)
    assert (step.timeout, step.finish_on_key, step.max_digits) == (10.0, "#", 50)
    assert gather.steps[1].model_dump(exclude_defaults=True) == {
        "url": "https://gather.url/nextBXML"}
    ssml = imported((SAMPLES / "bxml" / "speak_sentence_ssml.xml").read_bytes())
    assert ssml.flow.steps[0].model_dump(include={"text", "language"}) == {
        "text": "Hello, you have reached the home of Antonio Mendoza. Please leave a "
                "message.", "language": "es-ES"}
    # +1555 numbers are no numbers: the transfer is kept as written, saying why
    transfer = imported((SAMPLES / "bxml" / "transfer_simple.xml").read_bytes())
    assert isinstance(transfer.flow.steps[0], Native)
    assert "not a valid phone number" in transfer.notes[0].detail


# (d) Hostile input ----------------------------------------------------------------------

LAUGHS = (b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
          b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>\n'
          b"<Response><SpeakSentence>&lol2;</SpeakSentence></Response>")
HOSTILE = {
    "billion laughs": (LAUGHS, "line 2, column 1", "DOCTYPE"),
    "external entity": (b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                        b"<Response><SpeakSentence>&x;</SpeakSentence></Response>",
                        "line 1, column 1", "DOCTYPE"),
    "DTD in UTF-16": (LAUGHS.replace(b'"1.0"', b'"1.0" encoding="UTF-16"').decode()
                      .encode("utf-16"), "line 1", "DOCTYPE"),
    "undefined entity": (b"<Response>\n<SpeakSentence>&x;</SpeakSentence></Response>",
                         "line 2, column 19", "Entity 'x' not defined"),
    "malformed": (b"<Response>\n  <SpeakSentence>hi\n</Response>", "line 3, column 12",
                  "not well-formed XML: Opening and ending tag mismatch"),
    "not UTF-8": (b"<Response><SpeakSentence>\xff</SpeakSentence></Response>",
                  "line 1, column 26", "not well-formed"),
    "JSON": (b'\n  {"eventType": "answer"}', "line 2, column 3", "JSON, not BXML"),
    "another root": (b"<?xml version='1.0'?>\n<Speak/>", "line 2, column 1",
                     "the root is <Speak>"),
    "wrong types": (b'<Response>\n <Gather maxDigits="x"/></Response>', "line 2, column 2",
                    "maxDigits='x' must be an integer"),
    "out of range": (b'<Response><Pause duration="-1"/></Response>', "line 1, column 11",
                     "must be between 0.1 and 86400"),
    "missing attribute": (b"<Response><Redirect/></Response>", "line 1, column 11",
                          "needs the attribute 'redirectUrl'"),
    "missing text": (b"<Response><PlayAudio/></Response>", "line 1, column 11",
                     "<PlayAudio> needs text"),
    "misplaced verb": (b"<Response><Gather><Hangup/></Gather></Response>", "line 1, column 19",
                       "<Hangup> is not allowed inside <Gather>"),
    "target outside a transfer": (b"<Response><SipUri>sip:a@b.c</SipUri></Response>",
                                  "line 1, column 11", "belongs inside <Transfer>"),
    "no targets": (b"<Response><Transfer/></Response>", "line 1, column 11",
                   "needs 1 to 8"),
    "deep": (b"<Response><SpeakSentence>" + b"<s>" * 20 + b"x" + b"</s>" * 20
             + b"</SpeakSentence></Response>", "line 1, column 56", "nested more than 12"),
    "deeper than libxml2 goes": (b"<Response>" + b"<a>" * 300 + b"</a>" * 300 + b"</Response>",
                                 "line 1, column 778", "Excessive depth"),
    "too many verbs": (b"<Response>" + b"<Pause/>" * 1001 + b"</Response>",
                       "line 1, column 8011", "more verbs than a flow's 1000 steps"),
    "huge": (b"<Response>" + b"<Pause/>" * 9000 + b"</Response>", "", "larger than 65536"),
    "empty": (b" \n ", "", "empty document"),
    "lone surrogate": ("<Response><SpeakSentence>\ud800</SpeakSentence></Response>",
                       "line 1, column 26", "not well-formed"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_input_is_a_typed_error_with_its_position(name: str) -> None:
    source, where, message = HOSTILE[name]
    with pytest.raises(InvalidDocument) as caught:
        imported(source)
    issue = caught.value.issues[0]
    assert issue.path == where
    assert message in issue.message


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(InvalidDocument) as caught:
        imported(b'<Response>\n<Gather maxDigits="x" repeatCount="0"/>\n<Redirect/>\n'
                 b"<Hangup/><Pause>text</Pause></Response>")
    assert [i.path for i in caught.value.issues] == [
        "line 2, column 1", "line 2, column 1", "line 3, column 1", "line 4, column 10"]


def test_positions_skip_comments_and_cdata() -> None:
    result = imported(b"<Response><!-- <Pause/> --><SpeakSentence><![CDATA[<Tag>x</Tag>]]>"
                      b"</SpeakSentence>\n  <Tag>t</Tag></Response>")
    assert result.flow.steps[0].model_dump(include={"text"}) == {"text": "<Tag>x</Tag>"}
    assert [n.at for n in result.notes] == ["line 2, column 3"]


def test_secrets_never_reach_notes_or_native_steps() -> None:
    for name in FILES:
        text = (DATA / name).read_text()
        result = imported(text)
        shown = result.flow.to_yaml() + "\n".join(map(str, result.notes))
        for secret in [w.split('"')[1] for w in text.split() if w.startswith(
                ("password=", "fallbackPassword="))]:
            assert secret not in shown, (name, secret)


# (e) The command line ---------------------------------------------------------------------

runner = CliRunner()


@pytest.mark.parametrize("name", ["gather.xml", "recording_call.xml"])
def test_convert_prints_the_flow_and_reports_what_changed(name: str, tmp_path: Path) -> None:
    path = str(DATA / name)
    result = runner.invoke(app, ["convert", path, "--from", "bandwidth"])
    assert result.exit_code == 0, result.output
    expected = yaml.safe_load((DATA / name).with_suffix(".expected.yaml").read_text())
    assert Flow.from_yaml(result.stdout) == Flow.from_dict(expected["flow"])
    notes = imported((DATA / name).read_bytes()).notes
    assert f"{len(notes)} construct(s) did not carry over" in result.stderr
    assert [line for line in result.stderr.splitlines() if line.startswith("  line ")] == [
        f"  {note}" for note in notes]
    out = tmp_path / "flow.yaml"
    written = runner.invoke(app, ["convert", path, "--from", "bandwidth", "-o", str(out)])
    assert written.exit_code == 0 and written.stdout == ""
    assert Flow.from_yaml(out) == Flow.from_dict(expected["flow"])


@pytest.mark.parametrize("target", ["messagebird", "bird", "simulator", "bandwidth"])
def test_convert_to_each_provider(target: str) -> None:
    result = runner.invoke(app, ["convert", str(DATA / "recording_call.xml"), "--from",
                                 "bandwidth", "--to", target])
    assert result.exit_code == 0, result.output
    assert "This call is recorded." in result.stdout
    assert "7 construct(s) did not carry over" in result.stderr
    natives = runner.invoke(app, ["convert", str(DATA / "no_equivalent.xml"), "--from",
                                  "bandwidth", "--to", target])
    if target == "bandwidth":
        assert natives.exit_code == 0 and "<StartStream" in natives.stdout
    else:  # another provider cannot run Bandwidth's own verbs: the step is named
        assert natives.exit_code == 1
        assert "steps[0].native" in str(natives.exception)


def test_convert_refuses_what_it_cannot_read(tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_bytes(LAUGHS)
    result = runner.invoke(app, ["convert", str(bad), "--from", "bandwidth"])
    assert result.exit_code == 1
    assert isinstance(result.exception, InvalidDocument)
    assert "line 2, column 1" in str(result.exception)


def test_port_tells_where_an_imported_flow_runs(tmp_path: Path) -> None:
    flow = tmp_path / "imported.yaml"
    flow.write_text(imported((DATA / "transfer.xml").read_bytes()).flow.to_yaml())
    result = runner.invoke(app, ["port", str(flow), "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["provider"]: row for row in yaml.safe_load(result.stdout)}
    assert rows["bandwidth"]["runs"] == "with_app"
    assert rows["simulator"]["runs"] == "cannot"
    assert rows["simulator"]["step"] == "steps[1].native"
    assert isinstance(Flow.from_yaml(flow).steps[0], Transfer)
