"""The resource-level contract every provider adapter must meet.

A provider's test module subclasses ``ResourceContract`` and supplies ``voice`` (a
``univoice.Voice`` whose requests are answered by a replayable backend: the simulator's
in-memory service here, recorded cassettes for the real providers) and ``advance``
(moves the backend's time, or does nothing when it cannot).
"""

from __future__ import annotations

import io
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from univoice import Flow, Voice
from univoice.capabilities import Resource
from univoice.errors import InvalidArguments, NotFound, UnivoiceError, UnsupportedFeature
from univoice.models import CallStatus, Recording

TO = "+31612345678"
FROM = "+31201234567"
VOICEMAIL = Flow.from_yaml("""
steps:
  - say: Please leave a message after the tone.
  - record: {max_length: 30, transcribe: true}
  - say: Thank you.
  - hangup
""")
LONG_CALL = Flow.from_yaml("""
steps:
  - say: Please hold.
  - pause: 120
  - hangup
""")


class ResourceContract:
    provider: ClassVar[str]
    # ``calls.list`` filters the provider's API cannot apply because it keeps no such field
    # on a call (Bandwidth's callState has no tag). Listing with one must then fail with
    # UnsupportedFeature or InvalidArguments before any request, never list unfiltered calls.
    unsupported_call_filters: ClassVar[frozenset[str]] = frozenset()
    # True where a recording is a sub-resource of its call (Bandwidth: /calls/{id}/
    # recordings/{rid}; no lookup by recording id alone): a recording given by id must come
    # with its call_id, and without one the client refuses before any request.
    recordings_need_call_id: ClassVar[bool] = False
    # True where hanging up removes the call resource (MessageBird: DELETE /calls/{id} is
    # its only hang-up, "hanging up all active legs and removing the call resource"): the
    # call is then not found, rather than found completed.
    hangup_removes_call: ClassVar[bool] = False
    voice: Voice
    advance: Callable[[float], None]

    def sent(self) -> list[httpx.Request]:
        """Requests that reached the backend (for 'nothing was sent' checks)."""
        raise NotImplementedError

    # calls ---------------------------------------------------------------------------

    def test_create_then_get(self) -> None:
        call = self.voice.calls.create(TO, FROM, flow=VOICEMAIL, tag="order-42")
        assert call.id and call.provider == self.provider
        assert call.to == TO and call.from_ == FROM and call.tag == "order-42"
        assert call.status in (CallStatus.QUEUED, CallStatus.INITIATED, CallStatus.RINGING)
        self.advance(600)
        got = self.voice.calls.get(call.id)
        assert got.id == call.id
        assert got.status == CallStatus.COMPLETED and got.finished
        assert got.duration is not None and got.duration > 0
        assert got.raw  # the provider's payload is kept

    def test_create_generates_a_tag_for_reconciliation(self) -> None:
        call = self.voice.calls.create(TO, FROM, flow=VOICEMAIL)
        assert call.tag and call.tag.startswith("uv-")

    def test_list_pages_lazily_and_honours_limit(self) -> None:
        ids = {self.voice.calls.create(TO, FROM, flow=VOICEMAIL).id for _ in range(5)}
        before = len(self.sent())
        pager = self.voice.calls.list(page_size=2)
        assert len(self.sent()) == before  # nothing fetched until iterated
        assert {c.id for c in pager} >= ids
        assert len(list(self.voice.calls.list(page_size=2, limit=3))) == 3
        if "tag" in self.unsupported_call_filters:
            self._refuses_filter(tag="nope")
        else:
            assert [c.id for c in self.voice.calls.list(tag="nope")] == []

    def test_list_filters_by_tag(self) -> None:
        call = self.voice.calls.create(TO, FROM, flow=VOICEMAIL, tag="find-me")
        if "tag" in self.unsupported_call_filters:
            self._refuses_filter(tag="find-me")
            return
        assert [c.id for c in self.voice.calls.list(tag="find-me")] == [call.id]

    def _lacks(self, resource: Resource) -> bool:
        """Whether the provider declares it lacks ``resource``; the contract then holds it to
        refusing with UnsupportedFeature before any request (see ``_refuses``)."""
        return resource not in self.voice.provider.capabilities.resources

    def _refuses(self, action: Callable[[], object]) -> None:
        before = len(self.sent())
        with pytest.raises(UnsupportedFeature):
            action()
        assert len(self.sent()) == before

    def _refuses_filter(self, **filters: Any) -> None:
        before = len(self.sent())
        with pytest.raises((UnsupportedFeature, InvalidArguments)):
            list(self.voice.calls.list(**filters))
        assert len(self.sent()) == before

    def test_hangup_ends_a_live_call(self) -> None:
        call = self.voice.calls.create(TO, FROM, flow=LONG_CALL)
        self.advance(10)
        assert self.voice.calls.get(call.id).status == CallStatus.IN_PROGRESS
        self.voice.calls.hangup(call.id)
        if self.hangup_removes_call:
            with pytest.raises(NotFound):
                self.voice.calls.get(call.id)
            return
        ended = self.voice.calls.get(call.id)
        assert ended.status == CallStatus.COMPLETED and ended.finished

    def test_update_moves_a_live_call_to_a_new_flow(self) -> None:
        call = self.voice.calls.create(TO, FROM, flow=LONG_CALL)
        self.advance(10)
        if self._lacks(Resource.CALLS_UPDATE):
            self._refuses(lambda: self.voice.calls.update(call.id, flow=VOICEMAIL))
            return
        moved = self.voice.calls.update(call.id, flow=VOICEMAIL)
        assert moved.id == call.id
        self.advance(600)
        assert len(list(self.voice.recordings.list(call_id=call.id))) == 1

    # recordings and transcriptions -----------------------------------------------------

    def _recorded(self) -> Recording:
        call = self.voice.calls.create(TO, FROM, flow=VOICEMAIL)
        self.advance(600)
        recordings = list(self.voice.recordings.list(call_id=call.id))
        assert len(recordings) == 1
        return recordings[0]

    def test_recording_downloads_as_wav_to_dir_path_and_file(self, tmp_path: Path) -> None:
        rec = self._recorded()
        assert rec.duration and rec.duration > 0
        written = rec.download(tmp_path)  # bound to the client that listed it
        assert written == tmp_path / f"{rec.id}.wav"
        named = self.voice.recordings.download(rec, tmp_path / "named.wav")
        buffer = io.BytesIO()
        if self.recordings_need_call_id:
            before = len(self.sent())
            with pytest.raises(InvalidArguments, match="call_id"):
                self.voice.recordings.download(rec.id, io.BytesIO())
            assert len(self.sent()) == before
            assert self.voice.recordings.download(rec.id, buffer, call_id=rec.call_id) is None
        else:
            assert self.voice.recordings.download(rec.id, buffer) is None
        for data in (written.read_bytes(), named.read_bytes(), buffer.getvalue()):
            with wave.open(io.BytesIO(data)) as w:
                assert w.getnframes() > 0

    def test_recording_delete_then_not_found(self) -> None:
        rec = self._recorded()
        self.voice.recordings.delete(rec)
        with pytest.raises(NotFound) as err:
            self.voice.recordings.get(rec.id, call_id=rec.call_id)
        assert err.value.status == 404 and err.value.provider == self.provider

    def test_transcription_text(self) -> None:
        rec = self._recorded()
        assert self.voice.transcriptions.text(rec)

    def test_transcription_delete_then_not_found(self) -> None:
        rec = self._recorded()
        assert self.voice.transcriptions.text(rec)
        if self._lacks(Resource.TRANSCRIPTIONS_DELETE):
            self._refuses(lambda: self.voice.transcriptions.delete(rec))
            return
        self.voice.transcriptions.delete(rec)
        with pytest.raises(NotFound):
            self.voice.transcriptions.get(rec)

    # errors ---------------------------------------------------------------------------

    def test_unknown_call_is_not_found(self) -> None:
        with pytest.raises(NotFound) as err:
            self.voice.calls.get("no-such-call")
        assert err.value.operation == "calls.get"

    @pytest.mark.parametrize("kwargs", [
        {"to": "+123"}, {"to": "0612345678"}, {"ring_timeout": -1}, {"max_duration": 0},
        {"flow": None}, {"answer_url": "ftp://x.example/a"}, {"tag": "has space"},
    ])
    def test_bad_arguments_fail_before_any_request(self, kwargs: dict[str, object]) -> None:
        args: dict[str, object] = {"to": TO, "from_": FROM, "flow": VOICEMAIL, **kwargs}
        before = len(self.sent())
        with pytest.raises(InvalidArguments):
            self.voice.calls.create(**args)  # type: ignore[arg-type]
        assert len(self.sent()) == before

    def test_invalid_flow_fails_before_any_request(self) -> None:
        before = len(self.sent())
        with pytest.raises(UnivoiceError, match=r"steps\[0\]\.say\.text"):
            self.voice.calls.create(TO, FROM, flow={"steps": [{"say": ""}]})
        assert len(self.sent()) == before

    def test_unknown_filter_fails_before_any_request(self) -> None:
        with pytest.raises(InvalidArguments, match="colour"):
            self.voice.calls.list(colour="red")
