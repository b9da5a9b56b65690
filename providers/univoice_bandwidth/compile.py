"""Neutral flow -> BXML documents. Pure: no I/O (the webhook app serves what this makes).

Bandwidth asks for BXML whenever a call needs a decision, so a flow is served as a series
of documents. Each runs the steps from a position (``univoice.flow.positions``) up to and
including the first step that hands control back: a gather (its ``gatherUrl`` names the
gather and the attempt), a transfer with a no-answer branch (``transferCompleteUrl``), a
redirect or a hangup. A document that would pass Bandwidth's 64 KB limit ends with a
``<Redirect>`` to the position where the next one starts.

Mapping (neutral -> BXML): say -> SpeakSentence (locale/voice from ``voices``; a loop
repeats the verb); play -> PlayAudio; pause -> Pause (inside a gather's prompt, which
holds only SpeakSentence/PlayAudio: an SSML ``<break>``); gather -> Gather (repeatCount 1:
every attempt is a round trip, so retries, no-input and invalid branches are decided by
the app); record -> Record (recordingAvailable and transcriptionAvailable to the app);
flow.record -> StartRecording first (the call's end stops it); transfer -> Transfer with
PhoneNumber/SipUri (each target's transferAnswerUrl lets the app start a recording on the
answered leg when the step records); conference -> Conference (record: StartRecording /
StopRecording around it); send_digits -> SendDtmf; redirect -> Redirect; hangup -> Hangup.
Every callback URL univoice hands out carries the callback credentials; a redirect to a
user's own URL never does.

A document served for a flow object seen before is not built again: the first one built
from a position (or the start) is kept per flow as a template whose only holes are the
``Links`` values, and later calls fill them in (``_served``). Documents whose text reads
gathered variables, and ``Links`` values XML would escape, are always built. A menu
outcome (a gather, an attempt, the keys pressed) that led to a template leads to it again
without working out positions (``after_gather``): serving it costs the filling alone.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import quote, urlencode

from lxml import etree

from univoice.errors import FlowIssue, FlowValidationError
from univoice.flow.memo import memo
from univoice.flow.paths import join
from univoice.flow.positions import Entry, Positions, Reprompt, Run
from univoice.flow.speech import fill, spoken
from univoice.flow.steps import (
    Conference,
    Gather,
    Hangup,
    Native,
    Pause,
    Play,
    PromptStep,
    Record,
    Redirect,
    Say,
    SendDigits,
    Step,
    Transfer,
)
from univoice_bandwidth import bxml, voices

if TYPE_CHECKING:
    from univoice.flow import Flow

MEDIA_TYPE = "application/xml"
BUDGET = bxml.MAX_DOCUMENT - 4096  # room for the Redirect that continues a long document
MAX_BREAK_MS = 10_000  # an SSML <break> lasts at most 10 s
TRANSCRIBED_LANGUAGES = ("en", "fr", "es")


class _Filled(dict[str, str]):
    def get(self, key: str, default: str | None = None) -> str:  # type: ignore[override]
        return "0"


_EVERY_VARIABLE = _Filled()  # reads every variable as set, to tell static text apart
_NO_VARIABLES: Mapping[str, str] = {}


class Links(NamedTuple):
    """Where the documents of one stored flow send Bandwidth next.

    ``flow``: the prefix of the flow's node URLs (``.../flow/{id}/``), or "" for URLs
    relative to the document's own (BXML resolves them against the URL that served it);
    ``events``: the app's callback route. ``username``/``password``: the callback
    credentials put on every one of those URLs. A tuple, not a dataclass: the webhook app
    makes one per callback (a frozen dataclass costs twice as much to make), and it is
    its own key in ``_FILLS``.
    """

    flow: str = ""
    events: str = "../../events"
    username: str | None = None
    password: str | None = None

    def node(self, path: str, **query: str | int) -> str:
        return self.flow + _node_suffix(path, tuple(query.items()))

    def credentials(self) -> dict[str, str]:
        return dict(self._credentials)

    @property
    def _credentials(self) -> dict[str, str]:  # shared: never to be changed
        return _credentials_of(self.username, self.password)


@lru_cache(maxsize=256)
def _credentials_of(username: str | None, password: str | None) -> dict[str, str]:
    if username is None or password is None:
        return {}
    return {"username": username, "password": password}


@lru_cache(maxsize=4096)
def _node_suffix(path: str, query: tuple[tuple[str, str | int], ...]) -> str:
    """A node URL after the flow's prefix: the quoted path and its query."""
    url = quote(path, safe=".")
    return f"{url}?{urlencode(query)}" if query else url


class _Document:
    """One BXML document being built, with a running estimate of its size."""

    __slots__ = ("credentials", "links", "root", "size", "variables")

    def __init__(self, links: Links, variables: Mapping[str, str]) -> None:
        self.links, self.variables = links, variables
        self.credentials = links._credentials
        self.root = etree.Element("Response")
        self.size = 64

    def add(self, tag: str, attributes: dict[str, str] | None = None, text: str | None = None,
            parent: etree._Element | None = None) -> etree._Element:
        element = etree.SubElement(self.root if parent is None else parent, tag,
                                   attributes or _NO_ATTRIBUTES)
        if text is not None:
            element.text = text
        return element


_NO_ATTRIBUTES: dict[str, str] = {}


def _invalid(path: str, message: str) -> FlowValidationError:
    return FlowValidationError([FlowIssue(path, f"Bandwidth: {message}")])


def _number(value: float) -> str:
    """Seconds as BXML writes them: ``5``, ``2.5`` (no float noise)."""
    text = repr(float(value))  # the shortest exact form: what the flow says, no more
    if "e" in text:
        text = f"{value:.6f}"
    return text.removesuffix(".0")


# Steps ----------------------------------------------------------------------------------


def _speak(doc: _Document, flow: Flow, say: Say, path: str,
           parent: etree._Element | None = None) -> None:
    attributes: dict[str, str] = {}
    language = say.language or flow.language
    if language is not None:
        locale = voices.locale(language)
        if locale is None:
            raise _invalid(path, f"no voice speaks {language!r}; languages: "
                                 f"{', '.join(voices.LANGUAGES)}")
        attributes["locale"] = locale
    gender = say.gender or flow.gender
    if gender is not None:
        attributes["gender"] = gender
    voice = say.voice or flow.voice
    if voice is not None:
        if voice.lower() not in voices.VOICES:
            raise _invalid(path, f"no voice named {voice!r}; voices: "
                                 f"{', '.join(voices.VOICES)}")
        attributes["voice"] = voice.lower()
    text = spoken(fill(say.text, doc.variables))
    if not text:
        if not spoken(fill(say.text, _EVERY_VARIABLE)):
            raise _invalid(path, "the text has nothing to speak once control "
                                 "characters are removed")
        return  # only variables, all empty on this call: Bandwidth refuses blank speech
    for _ in range(say.loop):
        doc.add("SpeakSentence", attributes, text, parent)


def _prompt(doc: _Document, flow: Flow, step: PromptStep, path: str,
            parent: etree._Element | None = None) -> None:
    if isinstance(step, Say):
        _speak(doc, flow, step, path, parent)
    elif isinstance(step, Play):
        for _ in range(step.loop):
            doc.add("PlayAudio", None, step.url, parent)
    elif parent is None:
        if step.seconds < 0.1:
            raise _invalid(path, "a pause lasts at least 0.1 seconds")
        doc.add("Pause", {"duration": _number(step.seconds)})
    else:  # inside a Gather only speech and audio may play: a silent SSML break
        speech = doc.add("SpeakSentence", None, None, parent)
        left = round(step.seconds * 1000)
        while left > 0:
            etree.SubElement(speech, "break", {"time": f"{min(left, MAX_BREAK_MS)}ms"})
            left -= MAX_BREAK_MS


def _gather(doc: _Document, flow: Flow, gather: Gather, path: str, attempt: int) -> None:
    if gather.max_digits > 50:
        raise _invalid(path, "a gather takes at most 50 digits")
    if gather.timeout < 1 or gather.timeout > 60:
        raise _invalid(path, "a gather's timeout must be between 1 and 60 seconds")
    timeout = _number(gather.timeout)
    attributes = {"gatherUrl": doc.links.node(path, on="gather", attempt=attempt),
                  "maxDigits": str(gather.max_digits), "firstDigitTimeout": timeout,
                  "interDigitTimeout": timeout}
    if gather.finish_on_key:
        attributes["terminatingDigits"] = gather.finish_on_key
    element = doc.add("Gather", {**attributes, **doc.credentials})
    for index, prompt in enumerate(gather.prompt):
        _prompt(doc, flow, prompt, join(path, "gather", "prompt", index), element)
    if len(element) > bxml.MAX_PROMPTS:
        raise _invalid(path, f"a gather plays at most {bxml.MAX_PROMPTS} prompt verbs "
                             f"(loops count each time); this one has {len(element)}")


def _record(doc: _Document, flow: Flow, record: Record, path: str) -> None:
    if record.max_length < 1:
        raise _invalid(path, "a recording lasts at least 1 second")
    attributes = {"maxDuration": _number(record.max_length),
                  "terminatingDigits": record.finish_on_key or "", "fileFormat": "wav",
                  "recordingAvailableUrl": doc.links.events}
    if record.silence_timeout is not None:
        if record.silence_timeout < 0.1:  # Bandwidth reads 0 as "no silence timeout"
            raise _invalid(path, "a silence timeout lasts at least 0.1 seconds")
        attributes["silenceTimeout"] = _number(record.silence_timeout)
    if record.transcribe:
        language = (record.transcribe_language or flow.language or "en-US").split("-")[0]
        if language not in TRANSCRIBED_LANGUAGES:
            raise _invalid(path, "transcribes English, French and Spanish only")
        attributes["transcribe"] = "true"
        if language != "en":
            attributes["detectLanguage"] = "true"
        attributes["transcriptionAvailableUrl"] = doc.links.events
    doc.add("Record", {**attributes, **doc.credentials})


def _transfer(doc: _Document, transfer: Transfer, path: str) -> None:
    if len(transfer.targets) > bxml.MAX_TRANSFER_TARGETS:
        raise _invalid(path, f"a transfer rings at most {bxml.MAX_TRANSFER_TARGETS} targets")
    if transfer.timeout < 1:
        raise _invalid(path, "a transfer rings for at least 1 second")
    credentials = doc.credentials
    attributes = {"callTimeout": _number(transfer.timeout)}
    if transfer.caller_id:
        attributes["transferCallerId"] = transfer.caller_id
    if transfer.no_answer is not None:  # the app picks the branch from the outcome
        attributes["transferCompleteUrl"] = doc.links.node(path, on="transfer")
    element = doc.add("Transfer", {**attributes, **credentials})
    target = {"transferAnswerUrl": doc.links.node(path, on="answered"),
              "transferDisconnectUrl": doc.links.events, **credentials}
    for number in transfer.targets:
        kind = "SipUri" if number.startswith(("sip:", "sips:")) else "PhoneNumber"
        doc.add(kind, target, number, element)


def _conference(doc: _Document, flow: Flow, conference: Conference, path: str) -> None:
    if conference.record and flow.record:
        raise _invalid(path, "records one recording of a call at a time, and the whole "
                             "call is already being recorded (flow.record)")
    credentials = doc.credentials
    if conference.record:
        doc.add("StartRecording", {"recordingAvailableUrl": doc.links.events, **credentials})
    attributes = {"conferenceEventUrl": doc.links.events}
    if conference.muted:
        attributes["mute"] = "true"
    doc.add("Conference", {**attributes, **credentials}, conference.name)
    if conference.record:
        doc.add("StopRecording")


def _send_digits(doc: _Document, step: SendDigits, path: str) -> None:
    if len(step.digits) > bxml.MAX_DTMF:
        raise _invalid(path, f"sends at most {bxml.MAX_DTMF} digits in one step")
    # Neutral 'W' waits half a second like 'w'; Bandwidth's 'W' waits a whole one.
    doc.add("SendDtmf", None, step.digits.replace("W", "w"))


def _step(doc: _Document, flow: Flow, step: Step, path: str, attempt: int = 1) -> bool:
    """Add ``step``; True when the document ends with it (control leaves the document)."""
    match step:
        case Say() | Play() | Pause():
            _prompt(doc, flow, step, path)
        case Gather():
            _gather(doc, flow, step, path, attempt)
            return True
        case Record():
            _record(doc, flow, step, path)
        case Transfer():
            _transfer(doc, step, path)
            return step.no_answer is not None
        case Conference():
            _conference(doc, flow, step, path)
        case SendDigits():
            _send_digits(doc, step, path)
        case Redirect():  # a user's own URL: it gets no callback credentials
            doc.add("Redirect", {"redirectUrl": step.url, "redirectMethod": step.method})
            return True
        case Hangup():
            doc.add("Hangup")
            return True
        case Native():
            _native(doc, step, path)
    return False


def _native(doc: _Document, step: Native, path: str) -> None:
    """A verb an importer kept as written (``univoice.flow.Native``). The document goes
    on after it, as the one it came from did (a callback URL of its own may take the
    call elsewhere: then, on Bandwidth too, what follows never runs)."""
    if step.provider != "bandwidth" or not isinstance(step.document, str):
        raise _invalid(path, "a native step here is one BXML verb, written for bandwidth")
    try:
        element = bxml.parse(step.document)
    except bxml.BxmlError as exc:
        raise _invalid(join(path, "native", "document"), f"not one BXML verb: {exc}") from None
    if element.tag in bxml.ROOTS:
        raise _invalid(join(path, "native", "document"), "one verb, not a whole document")
    doc.root.append(element)


def _estimate(step: Step) -> int:
    """An upper bound of the bytes a step adds (exact enough to stay under the limit)."""
    if isinstance(step, Say):
        return (len(step.text.encode()) * 6 // 5 + step.text.count("&") * 4 + 160) * step.loop
    if isinstance(step, Gather):
        return 600 + sum(_estimate(p) for p in step.prompt)
    if isinstance(step, Transfer):
        return 400 + 500 * len(step.targets)
    if isinstance(step, Play):
        return (len(step.url) + 40) * step.loop
    if isinstance(step, Native):
        return len(str(step.document).encode()) + 64
    return 600


# Documents --------------------------------------------------------------------------------


def render(flow: Flow, entries: Iterable[Entry], links: Links,
           variables: Mapping[str, str] | None = None, *, record_call: bool = False) -> bytes:
    """The document running ``entries`` (until control leaves it), as UTF-8 bytes."""
    if isinstance(entries, Run) and entries.fresh and entries.flow is flow:
        # A run of this flow not read yet: where it starts names it (see Run).
        first = entries.start

        def build(links: Links, variables: Mapping[str, str]) -> bytes:
            runs = () if first is None else Positions(flow).run_from(first)
            return _render(flow, runs, links, variables, record_call)

        # ``is None``, not ``or``: a caller's lazy mapping is not read for a template.
        return _served(flow, ("run", first, record_call), links,
                       _NO_VARIABLES if variables is None else variables, build)
    return _render(flow, entries, links, {} if variables is None else variables, record_call)


def _render(flow: Flow, entries: Iterable[Entry], links: Links, variables: Mapping[str, str],
            record_call: bool) -> bytes:
    doc = _Document(links, variables)
    if record_call:
        doc.add("StartRecording", {"recordingAvailableUrl": links.events,
                                   **doc.credentials})
    for emitted, (path, step) in enumerate(entries):
        estimate = _estimate(step)
        if emitted and doc.size + estimate > BUDGET:
            doc.add("Redirect", {"redirectUrl": links.node(path), **doc.credentials})
            break
        if estimate > BUDGET:
            raise _invalid(path, f"a document holds at most {bxml.MAX_DOCUMENT} bytes; "
                                 "this step alone would not fit (shorten its text or loop)")
        doc.size += estimate
        if _step(doc, flow, step, path):
            break
    return serialize(doc.root)


def empty() -> bytes:
    """``<Response/>``: nothing to run."""
    return serialize(etree.Element("Response"))


def serialize(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def start(flow: Flow, links: Links, *, machine: bool = False) -> bytes:
    """The first document of a call (``machine``: an answering machine answered)."""
    def build(links: Links, variables: Mapping[str, str]) -> bytes:
        runs = Positions(flow).start(machine=machine)
        if machine and flow.machine_detection is not None and \
                flow.machine_detection.on_machine is None:
            return _render(flow, [("machine_detection", Hangup())], links, variables, False)
        return _render(flow, runs, links, variables, flow.record)

    return _served(flow, ("start", machine), links, {}, build)


def gather_again(flow: Flow, path: str, links: Links, again: Reprompt,
                 variables: Mapping[str, str]) -> bytes:
    """The gather at ``path`` once more (its next attempt)."""
    step = Positions(flow).step(path)
    if not isinstance(step, Gather):
        raise KeyError(path)

    def build(links: Links, variables: Mapping[str, str]) -> bytes:
        doc = _Document(links, variables)
        _gather(doc, flow, step, path, again.attempt)
        return serialize(doc.root)

    return _served(flow, ("again", path, again.attempt), links, variables, build)


def after_gather(flow: Flow, path: str, attempt: int, digits: str, links: Links,
                 variables: Mapping[str, str]) -> tuple[bytes, dict[str, str]]:
    """The document once attempt ``attempt`` of the gather at ``path`` ended with
    ``digits`` (a branch, what follows the gather, or the gather again), and the variables
    that outcome sets, for the caller to keep per call. ``variables``: the call's so far.
    Raises ``KeyError`` when ``path`` is no gather."""
    values = _holes(links)
    templates = _templates(flow)
    key = ("gathered", path, attempt, digits, values is not None and b"u" in values)
    if values is not None:
        # A menu outcome seen before whose document is a template: no positions to work
        # out, nothing to build (what most callbacks of a served flow are).
        template = templates.get(key)
        if template is not None:
            return template % values, {}
    outcome, sets = Positions(flow).after_gather(path, attempt, digits)
    if sets:
        variables = {**variables, **sets}
    if isinstance(outcome, Reprompt):
        body = gather_again(flow, path, links, outcome, variables)
        served: tuple[object, ...] = ("again", path, outcome.attempt)
    else:
        served = ("run", outcome.start, False)
        body = render(flow, outcome, links, variables)
    if values is not None and not sets and len(templates) < _MAX_OUTCOMES:
        template = templates.get((*served, key[-1]))
        if template is not None:  # None: built each time (it reads variables, or failed)
            templates[key] = template
    return body, sets


_MAX_OUTCOMES = 512  # per flow: wrong keys a caller types are outcomes too, and unbounded


def answered_leg(flow: Flow, path: str, links: Links) -> bytes:
    """What runs on a transfer's answered leg before it is bridged: the step's recording."""
    step = Positions(flow).step(path)
    if not isinstance(step, Transfer):
        raise KeyError(path)
    doc = _Document(links, {})
    if step.record:
        doc.add("StartRecording", {"recordingAvailableUrl": links.events,
                                   **doc.credentials})
    return serialize(doc.root)


# Served documents, kept per flow ----------------------------------------------------------
#
# A document depends on the flow, where it starts, the variables its text reads and the
# ``Links``. Built once with a marker in place of each ``Links`` value, it is a template:
# the bytes lxml wrote, holes where the markers were. Filling the holes gives the bytes
# lxml would write for real values, as long as XML writes those values as they are
# (printable ASCII but ``"&<>``); other values, and documents that read variables, are
# built every time.

Build = Callable[[Links, Mapping[str, str]], bytes]
_MARK = f"univoice-{secrets.token_hex(8)}"  # this process's marker: no document holds it
_HOLES = {"flow": b"f", "events": b"e", "username": b"u", "password": b"p"}
_MARKED = Links(**{name: f"{{{_MARK}-{hole.decode()}}}" for name, hole in _HOLES.items()})
_MARKED_BARE = Links(flow=_MARKED.flow, events=_MARKED.events)  # no credentials
_MARKER = re.compile(rb"\{" + _MARK.encode() + rb"-([fepu])\}")
_AS_IS = re.compile(r"[ !#-%'-;=?-~]*").fullmatch  # what XML attributes hold unescaped
_FILLS: dict[Links, dict[bytes, bytes] | None] = {}


class _Reads(dict[str, str]):
    """No variables, noting whether the document asked for one."""

    read = False

    def get(self, key: str, default: str | None = None) -> str:  # type: ignore[override]
        self.read = True
        return ""


def _holes(links: Links) -> dict[bytes, bytes] | None:
    """What fills each hole for ``links``; None when XML would escape a value."""
    try:
        return _FILLS[links]
    except KeyError:
        pass
    flow, events, username, password = links
    values: dict[bytes, bytes] | None
    if not (_AS_IS(flow) and _AS_IS(events)):
        values = None
    else:
        values = {b"f": flow.encode(), b"e": events.encode()}
        if username is not None and password is not None:
            if _AS_IS(username) and _AS_IS(password):
                values[b"u"], values[b"p"] = username.encode(), password.encode()
            else:
                values = None
    if len(_FILLS) >= 1024:  # one entry per flow id (and settings) seen lately
        _FILLS.clear()
    _FILLS[links] = values
    return values


def _served(flow: Flow, key: tuple[object, ...], links: Links, variables: Mapping[str, str],
            build: Build) -> bytes:
    """``build(links, variables)``, from this flow's template for ``key`` when it has one."""
    values = _holes(links)
    if values is None:
        return build(links, variables)
    templates = _templates(flow)
    key = (*key, b"u" in values)  # with credentials or without: other holes
    try:
        template = templates[key]
    except KeyError:  # not tried yet
        template = templates[key] = _template(build, b"u" in values)
    if template is None:
        return build(links, variables)
    return template % values


def _template(build: Build, credentials: bool) -> bytes | None:
    """The document ``build`` makes, its ``Links`` values as %-holes; None if it reads a
    variable or cannot be built (building it again raises the error)."""
    reads = _Reads()
    try:
        body = build(_MARKED if credentials else _MARKED_BARE, reads)
    except FlowValidationError:
        return None
    if reads.read:
        return None
    return _MARKER.sub(rb"%(\1)b", body.replace(b"%", b"%%"))


def _templates(flow: Flow) -> dict[tuple[object, ...], bytes | None]:
    """The templates of a flow object, kept while it lives (flows are immutable)."""
    return memo(flow, "bandwidth.templates")


def check(flow: Flow) -> None:
    """Raise ``FlowValidationError`` for every step Bandwidth cannot run as written (values
    outside its documented limits), before any call is placed."""
    doc = _Document(Links(), {})
    issues: list[FlowIssue] = []
    for path, step in flow.walk():
        try:
            estimate = _estimate(step)
            if estimate > BUDGET:
                raise _invalid(path, f"a document holds at most {bxml.MAX_DOCUMENT} bytes; "
                                     "this step alone would not fit")
            _step(doc, flow, step, path)
        except FlowValidationError as exc:
            issues.extend(exc.issues)
        if len(doc.root) > 64:  # scratch document: keep it small
            doc.root.clear()
    if issues:
        raise FlowValidationError(issues)
