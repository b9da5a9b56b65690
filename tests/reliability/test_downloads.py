"""Recording downloads under faults mid-body: resumed, or failed cleanly, never a
truncated file under the final name.

Each provider's fault server serves a recording (its cassette's media header, then 64 KiB
of seeded noise, with ETag and ``Range`` support unless ``ranges`` is off). The first media
request breaks off (the connection closed or reset after part of the body, a body shorter
than its Content-Length, a read timeout mid-body); the client takes the download up again
with ``Range: bytes=<what it has>-`` and ``If-Range``, or from the start where the server
answers 200, and renames its temporary file over the destination only once the body is
whole. When it keeps breaking, a typed ``TransportError`` is raised and the destination
(and its directory) are as they were. Sync (``Voice``) and async (``AsyncVoice`` over
aiohttp, and over httpx's own transport).
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.reliability.harness import PROVIDERS, async_voice, serve, voice
from tests.support.provider_fault_server import ProviderFaultServer, Seen
from univoice.errors import NotFound, RequestTimeout, TransportError
from univoice.resources import DOWNLOAD_RESUMES
from univoice.retry import RetryPolicy
from univoice.transport import Hooks, HttpSettings

pytestmark = pytest.mark.anyio
CLIENTS = ["Voice", "AsyncVoice/aiohttp", "AsyncVoice/httpx"]
TIMEOUT = 0.3  # the client's, where the server stalls mid-body: it costs this much
PATIENT = 5.0  # elsewhere: a busy machine never makes it give up
SUFFIX = {"bandwidth": "wav", "messagebird": "wav", "bird": "mp3"}


@pytest.fixture(scope="module", params=PROVIDERS)
def server(request: pytest.FixtureRequest) -> Iterator[ProviderFaultServer]:
    with serve(str(request.param)) as srv:
        yield srv


@pytest.fixture(autouse=True)
def clean(server: ProviderFaultServer) -> Iterator[None]:
    server.app.reset_state()
    yield
    server.app.ranges = True


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=CLIENTS)
def client(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def settings(backend: str = "aiohttp", timeout: float = PATIENT) -> HttpSettings:
    return HttpSettings(timeout=timeout, connect_timeout=timeout, async_backend=backend,
                        retry=RetryPolicy(backoff=0.0, settle=0.0))


async def download(server: ProviderFaultServer, client: str, rec_id: str, dest: Any,
                   hooks: Hooks | None = None, timeout: float = PATIENT) -> Path | None:
    """``recordings.download(rec_id, dest, call_id=...)`` through the chosen client."""
    call_id = f"c-{rec_id}"
    if client == "Voice":
        with voice(server, settings(timeout=timeout), hooks=hooks) as v:
            return v.recordings.download(rec_id, dest, call_id=call_id)
    backend = client.partition("/")[2]
    async with async_voice(server, settings(backend, timeout), hooks=hooks) as av:
        written: Path | None = await av.recordings.download(rec_id, dest, call_id=call_id)
        return written


def recording(server: ProviderFaultServer) -> str:
    rec_id = server.app.add_recording("pending")
    with server.app._lock:  # its call is named after it, so tests need not place one
        server.app._recordings[rec_id]["call_id"] = f"c-{rec_id}"
    return rec_id


def media_requests(server: ProviderFaultServer) -> list[Seen]:
    return server.app.requests("media")


@pytest.mark.parametrize("fault", ["cut_close:20000", "cut:20000", "short"])
async def test_a_download_that_breaks_off_is_resumed_where_it_stopped(
        server: ProviderFaultServer, client: str, fault: str, tmp_path: Path) -> None:
    rec_id = recording(server)
    server.app.inject("media *", fault)
    written = await download(server, client, rec_id, tmp_path)
    assert written == tmp_path / f"{rec_id}.{SUFFIX[server.provider]}"
    assert written.read_bytes() == server.app.media(rec_id)
    assert list(tmp_path.iterdir()) == [written]  # no temporary file left beside it
    first, again = media_requests(server)
    assert "range" not in first.headers
    start = int(again.headers["range"].removeprefix("bytes=").removesuffix("-"))
    if fault == "cut:20000":  # a reset may lose what the client had not read yet
        assert 0 < start <= 20000
    else:  # a clean close: every byte sent arrived
        assert start == (20000 if fault != "short" else len(server.app.media(rec_id)) // 2)
    assert again.headers["if-range"].startswith('"')  # the first answer's ETag


# A stall is the same on every provider (their media routes share it): one shows it.
@pytest.mark.parametrize("server", ["bandwidth"], indirect=True)
async def test_a_read_timeout_mid_body_is_resumed(
        server: ProviderFaultServer, client: str, tmp_path: Path) -> None:
    rec_id = recording(server)
    server.app.inject("media *", "stall:20000")
    written = await download(server, client, rec_id, tmp_path, timeout=TIMEOUT)
    assert written is not None and written.read_bytes() == server.app.media(rec_id)
    assert list(tmp_path.iterdir()) == [written]
    assert media_requests(server)[1].headers["range"] == "bytes=20000-"


async def test_without_range_support_the_download_starts_over(
        server: ProviderFaultServer, client: str, tmp_path: Path) -> None:
    server.app.ranges = False
    rec_id = recording(server)
    server.app.inject("media *", "cut_close:30000")
    dest = tmp_path / "call.audio"
    assert await download(server, client, rec_id, dest) == dest
    assert dest.read_bytes() == server.app.media(rec_id)
    assert len(media_requests(server)) == 2
    assert list(tmp_path.iterdir()) == [dest]


async def test_a_recording_changed_between_attempts_is_fetched_whole_not_spliced(
        server: ProviderFaultServer, client: str, tmp_path: Path) -> None:
    rec_id = recording(server)
    old = server.app.media(rec_id)
    server.app.inject("media *", "cut_close:25000")

    def changed_after_first_answer(request: httpx.Request, response: httpx.Response) -> None:
        if len(media_requests(server)) == 1 and response.status_code == 200:
            server.app.rerecord(rec_id)

    written = await download(server, client, rec_id, tmp_path,
                             Hooks(response=[changed_after_first_answer]))
    assert written is not None
    new = server.app.media(rec_id)
    assert new != old and written.read_bytes() == new
    assert media_requests(server)[1].headers["range"] == "bytes=25000-"  # asked, refused


async def test_a_download_that_keeps_breaking_fails_typed_and_leaves_the_destination_alone(
        server: ProviderFaultServer, client: str, tmp_path: Path) -> None:
    rec_id = recording(server)
    dest = tmp_path / "kept.wav"
    dest.write_bytes(b"an earlier download")
    server.app.inject("media *", *["cut_close:10000"] * (DOWNLOAD_RESUMES + 1))
    with pytest.raises(TransportError) as info:
        await download(server, client, rec_id, dest)
    assert type(info.value) is TransportError and info.value.sent
    assert "broke off" in str(info.value) and "kept.wav" in str(info.value)
    assert dest.read_bytes() == b"an earlier download"
    assert list(tmp_path.iterdir()) == [dest]
    assert len(media_requests(server)) == DOWNLOAD_RESUMES + 1
    assert server.app.pending == []


@pytest.mark.parametrize("server", ["bandwidth"], indirect=True)
async def test_a_read_timeout_mid_body_at_the_last_attempt_is_a_request_timeout(
        server: ProviderFaultServer, client: str, tmp_path: Path) -> None:
    rec_id = recording(server)
    server.app.inject("media *", *["cut_close:5000"] * DOWNLOAD_RESUMES, "stall:5000")
    with pytest.raises(RequestTimeout):
        await download(server, client, rec_id, tmp_path, timeout=TIMEOUT)
    assert list(tmp_path.iterdir()) == []


async def test_a_file_object_is_resumed_in_place(
        server: ProviderFaultServer, client: str) -> None:
    rec_id = recording(server)
    server.app.inject("media *", "cut_close:12345")
    sink = io.BytesIO(b"header:")
    sink.seek(0, io.SEEK_END)
    assert await download(server, client, rec_id, sink) is None
    assert sink.getvalue() == b"header:" + server.app.media(rec_id)


class _Pipe(io.RawIOBase):
    """A binary sink that cannot seek (a pipe, a socket)."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        self.data += bytes(b)
        return len(b)


async def test_a_sink_that_cannot_rewind_fails_typed_when_the_server_starts_over(
        server: ProviderFaultServer, client: str) -> None:
    server.app.ranges = False
    rec_id = recording(server)
    server.app.inject("media *", "cut_close:12345")
    pipe = _Pipe()
    with pytest.raises(TransportError, match="cannot be rewound"):
        await download(server, client, rec_id, pipe)
    assert bytes(pipe.data) == server.app.media(rec_id)[:12345]


async def test_a_missing_recording_is_not_found_and_writes_nothing(
        server: ProviderFaultServer, client: str, tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        await download(server, client, "r-missing", tmp_path / "x.wav")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("client", ["AsyncVoice/aiohttp", "AsyncVoice/httpx"])
@pytest.mark.parametrize("server", ["bandwidth"], indirect=True)
async def test_a_cancelled_download_leaves_nothing_behind(
        server: ProviderFaultServer, client: str, tmp_path: Path) -> None:
    rec_id = recording(server)
    server.app.inject("media *", "stall:20000")
    task = asyncio.ensure_future(download(server, client, rec_id, tmp_path))
    for _ in range(500):  # until the partial body is being written (5 s at most)
        if any(p.name.endswith(".part") and p.stat().st_size for p in tmp_path.iterdir()):
            break
        await asyncio.sleep(0.01)
    else:
        raise AssertionError("the download never started writing")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert list(tmp_path.iterdir()) == []
