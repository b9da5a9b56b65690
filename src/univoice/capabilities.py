"""What a provider can do, as data: features of flows, and REST resources.

``features_of`` lists the features a flow uses (with the step paths using each), so the
gap between a flow and a provider is computed, not guessed; each compiler must raise
``UnsupportedFeature`` for exactly the features its provider does not declare.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from univoice.flow.paths import join

if TYPE_CHECKING:
    from univoice.flow import Branch, Flow, Step

_Use = Callable[["Feature", str], None]


class Feature(StrEnum):
    SAY = "say"
    SAY_VOICE = "say.voice"  # a provider voice name
    SAY_GENDER = "say.gender"
    SAY_LOOP = "say.loop"
    PLAY = "play"
    PLAY_LOOP = "play.loop"
    PAUSE = "pause"
    GATHER_MENU = "gather.menu"
    GATHER_NESTED_MENU = "gather.nested_menu"  # a menu inside a menu branch
    GATHER_FREE_INPUT = "gather.free_input"
    GATHER_RETRIES = "gather.retries"
    GATHER_FINISH_KEY = "gather.finish_on_key"
    RECORD = "record"
    RECORD_TRANSCRIBE = "record.transcribe"
    RECORD_SILENCE_TIMEOUT = "record.silence_timeout"
    TRANSFER = "transfer"
    TRANSFER_MULTIPLE = "transfer.multiple_targets"
    TRANSFER_SIP = "transfer.sip"
    TRANSFER_CALLER_ID = "transfer.caller_id"
    TRANSFER_RECORD = "transfer.record"
    TRANSFER_NO_ANSWER = "transfer.no_answer"
    CONFERENCE = "conference"
    CONFERENCE_MUTED = "conference.muted"
    CONFERENCE_HOLD_MUSIC = "conference.hold_music"
    CONFERENCE_RECORD = "conference.record"
    CONFERENCE_END_ON_EXIT = "conference.end_on_exit"
    CONFERENCE_WAIT = "conference.wait"  # start_on_enter: false (wait for a moderator)
    SEND_DIGITS = "send_digits"
    REDIRECT = "redirect"
    REDIRECT_GET = "redirect.get"
    HANGUP = "hangup"
    FLOW_RECORD = "flow.record"
    FLOW_MACHINE_DETECTION = "flow.machine_detection"


class Resource(StrEnum):
    CALLS_CREATE = "calls.create"
    CALLS_GET = "calls.get"
    CALLS_LIST = "calls.list"
    CALLS_UPDATE = "calls.update"
    CALLS_HANGUP = "calls.hangup"
    RECORDINGS_LIST = "recordings.list"
    RECORDINGS_GET = "recordings.get"
    RECORDINGS_DOWNLOAD = "recordings.download"
    RECORDINGS_DELETE = "recordings.delete"
    TRANSCRIPTIONS_CREATE = "transcriptions.create"
    TRANSCRIPTIONS_GET = "transcriptions.get"
    TRANSCRIPTIONS_DELETE = "transcriptions.delete"
    CONFERENCES_LIST = "conferences.list"
    CONFERENCES_GET = "conferences.get"
    CONFERENCES_UPDATE = "conferences.update"
    CONFERENCE_MEMBERS = "conferences.members"
    CONFERENCE_RECORDINGS = "conferences.recordings"
    FLOWS = "flows"
    WEBHOOKS = "webhooks"


ALL_FEATURES = frozenset(Feature)


@dataclass(frozen=True)
class Capabilities:
    """A provider's declaration. ``notes`` say why something is missing or how it is done."""

    features: frozenset[Feature]
    resources: frozenset[Resource] = frozenset()
    notes: Mapping[Feature | Resource, str] = field(default_factory=dict)

    @classmethod
    def all_but(cls, missing: Iterable[Feature] = (), *, resources: Iterable[Resource] = (),
                notes: Mapping[Feature | Resource, str] | None = None) -> Capabilities:
        return cls(ALL_FEATURES - frozenset(missing), frozenset(resources), dict(notes or {}))

    def missing(self, flow: Flow) -> dict[Feature, list[str]]:
        """The features ``flow`` uses that this provider lacks, with where they are used."""
        return {f: paths for f, paths in features_of(flow).items() if f not in self.features}


def features_of(flow: Flow) -> dict[Feature, list[str]]:
    """Every feature the flow uses, mapped to the step paths that use it (document order)."""
    used: dict[Feature, list[str]] = {}

    def use(feature: Feature, path: str) -> None:
        used.setdefault(feature, []).append(path)

    if flow.record:
        use(Feature.FLOW_RECORD, "record")
    # Flow-level say defaults count as the say options they set.
    if flow.voice:
        use(Feature.SAY_VOICE, "voice")
    if flow.gender:
        use(Feature.SAY_GENDER, "gender")
    if flow.machine_detection is not None:
        use(Feature.FLOW_MACHINE_DETECTION, "machine_detection")
        if flow.machine_detection.on_machine:
            _branch(flow.machine_detection.on_machine, "machine_detection.on_machine", use,
                    in_menu=False)
    _walk(flow.steps, "steps", use, in_menu=False)
    return used


def _walk(steps: Sequence[Step], path: str, use: _Use, *, in_menu: bool) -> None:
    for index, step in enumerate(steps):
        _step(step, join(path, index), use, in_menu=in_menu)


def _branch(branch: Branch | None, path: str, use: _Use, *, in_menu: bool) -> None:
    if branch is not None:
        _walk(branch.steps, join(path, "steps"), use, in_menu=in_menu)


def _step(step: Step, path: str, use: _Use, *, in_menu: bool) -> None:
    here = join(path, step.kind)
    if step.kind == "say":
        use(Feature.SAY, here)
        if step.voice:
            use(Feature.SAY_VOICE, here)
        if step.gender:
            use(Feature.SAY_GENDER, here)
        if step.loop > 1:
            use(Feature.SAY_LOOP, here)
    elif step.kind == "play":
        use(Feature.PLAY, here)
        if step.loop > 1:
            use(Feature.PLAY_LOOP, here)
    elif step.kind == "pause":
        use(Feature.PAUSE, here)
    elif step.kind == "gather":
        # This step's own features first, then its branches: paths stay in document order.
        if step.options is not None:
            use(Feature.GATHER_NESTED_MENU if in_menu else Feature.GATHER_MENU, here)
        else:
            use(Feature.GATHER_FREE_INPUT, here)
        if step.retries:
            use(Feature.GATHER_RETRIES, here)
        if step.finish_on_key:
            use(Feature.GATHER_FINISH_KEY, here)
        for i, prompt in enumerate(step.prompt):
            _step(prompt, join(here, "prompt", i), use, in_menu=in_menu)
        for digits, branch in (step.options or {}).items():
            _branch(branch, join(here, "options", digits), use, in_menu=True)
        _branch(step.no_input, join(here, "no_input"), use, in_menu=True)
        _branch(step.invalid, join(here, "invalid"), use, in_menu=True)
    elif step.kind == "record":
        use(Feature.RECORD, here)
        if step.transcribe:
            use(Feature.RECORD_TRANSCRIBE, here)
        if step.silence_timeout is not None:
            use(Feature.RECORD_SILENCE_TIMEOUT, here)
    elif step.kind == "transfer":
        use(Feature.TRANSFER, here)
        if len(step.targets) > 1:
            use(Feature.TRANSFER_MULTIPLE, here)
        if any(t.startswith(("sip:", "sips:")) for t in step.targets):
            use(Feature.TRANSFER_SIP, here)
        if step.caller_id:
            use(Feature.TRANSFER_CALLER_ID, here)
        if step.record:
            use(Feature.TRANSFER_RECORD, here)
        if step.no_answer is not None:
            use(Feature.TRANSFER_NO_ANSWER, here)
            _branch(step.no_answer, join(here, "no_answer"), use, in_menu=in_menu)
    elif step.kind == "conference":
        use(Feature.CONFERENCE, here)
        if step.muted:
            use(Feature.CONFERENCE_MUTED, here)
        if step.hold_music:
            use(Feature.CONFERENCE_HOLD_MUSIC, here)
        if step.record:
            use(Feature.CONFERENCE_RECORD, here)
        if step.end_on_exit:
            use(Feature.CONFERENCE_END_ON_EXIT, here)
        if not step.start_on_enter:
            use(Feature.CONFERENCE_WAIT, here)
    elif step.kind == "send_digits":
        use(Feature.SEND_DIGITS, here)
    elif step.kind == "redirect":
        use(Feature.REDIRECT, here)
        if step.method == "GET":
            use(Feature.REDIRECT_GET, here)
    elif step.kind == "hangup":
        use(Feature.HANGUP, here)
