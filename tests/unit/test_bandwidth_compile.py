"""The BXML compiler: each neutral step's document, limits, hostile text, long flows, and
the documented samples run by the interpreter."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from tests.support.bandwidth_flows import PASSWORD, USER, InProcessBandwidth

from univoice.errors import FlowValidationError, UnsupportedFeature
from univoice.flow import Flow
from univoice.simulator import CalleeScript, TraceKind
from univoice_bandwidth import BandwidthProvider, bxml, compile
from univoice_bandwidth.interpreter import CallSetup, run_call

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT.parent / "shared" / "reference" / "samples" / "bandwidth" / "bxml"
PROVIDER = BandwidthProvider.offline()
LINKS = compile.Links(flow="https://app.example/univoice/bandwidth/flow/F1/",
                      events="https://app.example/univoice/bandwidth/events",
                      username=USER, password=PASSWORD)


def document(steps: list[Any], **flow: Any) -> etree._Element:
    """The first document of a flow, as the app serves it (absolute URLs, credentials)."""
    parsed = Flow.from_dict({**flow, "steps": steps})
    PROVIDER.check_flow(parsed)
    root = bxml.parse(compile.start(parsed, LINKS))
    assert bxml.validate(root) == []
    return root


def verbs(root: etree._Element) -> list[tuple[str, dict[str, str], str]]:
    return [(str(e.tag), dict(e.attrib), (e.text or "")) for e in root]


CREDS = {"username": USER, "password": PASSWORD}


# One neutral step at a time -------------------------------------------------------------


def test_say_maps_language_gender_voice_and_repeats_loops() -> None:
    root = document([{"say": {"text": "Hallo", "language": "de-DE", "voice": "Katrin",
                              "loop": 2}}], gender="female")
    assert verbs(root) == [("SpeakSentence", {"locale": "de", "gender": "female",
                                              "voice": "katrin"}, "Hallo")] * 2


def test_play_pause_and_digits() -> None:
    root = document([{"play": {"url": "https://m.example/a.wav", "loop": 2}},
                     {"pause": 2.5}, {"send_digits": "12W#"}])
    assert verbs(root) == [("PlayAudio", {}, "https://m.example/a.wav")] * 2 + [
        ("Pause", {"duration": "2.5"}, ""),
        ("SendDtmf", {}, "12w#")]  # neutral W waits half a second, as Bandwidth's w


def test_gather_posts_its_digits_to_the_app_and_ends_the_document() -> None:
    root = document([{"gather": {"prompt": [{"say": "Press 1"}, {"pause": 12.5},
                                            {"play": "https://m.example/b.mp3"}],
                                 "max_digits": 4, "timeout": 7, "finish_on_key": "#",
                                 "options": {"1": ["hangup"]}}},
                     {"say": "never in this document"}])
    [gather] = root
    assert dict(gather.attrib) == {
        "gatherUrl": LINKS.flow + "steps%5B0%5D?on=gather&attempt=1", "maxDigits": "4",
        "firstDigitTimeout": "7", "interDigitTimeout": "7", "terminatingDigits": "#",
        **CREDS}
    speak, pause, play = gather
    assert (speak.tag, speak.text, play.tag) == ("SpeakSentence", "Press 1", "PlayAudio")
    # A pause inside a prompt is silence SSML can express (breaks of at most 10 s).
    assert [b.get("time") for b in pause] == ["10000ms", "2500ms"] and not pause.text


def test_record_with_transcription_reports_to_the_event_route() -> None:
    root = document([{"record": {"max_length": 90, "silence_timeout": 4, "transcribe": True,
                                 "transcribe_language": "fr-FR", "finish_on_key": "*"}},
                     {"say": "Merci"}])
    record, say = root
    assert dict(record.attrib) == {
        "maxDuration": "90", "terminatingDigits": "*", "fileFormat": "wav",
        "recordingAvailableUrl": LINKS.events, "silenceTimeout": "4", "transcribe": "true",
        "detectLanguage": "true", "transcriptionAvailableUrl": LINKS.events, **CREDS}
    assert say.tag == "SpeakSentence"  # no recordCompleteUrl: the document goes on


def test_transfer_targets_and_outcome_callback() -> None:
    root = document([{"transfer": {"targets": ["+31201234567", "sip:desk@pbx.example"],
                                   "caller_id": "+31201234568", "timeout": 20,
                                   "no_answer": ["hangup"]}}])
    [transfer] = root
    assert dict(transfer.attrib) == {
        "callTimeout": "20", "transferCallerId": "+31201234568",
        "transferCompleteUrl": LINKS.flow + "steps%5B0%5D?on=transfer", **CREDS}
    leg = {"transferAnswerUrl": LINKS.flow + "steps%5B0%5D?on=answered",
           "transferDisconnectUrl": LINKS.events, **CREDS}
    assert verbs(transfer) == [("PhoneNumber", leg, "+31201234567"),
                               ("SipUri", leg, "sip:desk@pbx.example")]


def test_transfer_without_no_answer_branch_continues_inline() -> None:
    root = document([{"transfer": "+31201234567"}, {"say": "Bye"}])
    assert [e.tag for e in root] == ["Transfer", "SpeakSentence"]
    assert "transferCompleteUrl" not in root[0].attrib


def test_conference_recording_wraps_the_conference() -> None:
    root = document([{"conference": {"name": "room-1", "muted": True, "record": True}}])
    assert verbs(root) == [
        ("StartRecording", {"recordingAvailableUrl": LINKS.events, **CREDS}, ""),
        ("Conference", {"conferenceEventUrl": LINKS.events, "mute": "true", **CREDS},
         "room-1"),
        ("StopRecording", {}, "")]


def test_redirect_to_a_users_url_gets_no_credentials() -> None:
    root = document([{"redirect": {"url": "https://mine.example/next?a=1&b=\"x\"",
                                   "method": "GET"}}])
    assert verbs(root) == [("Redirect", {"redirectUrl": "https://mine.example/next?a=1&b=\"x\"",
                                         "redirectMethod": "GET"}, "")]


def test_whole_call_recording_starts_the_first_document() -> None:
    root = document([{"say": "Hi"}, "hangup"], record=True)
    assert [e.tag for e in root] == ["StartRecording", "SpeakSentence", "Hangup"]


def test_machine_answer_runs_on_machine_branch_or_hangs_up() -> None:
    flow = Flow.from_dict({"machine_detection": {"on_machine": [{"say": "Call us"}]},
                           "steps": [{"say": "Hello human"}]})
    machine = bxml.parse(compile.start(flow, LINKS, machine=True))
    assert [e.text for e in machine] == ["Call us"]
    bare = Flow.from_dict({"machine_detection": True, "steps": [{"say": "Hi"}]})
    assert [e.tag for e in bxml.parse(compile.start(bare, LINKS, machine=True))] == ["Hangup"]


def test_rendering_is_deterministic_and_readable_without_an_account() -> None:
    flow = Flow.load(ROOT / "examples" / "support_ivr.yaml")
    first = PROVIDER.compile_flow(flow)
    assert first.body == BandwidthProvider.offline().compile_flow(flow).body
    assert first.media_type == "application/xml"
    assert "password" not in first.body and "username" not in first.body
    assert 'gatherUrl="steps%5B1%5D?on=gather&amp;attempt=1"' in first.body  # relative


# Hostile text -------------------------------------------------------------------------


def test_markup_control_characters_and_astral_text_stay_text() -> None:
    text = 'a < b & "c" \x07\x1b bell 🎉 \U0001F600 </SpeakSentence><Hangup/>'
    [speak] = document([{"say": text}])
    assert speak.text == 'a < b & "c" bell 🎉 \U0001F600 </SpeakSentence><Hangup/>'
    assert len(speak) == 0  # nothing in the text became markup


def test_text_with_nothing_speakable_is_refused_naming_the_step() -> None:
    with pytest.raises(FlowValidationError) as caught:
        PROVIDER.check_flow(Flow.from_dict({"steps": [{"say": "ok"}, {"say": "\x07\x1b"}]}))
    assert caught.value.issues[0].path == "steps[1]"


@pytest.mark.parametrize(("step", "path", "words"), [
    ({"pause": 0.05}, "steps[0]", "at least 0.1"),
    ({"gather": {"timeout": 0.5, "options": {"1": []}}}, "steps[0]", "between 1 and 60"),
    ({"gather": {"timeout": 120, "variable": "x"}}, "steps[0]", "between 1 and 60"),
    ({"gather": {"max_digits": 60, "variable": "x"}}, "steps[0]", "50 digits"),
    ({"gather": {"variable": "x", "prompt": [{"say": {"text": "a", "loop": 21}}]}},
     "steps[0]", "20 prompt verbs"),
    ({"transfer": [f"+3120123456{i}" for i in range(9)]}, "steps[0]", "8 targets"),
    ({"transfer": {"targets": "+31201234567", "timeout": 0.5}}, "steps[0]", "1 second"),
    ({"send_digits": "1" * 51}, "steps[0]", "50 digits"),
    ({"record": {"max_length": 0.5}}, "steps[0]", "1 second"),
    ({"record": {"silence_timeout": 0.01}}, "steps[0]", "0.1 seconds"),
    ({"record": {"transcribe": True, "transcribe_language": "de-DE"}}, "steps[0]",
     "English, French and Spanish"),
    ({"say": {"text": "Hoi", "language": "nl-NL"}}, "steps[0]", "no voice speaks 'nl-NL'"),
    ({"say": {"text": "Hi", "voice": "alice"}}, "steps[0]", "no voice named 'alice'"),
    ({"say": {"text": "x " * 1400, "loop": 100}}, "steps[0]", "65536 bytes"),
])
def test_values_outside_bandwidths_limits_name_the_step(step: dict[str, Any], path: str,
                                                        words: str) -> None:
    flow = Flow.from_dict({"steps": [{"say": "first"}, step]})
    with pytest.raises(FlowValidationError) as caught:
        PROVIDER.check_flow(flow)
    [issue] = caught.value.issues
    assert issue.path == path.replace("steps[0]", "steps[1]")
    assert words in issue.message and issue.message.startswith("Bandwidth: ")


def test_every_problem_is_reported_at_once() -> None:
    flow = Flow.from_dict({"steps": [{"pause": 0.01}, {"send_digits": "1" * 60}]})
    with pytest.raises(FlowValidationError) as caught:
        PROVIDER.check_flow(flow)
    assert [i.path for i in caught.value.issues] == ["steps[0]", "steps[1]"]


def test_conference_recording_during_whole_call_recording_is_refused() -> None:
    flow = Flow.from_dict({"record": True, "steps": [{"conference": {"name": "r",
                                                                     "record": True}}]})
    with pytest.raises(FlowValidationError, match="already being recorded"):
        PROVIDER.check_flow(flow)


@pytest.mark.parametrize(("option", "feature"), [
    ({"hold_music": "https://m.example/h.mp3"}, "conference.hold_music"),
    ({"end_on_exit": True}, "conference.end_on_exit"),
    ({"start_on_enter": False}, "conference.wait"),
])
def test_conference_options_bandwidth_lacks(option: dict[str, Any], feature: str) -> None:
    flow = Flow.from_dict({"steps": [{"say": "x"}, {"conference": {"name": "r", **option}}]})
    with pytest.raises(UnsupportedFeature) as caught:
        PROVIDER.check_flow(flow)
    assert (caught.value.feature, caught.value.path) == (feature, "steps[1].conference")
    assert "simulator" in caught.value.alternatives


# Long flows -----------------------------------------------------------------------------


def long_flow(top: int, per_option: int) -> Flow:
    sentence = "This sentence is long enough to fill documents quickly & it has <markup>. "
    steps: list[Any] = [{"say": f"{i} {sentence * 4}"} for i in range(top)]
    options = {str(d): [{"say": f"{d}.{i} {sentence}"} for i in range(per_option)]
               for d in range(1, 10)}
    return Flow.from_dict({"steps": [*steps, {"gather": {"prompt": "Pick", "options": options}},
                                     "hangup"]})


def test_a_ten_thousand_step_flow_is_served_in_documents_under_64_kb() -> None:
    flow = long_flow(top=998, per_option=1000)
    assert sum(1 for _ in flow.walk()) >= 10_000
    PROVIDER.check_flow(flow)
    body = compile.start(flow, LINKS)
    assert len(body) <= bxml.MAX_DOCUMENT
    root = bxml.parse(body)
    assert bxml.validate(root) == []
    last = root[-1]
    assert last.tag == "Redirect" and last.get("username") == USER
    assert last.get("redirectUrl", "").startswith(LINKS.flow + "steps%5B")


@pytest.fixture(scope="module")
def bandwidth() -> Iterator[InProcessBandwidth]:
    running = InProcessBandwidth()
    yield running
    running.close()


def test_a_long_flow_runs_to_the_end_across_documents(bandwidth: InProcessBandwidth) -> None:
    flow = long_flow(top=600, per_option=600)
    run = bandwidth.call(flow, CalleeScript(keys=["7"]))
    said = [e.data["text"] for e in run.trace.of(TraceKind.SAID)]
    assert said[0].startswith("0 ") and said[599].startswith("599 ")
    assert said[-1].startswith("7.599 ") and len(said) == 600 + 1 + 600
    assert run.trace.end_reason.value == "hangup" and run.cause == "hangup"


# The documented samples run --------------------------------------------------------------


def run_sample(name: str, script: CalleeScript | None = None) -> Any:
    documents = {"https://sample.example/start": (SAMPLES / name).read_text()}

    def http(method: str, url: str, payload: dict[str, Any],
             creds: tuple[str, str] | None) -> tuple[int, str]:
        body = documents.get(url)
        return (200, body) if body is not None else (404, "")

    setup = CallSetup(call_id="c-sample", from_="+15554567890", to="+15557654321",
                      answer_url="https://sample.example/start")
    return run_call(setup, script or CalleeScript(keys=["5"]), http)


@pytest.mark.parametrize("name", sorted(p.name for p in SAMPLES.glob("*.xml")))
def test_every_documented_sample_is_valid_and_runs(name: str) -> None:
    assert bxml.validate(bxml.parse((SAMPLES / name).read_bytes())) == []
    run = run_sample(name)
    assert run.trace.events[-1].kind == TraceKind.COMPLETED


def test_samples_mean_what_their_docs_say() -> None:
    assert [e.data["text"] for e in run_sample("speak_sentence_whitespace.xml")
            .trace.of(TraceKind.SAID)] == ["This is a test."]
    multi = run_sample("transfer_multi.xml").trace.of(TraceKind.TRANSFER_STARTED)[0]
    assert multi.data["targets"] == ["+15552221234", "+15552221233"]
    assert multi.data["caller_id"] == "+15552221235"
    gather = run_sample("gather_simple.xml")  # its gatherUrl is unreachable here
    assert gather.trace.of(TraceKind.GATHERED)[0].data["digits"] == "5"
    assert gather.cause == "callback-error"
    assert "StartStream" in run_sample("start_stream.xml").ignored  # run as a no-op
    ssml = run_sample("speak_sentence_ssml.xml").trace.of(TraceKind.SAID)[0]
    assert ssml.data["text"] == ("Hello, you have reached the home of Antonio Mendoza. "
                                 "Please leave a message.")  # the SSML <lang> kept as text
    assert ssml.data["voice"] == "jorge"


# Hostile documents -----------------------------------------------------------------------


@pytest.mark.parametrize("body", [
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
    b"<Response><SpeakSentence>&b;</SpeakSentence></Response>",
    b'<!DOCTYPE r SYSTEM "http://attacker.example/x.dtd"><Response/>',
    b"<Response><SpeakSentence>unclosed</Response>",
    b"<Response>" + b"<Pause/>" * 20_000 + b"</Response>",
])
def test_hostile_documents_are_refused(body: bytes) -> None:
    with pytest.raises(bxml.BxmlError):
        bxml.parse(body)


def test_invalid_documents_are_named() -> None:
    root = bxml.parse(b'<Response><Gather maxDigits="80"><Hangup/></Gather>'
                      b"<Transfer/><Dance/></Response>")
    problems = bxml.validate(root)
    assert any("maxDigits" in p and "between 1 and 50" in p for p in problems)
    assert any("<Hangup> is not allowed inside <Gather>" in p for p in problems)
    assert any(p.startswith("Transfer[1]") for p in problems)
    assert any("<Dance> is not a BXML verb" in p for p in problems)
