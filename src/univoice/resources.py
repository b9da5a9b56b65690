"""The client's resources: ``voice.calls``, ``.recordings``, ``.transcriptions``, ...

Every method checks its arguments and builds its operation in ``_Ops`` (shared), before
any I/O; the sync and async classes differ only in how they run the operation.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

from univoice.errors import FlowIssue as _Issue
from univoice.errors import InvalidArguments, RequestTimeout, TransportError
from univoice.flow import Flow
from univoice.models import (
    Call,
    Conference,
    ConferenceMember,
    Page,
    Recording,
    StoredFlow,
    Transcription,
    WebhookSubscription,
)
from univoice.paging import AsyncPager, Pager
from univoice.params import (
    CallFilters,
    ConferenceFilters,
    CreateCall,
    MemberUpdate,
    UpdateCall,
    UpdateConference,
    WebhookArgs,
)

if TYPE_CHECKING:
    import httpx

    from univoice.hosting import FlowHost
    from univoice.operations import Operation
    from univoice.provider import Provider

T = TypeVar("T")
Sink = str | Path | IO[bytes]
DEFAULT_PAGE_SIZE = 50
# The feature a provider without a lookup of lost creates lacks (``calls.find_created``).
LOST_CREATE_LOOKUP = "looking up a create whose answer was lost"


def _invalid(name: str, message: str) -> InvalidArguments:
    return InvalidArguments([_Issue(name, message)])


def _page_size(value: int) -> int:
    if not 1 <= value <= 1000:
        raise _invalid("page_size", "must be between 1 and 1000")
    return value


def _limit(value: int | None) -> int | None:
    if value is not None and value < 0:
        raise _invalid("limit", "must not be negative")
    return value


def _flow(flow: Flow | str | Path | dict[str, Any] | None) -> Flow | None:
    """Accept a Flow, a flow file path, or a flow document."""
    if flow is None or isinstance(flow, Flow):
        return flow
    if isinstance(flow, dict):
        return Flow.from_dict(flow)
    return Flow.load(flow)


_PLAIN_ARGUMENTS = (str, float, int, bool)


def _arguments_key(to: Any, from_: Any, flow: Any, options: dict[str, Any]
                   ) -> tuple[str, str | None, tuple[tuple[str, type, Any], ...]] | None:
    """What ``_checked_call`` may validate once for many calls: arguments without a flow
    (a path is read, and a flow checked, on every call) and of plain types, keyed with
    their types so that ``1`` and ``True`` (equal, and equally hashed) stay apart."""
    if flow is not None or type(to) is not str or (from_ is not None and type(from_) is not str):
        return None
    items = []
    for name, value in options.items():
        if type(value) not in _PLAIN_ARGUMENTS:
            return None
        items.append((name, type(value), value))
    return to, from_, tuple(sorted(items))


@lru_cache(maxsize=256)
def _checked_call(to: str, from_: str | None, options: tuple[tuple[str, type, Any], ...]
                  ) -> CreateCall:
    """``CreateCall`` of arguments seen before, validated once: the same numbers and
    answer URL recur call after call, and validation is a pure function of them. Only a
    success is kept (an invalid call raises every time); the caller sets the tag."""
    return CreateCall(to=to, from_=from_, **{name: value for name, _, value in options})


class _Ops:
    """Argument checking and operation building, shared by both clients."""

    def __init__(self, provider: Provider, host: FlowHost | None = None) -> None:
        self.p = provider
        self.host = host

    def _hosted(self, flow: Flow | None) -> dict[str, str]:
        """The webhook app's URLs a provider is handed: its callback route whenever the
        app's place is known, and for a flow the provider fetches from the app, the flow's
        first document (the flow is stored there first, before any request is sent)."""
        if flow is None or not self.p.needs_app(flow):
            return {"events_url": self.host.events_url(self.p.name)} if self.host else {}
        if self.host is None:
            from univoice.hosting import missing_host

            raise missing_host(self.p.name)
        flow_url, events_url = self.host.host(self.p.name, flow)
        return {"flow_url": flow_url, "events_url": events_url}

    def create_call(self, to: str, from_: str | None, flow: Any, **options: Any
                    ) -> Operation[Call]:
        data = {k: v for k, v in options.items() if v is not None}
        params = None
        if "tag" not in data:
            # A generated tag lets an ambiguous create be looked up instead of repeated
            # (96 random bits; os.urandom costs less than a whole uuid4).
            tag = f"uv-{os.urandom(12).hex()}"
            key = _arguments_key(to, from_, flow, data)
            if key is not None:
                params = _checked_call(*key).model_copy(update={"tag": tag})
            else:
                data["tag"] = tag
        if params is None:
            params = CreateCall(to=to, from_=from_, flow=_flow(flow), **data)
        if params.flow is not None:
            self.p.check_flow(params.flow)  # UnsupportedFeature before any request
        if params.machine_detection:
            from univoice.capabilities import Feature

            if Feature.FLOW_MACHINE_DETECTION not in self.p.capabilities.features:
                raise self.p.unsupported(Feature.FLOW_MACHINE_DETECTION)
        hosted = self._hosted(params.flow)
        return self.p.create_call(params.model_copy(update=hosted) if hosted else params)

    def find_created(self, to: str, from_: str | None, flow: Any, answer_url: str | None,
                     tag: str, since: datetime | None) -> Operation[Call | None]:
        """The lookup a create with ``tag`` is reconciled by after a lost answer, dated
        ``since`` (when that create was sent; default now)."""
        from univoice.errors import UnsupportedFeature

        with _provider_time(self.p, since):
            op = self.create_call(to, from_, flow, answer_url=answer_url, tag=tag)
        if op.reconcile is None:
            raise UnsupportedFeature(LOST_CREATE_LOOKUP, self.p.name)
        return op.reconcile()

    def list_calls(self, page_size: int, filters: dict[str, Any]
                   ) -> Callable[[str | None], Operation[Page[Call]]]:
        parsed = CallFilters(**filters)
        size = _page_size(page_size)
        return lambda cursor: self.p.list_calls(parsed, cursor, size)

    def update_call(self, call_id: str, flow: Any, redirect_url: str | None
                    ) -> Operation[Call | None]:
        params = UpdateCall(flow=_flow(flow), redirect_url=redirect_url)
        if params.flow is not None:
            self.p.check_flow(params.flow)
        call_id = _id("call_id", call_id)
        return self.p.update_call(call_id, params.model_copy(update=self._hosted(params.flow)))


    def create_flow(self, flow: Flow | str | Path | dict[str, Any], name: str | None
                    ) -> Operation[StoredFlow]:
        neutral = _flow(flow)
        if neutral is None:
            raise _invalid("flow", "a flow is required")
        self.p.check_flow(neutral)
        return self.p.create_flow(neutral, name)

    def create_webhook(self, url: str, events: Sequence[str] | None
                       ) -> Operation[WebhookSubscription]:
        checked = WebhookArgs(url=url, events=list(events or []))
        return self.p.create_webhook(checked.url, checked.events)


_CLOCK_LOCK = threading.Lock()


@contextlib.contextmanager
def _provider_time(provider: Provider, when: datetime | None) -> Iterator[None]:
    """Build an operation as if at ``when``: a lookup's window is dated by the provider's
    clock when the operation is made (only while it is made: no I/O happens here)."""
    clock = getattr(provider, "clock", None)
    if when is None or clock is None:
        yield
        return
    with _CLOCK_LOCK:
        provider.clock = lambda: when  # type: ignore[attr-defined]
        try:
            yield
        finally:
            provider.clock = clock  # type: ignore[attr-defined]


def _id(name: str, value: str) -> str:
    if not isinstance(value, str) or not value.strip() or "/" in value:
        raise _invalid(name, f"{value!r} is not an id")
    return value


def bind_recordings(op: Operation[Page[Recording]], downloader: Callable[..., Any]
                    ) -> Operation[Page[Recording]]:
    """The same operation, its recordings bound to the client (``rec.download(dest)``)."""
    def parse(response: httpx.Response) -> Page[Recording]:
        page = op.parse(response)
        return Page(items=[r.bind(downloader) for r in page.items],
                    next_cursor=page.next_cursor)

    return replace(op, parse=parse)


# Downloads -----------------------------------------------------------------------------

# How many times a download whose body broke off (a dropped connection, a read timeout, a
# body shorter than its Content-Length) is taken up again: from where it stopped (a Range
# request) where the answer allows, else from the start.
DOWNLOAD_RESUMES = 3
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


class _Download:
    """One recording download's bookkeeping, shared by the sync and async clients.

    A path (or directory) is written to a temporary file beside the destination, renamed
    over it only once the body is whole (its size matching Content-Length, or the
    Content-Range total, when given) and removed on any failure: the destination is
    never left holding part of a recording. A file object is written in place (what was
    written stays in it when the download fails; the error says how much).

    A body that breaks off is resumed with ``Range: bytes=N-`` (and ``If-Range``, with the
    first answer's ETag or Last-Modified, so that a changed recording is sent whole): a
    206 whose ``Content-Range`` starts at N is appended; a 200 is the whole recording again,
    written from the start. After ``DOWNLOAD_RESUMES`` such attempts the failure is a
    ``TransportError`` (``RequestTimeout`` for a read timeout), sent=True.
    """

    def __init__(self, provider: str, recording: Recording, dest: Sink,
                 op: Operation[httpx.Response]) -> None:
        self.provider = provider
        self.recording = recording
        self.dest = dest
        self.op = op
        self.sink: IO[bytes] | None = None
        self.final: Path | None = None  # the destination path (None: a file object)
        self.temp: Path | None = None
        self.origin = 0  # a file object's position when the download began
        self.written = 0
        self.received = 0  # of the answer being read
        self.total: int | None = None  # the whole recording's size, when said
        self.validator: str | None = None  # for If-Range
        self.asked_from: int | None = None  # the offset the last request asked for
        self.encoded = False  # a Content-Encoding: offsets are not the file's
        self.restart = False  # an answer did not continue the body: ask from the start
        self.resumes = 0

    # Where the bytes go ---------------------------------------------------------------

    def _open(self) -> None:
        if not isinstance(self.dest, (str, Path)):
            self.sink = self.dest
            try:
                self.origin = self.dest.tell() if self.dest.seekable() else -1
            except (OSError, ValueError):
                self.origin = -1
            return
        path = Path(self.dest)
        if path.is_dir() or str(self.dest).endswith(("/", "\\")):
            path.mkdir(parents=True, exist_ok=True)
            path = path / f"{self.recording.id}.{self.recording.format or 'wav'}"
        self.final = path
        # Beside the destination (one file system: the rename is atomic); O_EXCL, with
        # the mode an ordinary open would give (0666 less the umask).
        while True:
            temp = path.with_name(f".{path.name}.{os.urandom(6).hex()}.part")
            try:
                fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL
                             | getattr(os, "O_BINARY", 0), 0o666)
            except FileExistsError:
                continue
            break
        self.temp = temp
        self.sink = os.fdopen(fd, "wb")

    def _rewind(self) -> None:
        """Start the body again (the answer is the whole recording)."""
        assert self.sink is not None
        if self.written:
            if self.origin < 0:
                raise self._broken("the provider sent the recording again from the start "
                                   "and the file object cannot be rewound")
            self.sink.seek(self.origin)
            self.sink.truncate()
        self.written = 0

    def commit(self) -> Path | None:
        if self.final is None:
            return None
        assert self.sink is not None and self.temp is not None
        self.sink.flush()
        os.fsync(self.sink.fileno())
        self.sink.close()
        os.replace(self.temp, self.final)
        self.temp = None
        return self.final

    def discard(self) -> None:
        if self.final is None or self.sink is None:
            return
        self.sink.close()
        if self.temp is not None:
            with contextlib.suppress(FileNotFoundError):
                self.temp.unlink()
            self.temp = None

    # The answers ----------------------------------------------------------------------

    def begin(self, response: httpx.Response) -> bool:
        """Take an answer's headers; False when it cannot continue this download (its
        body is then not read, and the next attempt asks from the start)."""
        if self.sink is None:
            self._open()
        self.received = 0
        headers = response.headers
        self.encoded = headers.get("content-encoding", "identity").lower() != "identity"
        if response.status_code == 206:
            match = _CONTENT_RANGE.fullmatch(headers.get("content-range", "").strip())
            total = None if match is None or match[3] == "*" else int(match[3])
            if (match is None or self.asked_from is None or int(match[1]) != self.written
                    or self.encoded or (None not in (total, self.total)
                                        and total != self.total)):
                self.restart = True  # not the rest of what was written
                return False
            self.total = total if total is not None else self.total
        else:
            self._rewind()
            length = headers.get("content-length")
            self.total = int(length) if length and length.isdigit() and not self.encoded \
                else None
            etag = headers.get("etag")
            self.validator = etag if etag and not etag.startswith("W/") else headers.get(
                "last-modified")
        return True

    def write(self, chunk: bytes) -> None:
        assert self.sink is not None
        self.sink.write(chunk)
        self.written += len(chunk)
        self.received += len(chunk)

    def whole(self, response: httpx.Response) -> bool:
        """Whether the answer's body arrived in full."""
        length = response.headers.get("content-length")
        if length and length.isdigit():
            # Content-Length counts the bytes on the wire: decoded ones differ.
            got = response.num_bytes_downloaded if self.encoded else self.received
            if got < int(length) and not (self.encoded and got == 0):
                return False
        return self.total is None or self.written == self.total

    def again(self) -> Operation[httpx.Response] | None:
        """The request that takes up a download that broke off; None once given up."""
        import httpx

        if self.resumes >= DOWNLOAD_RESUMES:
            return None
        self.resumes += 1
        headers = httpx.Headers(self.op.request.headers)
        for name in ("range", "if-range"):
            headers.pop(name, None)
        if self.written and not self.encoded and not self.restart:
            headers["Range"] = f"bytes={self.written}-"
            if self.validator:
                headers["If-Range"] = self.validator
            self.asked_from = self.written
        else:
            self.asked_from = None
        self.restart = False
        request = httpx.Request(self.op.request.method, self.op.request.url, headers=headers)
        return replace(self.op, request=request)

    def _broken(self, why: str, error: BaseException | None = None) -> TransportError:
        import httpx

        total = "?" if self.total is None else str(self.total)
        message = (f"the download of recording {self.recording.id} broke off after "
                   f"{self.written} of {total} bytes ({why})")
        if self.final is not None:
            message += f"; nothing was written to {self.final.name}"
        cls = RequestTimeout if isinstance(error, httpx.TimeoutException) else TransportError
        return cls(message, provider=self.provider, operation=self.op.name, sent=True)

    def give_up(self, error: BaseException | None) -> TransportError:
        why = (type(error).__name__ if error is not None
               else "the body was shorter than announced")
        return self._broken(f"{why}; resumed {self.resumes} times", error)


# Sync --------------------------------------------------------------------------------


class _Sync:
    def __init__(self, run: Callable[[Operation[Any]], Any], provider: Provider,
                 host: FlowHost | None = None) -> None:
        self._run = run
        self._ops = _Ops(provider, host)
        self._p = provider

    def _pager(self, fetch: Callable[[str | None], Operation[Page[T]]], name: str,
               limit: int | None) -> Pager[T]:
        return Pager(lambda cursor: self._run(fetch(cursor)), provider=self._p.name,
                     operation=name, limit=_limit(limit))


class Calls(_Sync):
    def create(self, to: str, from_: str | None = None, *,
               flow: Flow | str | Path | dict[str, Any] | None = None,
               answer_url: str | None = None, ring_timeout: float | None = None,
               max_duration: float | None = None, machine_detection: bool | None = None,
               record: bool | None = None, callback_url: str | None = None,
               tag: str | None = None) -> Call:
        """Place a call that runs ``flow`` (or the document at ``answer_url``).

        Never placed twice: see ``univoice.retry`` for how an ambiguous failure is settled.
        """
        op = self._ops.create_call(
            to, from_, flow, answer_url=answer_url, ring_timeout=ring_timeout,
            max_duration=max_duration, machine_detection=machine_detection, record=record,
            callback_url=callback_url, tag=tag)
        result: Call = self._run(op)
        return result

    def get(self, call_id: str) -> Call:
        result: Call = self._run(self._p.get_call(_id("call_id", call_id)))
        return result

    def find_created(self, to: str, from_: str | None = None, *, tag: str,
                     flow: Flow | str | Path | dict[str, Any] | None = None,
                     answer_url: str | None = None, since: datetime | None = None
                     ) -> Call | None:
        """The call a create with these arguments and ``tag`` placed, or None when the
        provider shows none: how a create whose outcome was lost (a crash, an
        ``AmbiguousCreate``) is settled before it is made again. ``since``: when that create
        was sent (the lookup's window starts shortly before)."""
        found: Call | None = self._run(
            self._ops.find_created(to, from_, flow, answer_url, tag, since))
        return found

    def list(self, *, limit: int | None = None, page_size: int = DEFAULT_PAGE_SIZE,
             **filters: Any) -> Pager[Call]:
        """Calls, newest pages fetched lazily; filters: to, from_, status, created_after,
        created_before, tag."""
        return self._pager(self._ops.list_calls(page_size, filters), "calls.list", limit)

    def update(self, call_id: str, *, flow: Flow | str | Path | dict[str, Any] | None = None,
               redirect_url: str | None = None) -> Call:
        """Move a live call to a new flow (or to the document at ``redirect_url``)."""
        updated: Call | None = self._run(self._ops.update_call(call_id, flow, redirect_url))
        return updated if updated is not None else self.get(call_id)

    def redirect(self, call_id: str, url: str) -> Call:
        return self.update(call_id, redirect_url=url)

    def hangup(self, call_id: str) -> None:
        self._run(self._p.hangup_call(_id("call_id", call_id)))

    def wait(self, call_id: str, *, timeout: float = 600.0, interval: float = 1.0) -> Call:
        """Poll until the call has ended; ``RequestTimeout`` if it has not by ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            call = self.get(call_id)
            if call.finished:
                return call
            if time.monotonic() >= deadline:
                raise RequestTimeout(f"call {call_id} still {call.status} after {timeout} s",
                                     provider=self._p.name, operation="calls.wait")
            time.sleep(interval)


class Recordings(_Sync):
    def list(self, *, call_id: str | None = None, limit: int | None = None,
             page_size: int = DEFAULT_PAGE_SIZE) -> Pager[Recording]:
        size = _page_size(page_size)
        cid = None if call_id is None else _id("call_id", call_id)
        return self._pager(
            lambda c: bind_recordings(self._p.list_recordings(cid, c, size), self.download),
            "recordings.list", limit)

    def get(self, recording_id: str, *, call_id: str | None = None) -> Recording:
        rec: Recording = self._run(self._p.get_recording(_id("recording_id", recording_id),
                                                         call_id))
        return rec.bind(self.download)

    def download(self, recording: Recording | str, dest: Sink, *,
                 call_id: str | None = None) -> Path | None:
        """Stream the media to a directory, a file path or a binary file object.

        Returns the path written (None for a file object). A path gets the whole recording
        or nothing: it is written beside, under a temporary name, and renamed once complete.
        A body that breaks off is taken up where it stopped (``Range``), up to
        ``DOWNLOAD_RESUMES`` times; then ``TransportError`` (see ``_Download``).
        """
        rec = recording if isinstance(recording, Recording) else self.get(recording,
                                                                        call_id=call_id)
        import httpx

        job = _Download(self._p.name, rec, dest, self._p.download_recording(rec))
        op: Operation[httpx.Response] | None = job.op
        error: httpx.HTTPError | None = None
        try:
            while op is not None:
                response: httpx.Response = self._run(op)
                error = None
                try:
                    if job.begin(response):
                        chunks = response.iter_bytes()
                        while True:
                            try:
                                chunk = next(chunks)
                            except StopIteration:
                                break
                            except httpx.HTTPError as exc:  # the body broke off
                                error = exc
                                break
                            job.write(chunk)  # a local write error is the caller's
                        if error is None and job.whole(response):
                            return job.commit()
                finally:
                    response.close()
                op = job.again()
            raise job.give_up(error)
        except BaseException:
            job.discard()
            raise

    def delete(self, recording: Recording | str, *, call_id: str | None = None) -> None:
        rec = recording if isinstance(recording, Recording) else self.get(recording,
                                                                        call_id=call_id)
        self._run(self._p.delete_recording(rec))


class Transcriptions(_Sync):
    def request(self, recording: Recording, *, language: str | None = None
                ) -> Transcription | None:
        """Ask for a transcription; some providers answer later (then None: use ``get``)."""
        result: Transcription | None = self._run(
            self._p.create_transcription(recording, language))
        return result

    def get(self, recording: Recording) -> Transcription:
        result: Transcription = self._run(self._p.get_transcription(recording))
        return result

    def text(self, recording: Recording) -> str | None:
        return self.get(recording).text

    def delete(self, recording: Recording) -> None:
        self._run(self._p.delete_transcription(recording))


class Conferences(_Sync):
    def __init__(self, run: Callable[[Operation[Any]], Any], provider: Provider,
                 download: Callable[..., Any]) -> None:
        super().__init__(run, provider)
        self._download = download

    def list(self, *, limit: int | None = None, page_size: int = DEFAULT_PAGE_SIZE,
             **filters: Any) -> Pager[Conference]:
        parsed, size = ConferenceFilters(**filters), _page_size(page_size)
        return self._pager(lambda c: self._p.list_conferences(parsed, c, size),
                           "conferences.list", limit)

    def get(self, conference_id: str) -> Conference:
        result: Conference = self._run(self._p.get_conference(_id("conference_id",
                                                                  conference_id)))
        return result

    def update(self, conference_id: str, *, status: str = "active",
               redirect_url: str | None = None) -> None:
        params = UpdateConference(status=status, redirect_url=redirect_url)
        self._run(self._p.update_conference(_id("conference_id", conference_id), params))

    def end(self, conference_id: str) -> None:
        self.update(conference_id, status="completed")

    def members(self, conference_id: str, *, limit: int | None = None,
                page_size: int = DEFAULT_PAGE_SIZE) -> Pager[ConferenceMember]:
        cid, size = _id("conference_id", conference_id), _page_size(page_size)
        return self._pager(lambda c: self._p.list_members(cid, c, size),
                           "conferences.members", limit)

    def update_member(self, conference_id: str, call_id: str, *, muted: bool | None = None,
                      on_hold: bool | None = None) -> None:
        params = MemberUpdate(muted=muted, on_hold=on_hold)
        self._run(self._p.update_member(_id("conference_id", conference_id),
                                        _id("call_id", call_id), params))

    def recordings(self, conference_id: str, *, limit: int | None = None,
                   page_size: int = DEFAULT_PAGE_SIZE) -> Pager[Recording]:
        """The conference's own recordings (``rec.download(dest)`` works on each)."""
        cid, size = _id("conference_id", conference_id), _page_size(page_size)
        return self._pager(lambda c: bind_recordings(
            self._p.list_conference_recordings(cid, c, size), self._download),
            "conferences.recordings", limit)


class Flows(_Sync):
    """Flows stored at the provider (MessageBird call flows), where it keeps them."""

    def list(self, *, limit: int | None = None, page_size: int = DEFAULT_PAGE_SIZE
             ) -> Pager[StoredFlow]:
        size = _page_size(page_size)
        return self._pager(lambda c: self._p.list_flows(c, size), "flows.list", limit)

    def get(self, flow_id: str) -> StoredFlow:
        result: StoredFlow = self._run(self._p.get_flow(_id("flow_id", flow_id)))
        return result

    def create(self, flow: Flow | str | Path | dict[str, Any], *, name: str | None = None
               ) -> StoredFlow:
        result: StoredFlow = self._run(self._ops.create_flow(flow, name))
        return result

    def delete(self, flow_id: str) -> None:
        self._run(self._p.delete_flow(_id("flow_id", flow_id)))


class Webhooks(_Sync):
    """Webhook subscriptions, where the provider has them."""

    def list(self, *, limit: int | None = None, page_size: int = DEFAULT_PAGE_SIZE
             ) -> Pager[WebhookSubscription]:
        size = _page_size(page_size)
        return self._pager(lambda c: self._p.list_webhooks(c, size), "webhooks.list", limit)

    def create(self, url: str, *, events: Sequence[str] | None = None) -> WebhookSubscription:
        result: WebhookSubscription = self._run(self._ops.create_webhook(url, events))
        return result

    def delete(self, webhook_id: str) -> None:
        self._run(self._p.delete_webhook(_id("webhook_id", webhook_id)))


# Async -------------------------------------------------------------------------------


class _Async:
    def __init__(self, run: Callable[[Operation[Any]], Awaitable[Any]],
                 provider: Provider, host: FlowHost | None = None) -> None:
        self._run = run
        self._ops = _Ops(provider, host)
        self._p = provider

    def _pager(self, fetch: Callable[[str | None], Operation[Page[T]]], name: str,
               limit: int | None) -> AsyncPager[T]:
        async def page(cursor: str | None) -> Page[T]:
            result: Page[T] = await self._run(fetch(cursor))
            return result

        return AsyncPager(page, provider=self._p.name, operation=name, limit=_limit(limit))


class AsyncCalls(_Async):
    async def create(self, to: str, from_: str | None = None, *,
                     flow: Flow | str | Path | dict[str, Any] | None = None,
                     answer_url: str | None = None, ring_timeout: float | None = None,
                     max_duration: float | None = None, machine_detection: bool | None = None,
                     record: bool | None = None, callback_url: str | None = None,
                     tag: str | None = None) -> Call:
        op = self._ops.create_call(
            to, from_, flow, answer_url=answer_url, ring_timeout=ring_timeout,
            max_duration=max_duration, machine_detection=machine_detection, record=record,
            callback_url=callback_url, tag=tag)
        result: Call = await self._run(op)
        return result

    async def get(self, call_id: str) -> Call:
        result: Call = await self._run(self._p.get_call(_id("call_id", call_id)))
        return result

    async def find_created(self, to: str, from_: str | None = None, *, tag: str,
                           flow: Flow | str | Path | dict[str, Any] | None = None,
                           answer_url: str | None = None, since: datetime | None = None
                           ) -> Call | None:
        found: Call | None = await self._run(
            self._ops.find_created(to, from_, flow, answer_url, tag, since))
        return found

    def list(self, *, limit: int | None = None, page_size: int = DEFAULT_PAGE_SIZE,
             **filters: Any) -> AsyncPager[Call]:
        return self._pager(self._ops.list_calls(page_size, filters), "calls.list", limit)

    async def update(self, call_id: str, *,
                     flow: Flow | str | Path | dict[str, Any] | None = None,
                     redirect_url: str | None = None) -> Call:
        updated: Call | None = await self._run(
            self._ops.update_call(call_id, flow, redirect_url))
        return updated if updated is not None else await self.get(call_id)

    async def redirect(self, call_id: str, url: str) -> Call:
        return await self.update(call_id, redirect_url=url)

    async def hangup(self, call_id: str) -> None:
        await self._run(self._p.hangup_call(_id("call_id", call_id)))

    async def wait(self, call_id: str, *, timeout: float = 600.0, interval: float = 1.0
                   ) -> Call:
        deadline = time.monotonic() + timeout
        while True:
            call = await self.get(call_id)
            if call.finished:
                return call
            if time.monotonic() >= deadline:
                raise RequestTimeout(f"call {call_id} still {call.status} after {timeout} s",
                                     provider=self._p.name, operation="calls.wait")
            await asyncio.sleep(interval)


class AsyncRecordings(_Async):
    def list(self, *, call_id: str | None = None, limit: int | None = None,
             page_size: int = DEFAULT_PAGE_SIZE) -> AsyncPager[Recording]:
        size = _page_size(page_size)
        cid = None if call_id is None else _id("call_id", call_id)
        return self._pager(
            lambda c: bind_recordings(self._p.list_recordings(cid, c, size), self.download),
            "recordings.list", limit)

    async def get(self, recording_id: str, *, call_id: str | None = None) -> Recording:
        result: Recording = await self._run(
            self._p.get_recording(_id("recording_id", recording_id), call_id))
        return result.bind(self.download)

    async def download(self, recording: Recording | str, dest: Sink, *,
                       call_id: str | None = None) -> Path | None:
        rec = recording if isinstance(recording, Recording) else await self.get(
            recording, call_id=call_id)
        import httpx

        job = _Download(self._p.name, rec, dest, self._p.download_recording(rec))
        op: Operation[httpx.Response] | None = job.op
        error: BaseException | None = None
        try:
            while op is not None:
                response: httpx.Response = await self._run(op)
                error = None
                try:
                    if job.begin(response):
                        chunks: AsyncIterator[bytes] = response.aiter_bytes()
                        while True:
                            try:
                                chunk = await anext(chunks)
                            except StopAsyncIteration:
                                break
                            except (httpx.HTTPError, TimeoutError) as exc:  # broke off
                                error = exc
                                break
                            job.write(chunk)  # a local write error is the caller's
                        if error is None and job.whole(response):
                            return job.commit()
                finally:
                    await response.aclose()
                op = job.again()
            raise job.give_up(error)
        except BaseException:
            job.discard()
            raise

    async def delete(self, recording: Recording | str, *, call_id: str | None = None) -> None:
        rec = recording if isinstance(recording, Recording) else await self.get(
            recording, call_id=call_id)
        await self._run(self._p.delete_recording(rec))


class AsyncTranscriptions(_Async):
    async def request(self, recording: Recording, *, language: str | None = None
                      ) -> Transcription | None:
        result: Transcription | None = await self._run(
            self._p.create_transcription(recording, language))
        return result

    async def get(self, recording: Recording) -> Transcription:
        result: Transcription = await self._run(self._p.get_transcription(recording))
        return result

    async def text(self, recording: Recording) -> str | None:
        return (await self.get(recording)).text

    async def delete(self, recording: Recording) -> None:
        await self._run(self._p.delete_transcription(recording))


class AsyncConferences(_Async):
    def __init__(self, run: Callable[[Operation[Any]], Awaitable[Any]], provider: Provider,
                 download: Callable[..., Any]) -> None:
        super().__init__(run, provider)
        self._download = download

    def list(self, *, limit: int | None = None, page_size: int = DEFAULT_PAGE_SIZE,
             **filters: Any) -> AsyncPager[Conference]:
        parsed, size = ConferenceFilters(**filters), _page_size(page_size)
        return self._pager(lambda c: self._p.list_conferences(parsed, c, size),
                           "conferences.list", limit)

    async def get(self, conference_id: str) -> Conference:
        result: Conference = await self._run(
            self._p.get_conference(_id("conference_id", conference_id)))
        return result

    async def update(self, conference_id: str, *, status: str = "active",
                     redirect_url: str | None = None) -> None:
        params = UpdateConference(status=status, redirect_url=redirect_url)
        await self._run(self._p.update_conference(_id("conference_id", conference_id),
                                                  params))

    async def end(self, conference_id: str) -> None:
        await self.update(conference_id, status="completed")

    def members(self, conference_id: str, *, limit: int | None = None,
                page_size: int = DEFAULT_PAGE_SIZE) -> AsyncPager[ConferenceMember]:
        cid, size = _id("conference_id", conference_id), _page_size(page_size)
        return self._pager(lambda c: self._p.list_members(cid, c, size),
                           "conferences.members", limit)

    async def update_member(self, conference_id: str, call_id: str, *,
                            muted: bool | None = None, on_hold: bool | None = None) -> None:
        params = MemberUpdate(muted=muted, on_hold=on_hold)
        await self._run(self._p.update_member(_id("conference_id", conference_id),
                                              _id("call_id", call_id), params))

    def recordings(self, conference_id: str, *, limit: int | None = None,
                   page_size: int = DEFAULT_PAGE_SIZE) -> AsyncPager[Recording]:
        """The conference's own recordings (``await rec.download(dest)`` works on each)."""
        cid, size = _id("conference_id", conference_id), _page_size(page_size)
        return self._pager(lambda c: bind_recordings(
            self._p.list_conference_recordings(cid, c, size), self._download),
            "conferences.recordings", limit)


class AsyncFlows(_Async):
    def list(self, *, limit: int | None = None, page_size: int = DEFAULT_PAGE_SIZE
             ) -> AsyncPager[StoredFlow]:
        size = _page_size(page_size)
        return self._pager(lambda c: self._p.list_flows(c, size), "flows.list", limit)

    async def get(self, flow_id: str) -> StoredFlow:
        result: StoredFlow = await self._run(self._p.get_flow(_id("flow_id", flow_id)))
        return result

    async def create(self, flow: Flow | str | Path | dict[str, Any], *,
                     name: str | None = None) -> StoredFlow:
        result: StoredFlow = await self._run(self._ops.create_flow(flow, name))
        return result

    async def delete(self, flow_id: str) -> None:
        await self._run(self._p.delete_flow(_id("flow_id", flow_id)))


class AsyncWebhooks(_Async):
    def list(self, *, limit: int | None = None, page_size: int = DEFAULT_PAGE_SIZE
             ) -> AsyncPager[WebhookSubscription]:
        size = _page_size(page_size)
        return self._pager(lambda c: self._p.list_webhooks(c, size), "webhooks.list", limit)

    async def create(self, url: str, *, events: Sequence[str] | None = None
                     ) -> WebhookSubscription:
        result: WebhookSubscription = await self._run(self._ops.create_webhook(url, events))
        return result

    async def delete(self, webhook_id: str) -> None:
        await self._run(self._p.delete_webhook(_id("webhook_id", webhook_id)))
