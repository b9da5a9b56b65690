"""How each BXML verb becomes neutral steps (``importer`` reads the document).

- SpeakSentence (voice, locale, gender) -> say; a voice Bandwidth knows sets the say's
  language and gender (it overrides locale and gender there); SSML markup: the text is
  spoken plain (changed); only ``<break>``s: a pause.
- PlayAudio -> play (its credentials: not carried). Pause -> pause. Ring -> pause
  (silence, not a ring tone: changed; ``answerCall="false"``: native).
- Gather (prompts, maxDigits, first/interDigitTimeout, terminatingDigits, repeatCount) ->
  a gather storing the keys in ``digits``, ``retries = repeatCount - 1``; with a
  ``gatherUrl``, then a redirect to it (changed: the URL gets no digits).
- Record -> record (``beep: false``: Bandwidth plays none); ``recordCompleteUrl``: then a
  redirect (changed).
- StartRecording first, with nothing stopping it -> the flow's ``record: true``;
  StartRecording, Conference, StopRecording -> a conference with ``record: true``.
- Transfer with PhoneNumber/SipUri -> transfer (caller id, timeout);
  ``transferCompleteUrl``: then a redirect (changed); a target's own
  ``transferAnswerUrl`` (a whisper): native. Forward -> transfer then hangup (changed).
- Conference (mute) -> conference; ``hold``/``callIdsToCoach``: native.
- SendDtmf -> send_digits (``,`` and ``W`` as half-second waits); tones A-D: native.
- Redirect -> redirect (a relative URL: not carried). Hangup -> hangup. Tag: not carried.
- Bridge, Start/StopGather, Start/StopStream, Start/StopTranscription, other
  Start/Stop/Pause/ResumeRecording, verbs univoice does not know -> native.

Anything a step cannot hold as written (an invalid phone number, a value past a neutral
limit) keeps its verb native, with the reason. Verbs after one that hands the call over
(Hangup, Redirect, Forward, a verb whose callback URL answers with the next document) never
run, on Bandwidth either: they are reported, not imported. univoice's own callback URLs
(``import_attrs``) are read as what they stand for.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

from lxml import etree

from univoice.errors import FlowIssue, FlowValidationError
from univoice.flow.fields import MAX_LOOP, MAX_PAUSE, MAX_STEPS, MAX_TEXT
from univoice.flow.steps import (
    Conference,
    Gather,
    Hangup,
    Native,
    Pause,
    Play,
    Record,
    Redirect,
    Say,
    SendDigits,
    Step,
    Transfer,
)
from univoice.migrate import Carry, ImportNote
from univoice_bandwidth import bxml
from univoice_bandwidth.import_attrs import (
    CREDENTIALS,
    absolute,
    continuation,
    leftover_notes,
    shown,
)
from univoice_bandwidth.import_speech import break_seconds, chunks, speaker

VARIABLE = "digits"  # where a gather's digits go: BXML names no variable
Attributes = dict[str, Any]
Where = Callable[[etree._Element], str]

_NESTED = {"PhoneNumber": "Transfer", "SipUri": "Transfer", "StreamParam": "StartStream",
           "CustomParam": "StartTranscription"}
_RECORDING_VERBS = ("StartRecording", "StopRecording", "PauseRecording", "ResumeRecording")
_WITHHELD = ("Restricted", "Anonymous", "Private", "Unavailable")
_E164 = re.compile(r"\+[1-9][0-9]{1,14}")
_NATIVE_WHY = {
    "Bridge": "bridges this call with another call by its id: a neutral flow names no "
              "other calls",
    "StartGather": "collects keys in the background (to dtmfUrl) while other verbs run: a "
                   "neutral gather stops the flow to listen",
    "StopGather": "ends a background <StartGather>",
    "StartStream": "streams the call's audio to a WebSocket",
    "StopStream": "ends a <StartStream>",
    "StartTranscription": "transcribes the call live to a WebSocket",
    "StopTranscription": "ends a <StartTranscription>",
    "StartRecording": "records the call from here on: a neutral flow records the whole "
                      "call, a conference, a transfer or a record step",
    "StopRecording": "stops a recording started part-way through the call",
    "PauseRecording": "pauses the call's recording",
    "ResumeRecording": "resumes the call's recording",
}
_HAND_OFF = {  # the callback a hand-off replaces with a redirect, and what it carried
    "gather": "the digits (kept in the variable 'digits'); a menu decided there belongs in "
              "the flow as gather options",
    "recordComplete": "the recording's id",
    "transferComplete": "the transfer's outcome; a branch for no answer belongs in the "
                        "flow as no_answer",
}


class _KeepNative(Exception):
    """Raised by a verb's reader: the verb has no neutral equivalent (the reason)."""


class _Steps:
    """A list of steps being read; identical says and plays in a row become one loop."""

    def __init__(self, prefix: str) -> None:
        self.prefix, self.items = prefix, list[Any]()

    def next_path(self) -> str:
        return f"{self.prefix}[{len(self.items)}]"

    def add(self, step: Any) -> str:
        last: Any = self.items[-1] if self.items else None
        if (isinstance(step, Say | Play) and type(last) is type(step)
                and last.loop + step.loop <= MAX_LOOP
                and last.model_copy(update={"loop": 1}) == step.model_copy(update={"loop": 1})):
            self.items[-1] = last.model_copy(update={"loop": last.loop + step.loop})
        else:
            self.items.append(step)
        return f"{self.prefix}[{len(self.items) - 1}]"


class Reader:
    """Reads one document's verbs into steps, notes and issues (invalid input)."""

    def __init__(self, where: Where) -> None:
        self.where = where
        self.notes: list[ImportNote] = []
        self.issues: list[FlowIssue] = []
        self.steps = _Steps("steps")

    # Reporting ----------------------------------------------------------------------------

    def note(self, element: etree._Element, carry: Carry, detail: str,
             construct: str | None = None, step: str | None = None) -> None:
        self.notes.append(ImportNote(self.where(element), construct or f"<{_name(element)}>",
                                     carry, detail, step))

    def invalid(self, element: etree._Element, message: str) -> None:
        self.issues.append(FlowIssue(self.where(element), message))

    def leftovers(self, element: etree._Element, attributes: Attributes, consumed: set[str],
                  step: str | None) -> None:
        for construct, changed, detail in leftover_notes(str(element.tag), attributes,
                                                         consumed):
            self.note(element, Carry.CHANGED if changed else Carry.DROPPED, detail,
                      construct, step)

    # The document -------------------------------------------------------------------------

    def document(self, root: etree._Element) -> tuple[list[Step], bool]:
        """The steps and whether the whole call is recorded."""
        self._stray_text(root)
        verbs = _kids(root)
        record = self._whole_call(verbs)
        index = 1 if record else 0
        while index < len(verbs):
            element = verbs[index]
            if len(self.steps.items) >= MAX_STEPS:
                self.invalid(element, f"more verbs than a flow's {MAX_STEPS} steps")
                break
            if self._recorded_conference(verbs, index):
                index += 3
                continue
            index += 1
            if self.verb(element):
                for later in verbs[index:]:
                    if later.tag in bxml.VERBS:
                        self.checked(later, keep=True)  # still refused if invalid
                    self.note(later, Carry.DROPPED, f"never runs: the call left this document"
                                                    f" at <{_name(element)}> "
                                                    f"({self.where(element)})")
                break
        return list(self.steps.items) or [Hangup()], record

    def _stray_text(self, root: etree._Element) -> None:
        for owner, text in [(root, root.text), *((k, k.tail) for k in root)]:
            if text and text.strip():
                self.note(owner, Carry.DROPPED, "text outside any verb is not BXML: not "
                                                "carried", construct="text")

    def _whole_call(self, verbs: list[etree._Element]) -> bool:
        """A StartRecording first that nothing stops or pauses records the whole call."""
        if not verbs or verbs[0].tag != "StartRecording" or any(
                v.tag in _RECORDING_VERBS for v in verbs[1:]):
            return False
        attributes = self.checked(verbs[0])
        if attributes is not None:
            self.leftovers(verbs[0], attributes, set(), "record")
        return True

    def _recorded_conference(self, verbs: list[etree._Element], index: int) -> bool:
        """StartRecording, Conference, StopRecording: a conference that records."""
        tags = [v.tag for v in verbs[index:index + 3]]
        if tags != ["StartRecording", "Conference", "StopRecording"]:
            return False
        start, conference, stop = verbs[index:index + 3]
        if conference.get("hold") == "true" or conference.get("callIdsToCoach"):
            return False
        checked = [self.checked(e) for e in (start, conference, stop)]
        if any(a is None for a in checked):
            return True  # the issues say why
        path = self.steps.next_path()
        self.leftovers(start, checked[0] or {}, set(), path)
        self._Conference(conference, checked[1] or {}, record=True)
        self.leftovers(stop, checked[2] or {}, set(), path)
        return True

    def verb(self, element: etree._Element) -> bool:
        """Read one verb; True when the call leaves the document with it."""
        tag = element.tag
        if not isinstance(tag, str) or tag not in bxml.VERBS:
            self.native(element, "not a BXML verb univoice knows: kept as written")
            return False
        if tag in _NESTED:
            self.invalid(element, f"<{tag}> belongs inside <{_NESTED[tag]}>, not directly in "
                                  "the document")
            return False
        mark, kept = len(self.notes), list(self.steps.items)
        attributes = self.checked(element, keep=tag in _NATIVE_WHY)
        if attributes is None:
            return False
        try:
            if tag in _NATIVE_WHY:
                raise _KeepNative(_NATIVE_WHY[tag])
            ends: bool = getattr(self, f"_{tag}")(element, attributes)
            return ends
        except (_KeepNative, FlowValidationError) as exc:
            why = (str(exc) if isinstance(exc, _KeepNative) else "no neutral step holds it "
                   "as written: " + "; ".join(str(i) for i in exc.issues))
            del self.notes[mark:]  # what was said about it holds no more: it is kept whole
            self.steps.items = kept
            self.native(element, why)
            return _leaves(element)

    def native(self, element: etree._Element, why: str) -> None:
        """Keep the verb as written, but for its credentials: a flow file is no place for
        secrets (and ``univoice convert`` prints it)."""
        kept = copy.deepcopy(element)
        kept.tail = None
        removed: list[str] = []
        for inner in kept.iter():
            for name in CREDENTIALS:
                if isinstance(inner.tag, str) and name in inner.attrib:
                    del inner.attrib[name]
                    removed += [] if name in removed else [name]
        xml = etree.tostring(kept, encoding="unicode", with_tail=False)
        try:
            step = Native(provider="bandwidth", document=xml, note=_clip(why, 500))
        except FlowValidationError as exc:
            self.invalid(element, "; ".join(str(i) for i in exc.issues))
            return
        path = self.steps.add(step)
        self.note(element, Carry.NATIVE, why, step=path)
        if removed:
            self.note(element, Carry.DROPPED, "credentials are not kept in a flow (a flow "
                      "file is no place for secrets): add them back to the native step if "
                      "its callbacks need them", f"<{_name(element)} {'/'.join(removed)}>",
                      path)

    # Checks -------------------------------------------------------------------------------

    def checked(self, element: etree._Element, *, keep: bool = False) -> Attributes | None:
        """The verb's attributes, typed (unknown ones noted, unless the verb is ``keep``-t
        as written); None when Bandwidth would refuse the verb (the issues say why)."""
        tag = str(element.tag)
        verb = bxml.VERBS[tag]
        before = len(self.issues)
        out: Attributes = {}
        for key, value in element.attrib.items():
            name, text = str(key), str(value)
            convert = verb.attributes.get(name)
            if verb.free:
                out[name] = text
            elif convert is None:
                if not keep:
                        self.note(element, Carry.DROPPED, "not an attribute univoice knows for "
                                                      "this verb: not carried",
                              f"<{tag} {name}>")
            else:
                try:
                    out[name] = convert(text)
                except ValueError as exc:
                    self.invalid(element, f"<{tag}> {name}={text[:80]!r} {exc}")
        for name in sorted(verb.required - set(map(str, element.attrib))):
            self.invalid(element, f"<{tag}> needs the attribute {name!r}")
        if not verb.free:
            self._check_content(element, verb, keep)
        return out if len(self.issues) == before else None

    def _check_content(self, element: etree._Element, verb: bxml.Verb, keep: bool) -> None:
        tag, kids = str(element.tag), _kids(element)
        if verb.children == bxml.SSML:
            text = bxml.text_of(element)
        else:
            text = "".join([element.text or "", *(k.tail or "" for k in element)])
            for kid in kids:
                if kid.tag in verb.children:
                    continue
                if kid.tag in bxml.VERBS:
                    self.invalid(kid, f"<{kid.tag}> is not allowed inside <{tag}>")
                elif not keep:
                    self.note(kid, Carry.DROPPED, f"not a verb univoice knows inside <{tag}>:"
                                                  " not carried")
        text = text.strip()
        if verb.text is None and text:
            self.invalid(element, f"<{tag}> holds no text")
        elif verb.text is not None and not text and not (verb.children == bxml.SSML and kids):
            self.invalid(element, f"<{tag}> needs text")
        elif verb.text is not None and text:
            try:
                verb.text(text)
            except ValueError as exc:
                self.invalid(element, f"<{tag}> text {text[:60]!r} {exc}")
        inner = [k for k in kids if k.tag in verb.children]
        if tag == "Gather":
            repeat = element.get("repeatCount", "1")
            if len(inner) * (int(repeat) if repeat.isdigit() else 1) > bxml.MAX_PROMPTS:
                self.invalid(element, f"<Gather> plays more than {bxml.MAX_PROMPTS} prompt "
                                      "verbs (prompts times repeatCount)")
        if tag == "Transfer" and not 1 <= len(inner) <= bxml.MAX_TRANSFER_TARGETS:
            self.invalid(element, f"<Transfer> needs 1 to {bxml.MAX_TRANSFER_TARGETS} "
                                  "<PhoneNumber>/<SipUri>")

    # Speech and audio ---------------------------------------------------------------------

    def speech(self, element: etree._Element, a: Attributes, into: _Steps) -> None:
        """A SpeakSentence: say steps (or a pause, when it holds only SSML breaks)."""
        kids = [k for k in element.iter() if k is not element and isinstance(k.tag, str)]
        text = bxml.text_of(element)
        if not text:
            seconds = sum(break_seconds(k) for k in kids if k.tag == "break")
            if seconds <= 0:
                self.note(element, Carry.DROPPED, "speaks nothing")
                return
            self.pauses(element, seconds, into, "")
            return
        fields, notes = speaker(a)
        escaped = text.replace("{", "{{").replace("}", "}}")  # BXML text reads no variables
        says = [Say(text=chunk, **fields) for chunk in chunks(escaped, MAX_TEXT)]
        path = into.add(says[0])
        for say in says[1:]:
            into.add(say)
        for construct, carry, detail in notes:
            self.note(element, carry, detail, construct, path)
        if kids:
            tags = ", ".join(sorted({f"<{_name(k)}>" for k in kids}))
            self.note(element, Carry.CHANGED, f"SSML markup ({tags}) is not carried: the "
                                              "text is spoken plain", "<SpeakSentence> SSML",
                      path)
        if len(says) > 1:
            self.note(element, Carry.CHANGED, f"split into {len(says)} say steps: a say "
                                              f"holds at most {MAX_TEXT} characters",
                      step=path)

    def pauses(self, element: etree._Element, seconds: float, into: _Steps,
               changed: str) -> None:
        """``seconds`` of silence as pause steps (one lasts at most MAX_PAUSE)."""
        parts: list[float] = []
        while seconds > MAX_PAUSE:
            parts.append(MAX_PAUSE)
            seconds -= MAX_PAUSE
        steps = [Pause(seconds=s) for s in [*parts, seconds]]
        path = into.add(steps[0])
        for step in steps[1:]:
            into.add(step)
        if changed:
            self.note(element, Carry.CHANGED, changed, step=path)
        if len(steps) > 1:
            self.note(element, Carry.CHANGED, f"split into {len(steps)} pauses: a pause "
                                              f"lasts at most {MAX_PAUSE:g} s", step=path)

    def audio(self, element: etree._Element, a: Attributes, into: _Steps) -> None:
        play = Play(url=(element.text or "").strip())
        self.leftovers(element, a, set(), into.add(play))

    # Hand-offs ----------------------------------------------------------------------------

    def hand_off(self, element: etree._Element, attribute: str, url: str, method: str,
                 event: str) -> str | None:
        """The call goes on with the document ``url`` returns: a redirect to it (its
        path; None when the URL cannot be a redirect's)."""
        construct = f"<{_name(element)} {attribute}>"
        node = continuation(url)
        if node is not None:
            self.note(element, Carry.DROPPED, f"univoice's own continuation (step {node!r} "
                      "of a flow its webhook app stores): what runs next is in that flow, "
                      "not in this document; convert the flow itself", construct)
            return None
        if not absolute(url):
            self.note(element, Carry.DROPPED, f"{shown(url)!r} is not an absolute http(s) "
                      "URL, which a neutral redirect needs: the imported flow ends here",
                      construct)
            return None
        path = self.steps.add(Redirect(url=url, method=method))
        if event in _HAND_OFF:
            self.note(element, Carry.CHANGED, "the call goes on with what the URL returns, "
                      f"fetched as a redirect: it no longer receives the {event!r} callback "
                      f"with {_HAND_OFF[event]}", construct, path)
        return path

    # Verbs (each returns True when the call leaves the document with it) -------------------

    def _SpeakSentence(self, element: etree._Element, a: Attributes) -> bool:
        self.speech(element, a, self.steps)
        return False

    def _PlayAudio(self, element: etree._Element, a: Attributes) -> bool:
        self.audio(element, a, self.steps)
        return False

    def _Pause(self, element: etree._Element, a: Attributes) -> bool:
        self.pauses(element, float(a.get("duration", 1.0)), self.steps, "")
        return False

    def _Ring(self, element: etree._Element, a: Attributes) -> bool:
        if a.get("answerCall") is False:
            raise _KeepNative("rings without answering the call: a neutral flow runs once "
                              "the call is answered")
        self.pauses(element, float(a.get("duration", 5.0)), self.steps,
                    "the caller hears silence instead of a ring tone")
        self.leftovers(element, a, {"duration"}, None)
        return False

    def _Hangup(self, element: etree._Element, a: Attributes) -> bool:
        self.steps.add(Hangup())
        return True

    def _Redirect(self, element: etree._Element, a: Attributes) -> bool:
        path = self.hand_off(element, "redirectUrl", str(a["redirectUrl"]),
                             str(a.get("redirectMethod", "POST")), "redirect")
        self.leftovers(element, a, {"redirectUrl", "redirectMethod"}, path)
        return True

    def _Gather(self, element: etree._Element, a: Attributes) -> bool:
        at = self.steps.next_path()
        prompt = _Steps(f"{at}.gather.prompt")
        for kid in _kids(element):
            kid_attributes = self.checked(kid) if kid.tag in ("SpeakSentence",
                                                              "PlayAudio") else None
            if kid_attributes is None:
                continue
            mark = len(self.notes)
            try:
                if kid.tag == "SpeakSentence":
                    self.speech(kid, kid_attributes, prompt)
                else:
                    self.audio(kid, kid_attributes, prompt)
            except FlowValidationError as exc:
                del self.notes[mark:]
                self.note(kid, Carry.DROPPED, "left out of the prompt: " + "; ".join(
                    str(i) for i in exc.issues), step=at)
        first, inter = float(a.get("firstDigitTimeout", 5)), float(a.get("interDigitTimeout", 5))
        keys, repeat = str(a.get("terminatingDigits", "")), int(a.get("repeatCount", 1))
        gather = Gather(prompt=tuple(prompt.items), max_digits=int(a.get("maxDigits", 50)),
                        timeout=first or inter, finish_on_key=keys[:1] or None,
                        variable=VARIABLE, retries=min(repeat - 1, 10))
        path = self.steps.add(gather)
        if first != inter:
            self.note(element, Carry.CHANGED, "one timeout for the first and every next "
                      f"key: {gather.timeout:g} s (Bandwidth: firstDigitTimeout {first:g}, "
                      f"interDigitTimeout {inter:g})", "<Gather> timeouts", path)
        if len(keys) > 1:
            self.note(element, Carry.CHANGED, f"only {keys[0]!r} ends the input (a gather has"
                      f" one finish key), {keys[1:]!r} no longer",
                      "<Gather terminatingDigits>", path)
        if repeat - 1 > 10:
            self.note(element, Carry.CHANGED, f"re-prompted 10 times, not {repeat - 1} (the "
                      "most a gather retries)", "<Gather repeatCount>", path)
        url = a.get("gatherUrl")
        if url is not None:
            self.hand_off(element, "gatherUrl", str(url), str(a.get("gatherMethod", "POST")),
                          "gather")
        self.leftovers(element, a, {"firstDigitTimeout", "interDigitTimeout", "maxDigits",
                                    "terminatingDigits", "repeatCount", "gatherUrl",
                                    "gatherMethod"}, path)
        return url is not None

    def _Record(self, element: etree._Element, a: Attributes) -> bool:
        keys = str(a.get("terminatingDigits", "#"))
        transcribe = bool(a.get("transcribe", False))
        path = self.steps.add(Record(
            max_length=float(a.get("maxDuration", 60)), finish_on_key=keys[:1] or None,
            silence_timeout=float(a.get("silenceTimeout", 0)) or None, beep=False,
            transcribe=transcribe))
        if len(keys) > 1:
            self.note(element, Carry.CHANGED, f"only {keys[0]!r} ends the recording, "
                      f"{keys[1:]!r} no longer", "<Record terminatingDigits>", path)
        if transcribe and a.get("detectLanguage"):
            self.note(element, Carry.CHANGED, "Bandwidth detects English, French or Spanish;"
                      " the neutral step transcribes in the flow's language",
                      "<Record detectLanguage>", path)
        url = a.get("recordCompleteUrl")
        if url is not None:
            self.hand_off(element, "recordCompleteUrl", str(url),
                          str(a.get("recordCompleteMethod", "POST")), "recordComplete")
        self.leftovers(element, a, {"maxDuration", "terminatingDigits", "silenceTimeout",
                                    "transcribe", "detectLanguage", "recordCompleteUrl",
                                    "recordCompleteMethod"}, path)
        return url is not None

    def _Transfer(self, element: etree._Element, a: Attributes) -> bool:
        targets = [(kid, self.checked(kid)) for kid in _kids(element)
                   if kid.tag in ("PhoneNumber", "SipUri")]
        for _, kid_attributes in targets:
            answer = (kid_attributes or {}).get("transferAnswerUrl")
            if answer is not None and continuation(str(answer)) is None:
                raise _KeepNative("the answered party first hears what its "
                                  "transferAnswerUrl returns (a whisper): a neutral transfer "
                                  "has none")
        caller = str(a.get("transferCallerId", "")) or None
        path = self.steps.add(Transfer(
            targets=[(kid.text or "").strip() for kid, _ in targets],
            caller_id=caller if caller not in _WITHHELD else None,
            timeout=float(a.get("callTimeout", 30))))
        if caller in _WITHHELD:
            self.note(element, Carry.DROPPED, f"a withheld caller id ({caller}) has no "
                      "neutral equivalent: the target sees the call's own number",
                      "<Transfer transferCallerId>", path)
        for kid, kid_attributes in targets:
            if (kid_attributes or {}).get("transferAnswerUrl") is not None:  # univoice's
                self.note(kid, Carry.DROPPED, "univoice's answered-leg document (it records "
                          "the leg when the transfer step records) is in univoice's stored "
                          "flow: imported without recording",
                          f"<{kid.tag} transferAnswerUrl>", path)
            self.leftovers(kid, kid_attributes or {}, {"transferAnswerUrl",
                                                       "transferAnswerMethod"}, path)
        url = a.get("transferCompleteUrl")
        if url is not None:
            self.hand_off(element, "transferCompleteUrl", str(url),
                          str(a.get("transferCompleteMethod", "POST")), "transferComplete")
        self.leftovers(element, a, {"transferCallerId", "callTimeout", "transferCompleteUrl",
                                    "transferCompleteMethod"}, path)
        return url is not None

    def _Forward(self, element: etree._Element, a: Attributes) -> bool:
        caller = str(a.get("from", "")) or None
        transfer = Transfer(targets=[str(a["to"])], timeout=float(a.get("callTimeout", 30)),
                            caller_id=caller if caller not in _WITHHELD else None)
        path = self.steps.add(transfer)
        self.steps.add(Hangup())
        self.note(element, Carry.CHANGED, "Bandwidth hands the call over at the SIP level and "
                  "runs nothing after it: imported as a transfer then a hangup (the call is "
                  "answered first, and ends when the transfer does)", step=path)
        if caller in _WITHHELD:
            self.note(element, Carry.DROPPED, f"a withheld caller id ({caller}) has no "
                      "neutral equivalent", "<Forward from>", path)
        self.leftovers(element, a, {"to", "from", "callTimeout"}, path)
        return True

    def _Conference(self, element: etree._Element, a: Attributes, *,
                    record: bool = False) -> bool:
        if a.get("hold") is True or a.get("callIdsToCoach"):
            raise _KeepNative("joins on hold or as a coach: a neutral conference member only "
                              "talks or listens (muted)")
        path = self.steps.add(Conference(name=(element.text or "").strip(),
                                         muted=bool(a.get("mute", False)), record=record))
        self.leftovers(element, a, {"mute", "hold", "callIdsToCoach"}, path)
        return False

    def _SendDtmf(self, element: etree._Element, a: Attributes) -> bool:
        digits = (element.text or "").strip()
        if re.search("[a-dA-D]", digits):
            raise _KeepNative("sends the tones A-D, which neutral digits do not have")
        # Bandwidth: ',' and 'w' wait half a second, 'W' a whole one; neutral 'w' is half.
        path = self.steps.add(SendDigits(digits=digits.replace(",", "w").replace("W", "ww")))
        self.leftovers(element, a, set(), path)
        return False

    def _Tag(self, element: etree._Element, a: Attributes) -> bool:
        self.note(element, Carry.DROPPED, "sets the tag later callbacks carry; a neutral "
                  "flow sets none: give the call its tag when it is placed "
                  "(calls.create(tag=...))")
        return False


def _kids(element: etree._Element) -> list[etree._Element]:
    return [k for k in element if isinstance(k.tag, str)]


def _name(element: etree._Element) -> str:
    tag = element.tag
    if not isinstance(tag, str):
        return "comment"
    return etree.QName(tag).localname if tag.startswith("{") else tag


def _leaves(element: etree._Element) -> bool:
    """Whether the call leaves the document at this verb (as Bandwidth runs it)."""
    tag = element.tag
    if tag in ("Hangup", "Redirect", "Forward"):
        return True
    attribute = bxml.HANDS_OFF.get(str(tag))
    return attribute is not None and element.get(attribute) is not None


def _clip(text: str, size: int) -> str:
    return text if len(text) <= size else text[:size - 3] + "..."
