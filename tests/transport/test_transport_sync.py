"""``univoice.Voice`` (sync, httpx) against a real local server with injected faults."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import unquote_plus

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import univoice
from tests.support.fake_provider import FakeProvider, FakeProviderNoReconcile
from tests.support.fault_server import FaultServer
from tests.transport.conftest import ANSWER, FROM, TO, Observed, http, http_date
from univoice.errors import (
    AmbiguousCreate,
    AuthenticationError,
    ConnectFailed,
    InvalidRequest,
    NotFound,
    ProviderError,
    RateLimited,
    RequestTimeout,
    ServerError,
    TransportError,
    UnivoiceError,
)
from univoice.models import Call, CallStatus
from univoice.resources import Calls
from univoice.transport import Hooks, HttpSettings, SyncTransport


@dataclass
class Client:
    """``voice.calls`` over a transport whose sleeps are recorded, not slept."""

    calls: Calls
    sleeps: list[float]


@contextmanager
def recording(provider: FakeProvider, settings: HttpSettings | None = None,
              hooks: Hooks | None = None) -> Iterator[Client]:
    sleeps: list[float] = []
    transport = SyncTransport(provider, settings or http(), hooks=hooks, sleep=sleeps.append)
    try:
        yield Client(Calls(transport.run, provider), sleeps)
    finally:
        transport.close()


def voice(provider: FakeProvider, settings: HttpSettings | None = None,
          hooks: Hooks | None = None) -> univoice.Voice:
    return univoice.Voice(provider, http=settings or http(), hooks=hooks)


def create(v: univoice.Voice | Client, **options: str) -> Call:
    return v.calls.create(TO, FROM, answer_url=ANSWER, **options)


# Success ------------------------------------------------------------------------------


def test_create_get_and_list_succeed(server: FaultServer, provider: FakeProvider) -> None:
    with voice(provider) as v:
        call = create(v, tag="t-1")
        assert (call.id, call.tag, call.to, call.from_) == ("c-1", "t-1", TO, FROM)
        assert call.status is CallStatus.QUEUED
        assert call.status_raw == "queued"
        assert call.provider == "fake"
        assert call.raw["id"] == "c-1"
        assert v.calls.get("c-1") == call
        assert [c.id for c in v.calls.list(tag="t-1")] == ["c-1"]
    assert server.created == 1
    [post] = server.seen("POST", "/calls")
    assert post.headers["authorization"] == f"Bearer {server.token}"
    assert post.json() == {"to": TO, "from": FROM, "tag": "t-1", "answer_url": ANSWER}
    assert [r.route for r in server.requests] == ["POST /calls", "GET /calls/c-1", "GET /calls"]


def test_create_generates_a_tag_and_sends_the_compiled_flow(server: FaultServer,
                                                             provider: FakeProvider) -> None:
    flow = {"steps": [{"say": {"text": "hello"}}]}
    with voice(provider) as v:
        call = v.calls.create(TO, FROM, flow=flow)
    assert call.tag is not None
    assert call.tag.startswith("uv-")
    [post] = server.seen("POST", "/calls")
    assert post.json()["flow"] == flow
    assert post.json()["tag"] == call.tag


@pytest.mark.parametrize(("word", "status"), [("in-progress", CallStatus.IN_PROGRESS),
                                              ("completed", CallStatus.COMPLETED),
                                              ("teleporting", CallStatus.UNKNOWN)])
def test_status_words_map_and_unknown_ones_are_kept(server: FaultServer, provider: FakeProvider,
                                                    word: str, status: CallStatus) -> None:
    [cid] = server.seed(status=word)
    with voice(provider) as v:
        call = v.calls.get(cid)
    assert call.status is status
    assert call.status_raw == word


# Retries ------------------------------------------------------------------------------


def test_503_then_success_is_retried_and_observed(server: FaultServer, provider: FakeProvider,
                                                  observed: Observed) -> None:
    [cid] = server.seed()
    server.inject("GET /calls/*", "status:503")
    with voice(provider, hooks=observed.hooks()) as v:
        assert v.calls.get(cid).id == cid
    assert len(server.seen("GET")) == 2
    [(operation, attempt, delay, error)] = observed.retries
    assert (operation, attempt, delay) == ("calls.get", 1, 0.0)
    assert isinstance(error, ServerError)
    assert error.status == 503
    [seen] = observed.plugin_retries
    assert seen == {"provider": "fake", "operation": "calls.get", "attempt": 1, "delay": 0.0,
                    "error": error}
    assert [response.status_code for _, response in observed.responses] == [503, 200]
    assert len(observed.requests) == 2


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize("retry_after", ["7", "0.25", "0"])
def test_retry_after_is_honoured_exactly(server: FaultServer, provider: FakeProvider,
                                         status: int, retry_after: str) -> None:
    [cid] = server.seed()
    server.inject("GET /calls/*", f"status:{status}:{retry_after}")
    with recording(provider) as client:
        assert client.calls.get(cid).id == cid
    assert client.sleeps == [float(retry_after)]


def test_backoff_is_slept_without_retry_after(server: FaultServer,
                                              provider: FakeProvider) -> None:
    [cid] = server.seed()
    server.inject("GET /calls/*", "status:502", "status:504")
    policy = univoice.RetryPolicy(max_attempts=3, backoff=1.0, jitter=lambda: 1.0)
    with recording(provider, HttpSettings(retry=policy)) as client:
        assert client.calls.get(cid).id == cid
    assert client.sleeps == [1.0, 2.0]


def test_429_retry_after_above_the_maximum_raises_rate_limited(server: FaultServer,
                                                               provider: FakeProvider) -> None:
    server.inject("GET /calls/*", "status:429:120")
    with recording(provider, http(max_retry_after=60)) as client, \
            pytest.raises(RateLimited) as info:
        client.calls.get("c-1")
    assert info.value.retry_after == 120.0
    assert info.value.status == 429
    assert client.sleeps == []
    assert len(server.seen("GET")) == 1


def test_429_exhausted_raises_rate_limited_with_retry_after(server: FaultServer,
                                                            provider: FakeProvider) -> None:
    server.inject("GET /calls/*", "status:429:0", "status:429:0", "status:429:2")
    with recording(provider) as client, pytest.raises(RateLimited) as info:
        client.calls.get("c-1")
    assert info.value.retry_after == 2.0
    assert client.sleeps == [0.0, 0.0]
    assert len(server.seen("GET")) == 3


def test_503_retry_after_above_the_maximum_raises_rate_limited(server: FaultServer,
                                                               provider: FakeProvider) -> None:
    server.inject("GET /calls/*", "status:503:600")
    with recording(provider) as client, pytest.raises(RateLimited) as info:
        client.calls.get("c-1")
    assert info.value.retry_after == 600.0


def test_retry_after_as_an_http_date(server: FaultServer, provider: FakeProvider,
                                     frozen_now: datetime) -> None:
    [cid] = server.seed()
    server.inject("GET /calls/*", f"status:429:{http_date(frozen_now + timedelta(seconds=42))}",
                  f"status:503:{http_date(frozen_now - timedelta(hours=1))}")
    with recording(provider) as client:
        assert client.calls.get(cid).id == cid
    assert client.sleeps == [42.0, 0.0]


def test_retries_exhausted_on_500_raise_server_error_with_details(
        server: FaultServer, provider: FakeProvider, observed: Observed) -> None:
    server.inject("GET /calls/*", "status:500", "status:500", "status:500")
    with voice(provider, hooks=observed.hooks()) as v, pytest.raises(ServerError) as info:
        v.calls.get("c-1")
    error = info.value
    assert (error.status, error.code, error.provider_message) == (500, "E500", "injected 500")
    assert error.request_id == server.requests[-1].request_id
    assert error.raw == {"message": "injected 500", "code": "E500"}
    assert (error.provider, error.operation) == ("fake", "calls.get")
    assert str(error) == (f"fake calls.get HTTP 500 code E500: injected 500 "
                          f"(request id {error.request_id})")
    assert len(server.seen("GET")) == 3
    assert [r[1] for r in observed.retries] == [1, 2]
    assert server.pending == []


# Errors that are not retried ----------------------------------------------------------


def test_wrong_token_raises_authentication_error(server: FaultServer) -> None:
    wrong = FakeProvider(base_url=server.base_url, token="sk_test_wrong_wrong_wrong")
    with voice(wrong) as v, pytest.raises(AuthenticationError) as info:
        v.calls.get("c-1")
    assert info.value.status == 401
    assert info.value.provider_message == "bad credentials"
    assert len(server.requests) == 1


def test_403_raises_authentication_error(server: FaultServer, provider: FakeProvider) -> None:
    server.inject("GET /calls/*", "status:403")
    with voice(provider) as v, pytest.raises(AuthenticationError):
        v.calls.get("c-1")


def test_404_raises_not_found(server: FaultServer, provider: FakeProvider) -> None:
    with voice(provider) as v, pytest.raises(NotFound) as info:
        v.calls.get("c-404")
    error = info.value
    assert (error.status, error.code, error.provider_message) == (404, "not_found",
                                                                  "no such call")
    assert error.raw == {"message": "no such call", "code": "not_found"}
    assert len(server.requests) == 1


@pytest.mark.parametrize("status", [400, 405, 409, 413, 415, 422])
def test_refused_requests_raise_invalid_request(server: FaultServer, provider: FakeProvider,
                                                status: int) -> None:
    server.inject("POST /calls", f"status:{status}")
    with voice(provider) as v, pytest.raises(InvalidRequest) as info:
        create(v)
    assert info.value.status == status
    assert info.value.code == f"E{status}"
    assert server.posts == 1
    assert server.lookups() == []
    assert server.created == 0


# Timeouts and connection failures -----------------------------------------------------


def test_get_timeouts_are_retried_then_raise_request_timeout(server: FaultServer,
                                                             provider: FakeProvider) -> None:
    server.inject("GET /calls/*", "delay_after:3", "delay_after:3", "delay_after:3")
    with voice(provider, http(timeout=0.2)) as v, pytest.raises(RequestTimeout) as info:
        v.calls.get("c-1")
    assert info.value.sent is True
    assert len(server.seen("GET")) == 3


def test_get_timeout_then_success(server: FaultServer, provider: FakeProvider) -> None:
    [cid] = server.seed()
    server.inject("GET /calls/*", "delay:3")
    with voice(provider, http(timeout=0.2)) as v:
        assert v.calls.get(cid).id == cid
    assert len(server.seen("GET")) == 2


def test_get_connection_dropped_then_success(server: FaultServer,
                                             provider: FakeProvider) -> None:
    [cid] = server.seed()
    server.inject("GET /calls/*", "drop")
    with voice(provider) as v:
        assert v.calls.get(cid).id == cid


def test_connect_refused_raises_connect_failed_after_retries(refused: str,
                                                             observed: Observed) -> None:
    nowhere = FakeProvider(base_url=refused, token="sk_test_nowhere_nowhere")
    with voice(nowhere, hooks=observed.hooks()) as v, pytest.raises(ConnectFailed) as info:
        v.calls.get("c-1")
    assert info.value.sent is False
    assert [(r[0], r[1]) for r in observed.retries] == [("calls.get", 1), ("calls.get", 2)]


def test_create_on_a_refused_connection_is_retried(refused: str, observed: Observed) -> None:
    """Never sent, so a create is repeated at once, with no lookup (that would fail too)."""
    nowhere = FakeProvider(base_url=refused, token="sk_test_nowhere_nowhere")
    with voice(nowhere, hooks=observed.hooks()) as v, pytest.raises(ConnectFailed):
        create(v)
    assert [(r[0], r[1]) for r in observed.retries] == [("calls.create", 1),
                                                        ("calls.create", 2)]
    assert len(observed.requests) == 3
    assert {str(r.url.path) for r in observed.requests} == {"/calls"}


# Never a duplicate call ---------------------------------------------------------------


def test_create_answer_lost_after_processing_is_reconciled(server: FaultServer,
                                                           provider: FakeProvider) -> None:
    server.inject("POST /calls", "drop_after")
    with voice(provider) as v:
        call = create(v, tag="once")
    assert server.created == 1
    assert server.posts == 1
    assert call.id == server.calls[0]["id"]
    assert call.tag == "once"
    assert [r.query["tag"] for r in server.lookups()] == ["once"]


def test_create_with_a_generated_tag_is_reconciled_by_it(server: FaultServer,
                                                         provider: FakeProvider) -> None:
    server.inject("POST /calls", "drop_after")
    with voice(provider) as v:
        call = create(v)
    assert call.tag is not None
    assert call.tag.startswith("uv-")
    assert [r.query["tag"] for r in server.lookups()] == [call.tag]
    assert server.created == 1
    assert server.posts == 1


def test_create_dropped_before_processing_is_created_once(server: FaultServer,
                                                          provider: FakeProvider) -> None:
    server.inject("POST /calls", "drop")
    with voice(provider) as v:
        call = create(v, tag="dropped")
    assert server.created == 1
    assert server.posts == 2
    assert len(server.lookups()) == 2  # no answer: looked up again after the settle window
    assert call.id == server.calls[0]["id"]


def test_create_read_timeout_is_reconciled_to_the_same_call(server: FaultServer,
                                                            provider: FakeProvider) -> None:
    server.inject("POST /calls", "delay_after:3")
    with voice(provider, http(timeout=0.2)) as v:
        call = create(v, tag="slow")
    assert server.created == 1
    assert server.posts == 1
    assert call.id == "c-1"
    assert call.id == server.calls[0]["id"]


@pytest.mark.parametrize("fault", ["status:500", "status:503", "html:502", "status:504"])
def test_create_5xx_unprocessed_is_looked_up_then_repeated(server: FaultServer,
                                                           provider: FakeProvider,
                                                           fault: str) -> None:
    server.inject("POST /calls", fault)
    with voice(provider) as v:
        call = create(v, tag="five")
    assert server.created == 1
    assert server.posts == 2
    assert len(server.lookups()) == 1
    assert call.id == server.calls[0]["id"]


def test_create_5xx_after_processing_is_reconciled(server: FaultServer,
                                                   provider: FakeProvider) -> None:
    server.inject("POST /calls", "status_after:500")
    with voice(provider) as v:
        call = create(v, tag="made")
    assert server.created == 1
    assert server.posts == 1
    assert len(server.lookups()) == 1
    assert call.id == server.calls[0]["id"]


def test_create_503_retry_after_reconciles_then_waits(server: FaultServer,
                                                      provider: FakeProvider) -> None:
    server.inject("POST /calls", "status:503:4")
    with recording(provider) as client:
        create(client, tag="later")
    assert client.sleeps == [4.0]
    assert server.created == 1
    assert server.posts == 2
    assert len(server.lookups()) == 1


def test_create_429_is_retried_without_reconciling(server: FaultServer,
                                                   provider: FakeProvider) -> None:
    server.inject("POST /calls", "status:429:0")
    with recording(provider) as client:
        call = create(client, tag="refused")
    assert client.sleeps == [0.0]
    assert server.created == 1
    assert server.posts == 2
    assert server.lookups() == []
    assert call.id == server.calls[0]["id"]


def test_create_without_reconcile_raises_ambiguous_create(server: FaultServer) -> None:
    provider = FakeProviderNoReconcile(base_url=server.base_url, token=server.token)
    server.inject("POST /calls", "drop_after")
    with voice(provider) as v, pytest.raises(AmbiguousCreate) as info:
        create(v, tag="maybe")
    assert info.value.tag == "maybe"
    assert info.value.sent is True
    assert info.value.operation == "calls.create"
    assert server.created == 1
    assert server.posts == 1
    assert server.lookups() == []


def test_create_without_reconcile_on_500_raises_ambiguous_create(server: FaultServer) -> None:
    provider = FakeProviderNoReconcile(base_url=server.base_url, token=server.token)
    server.inject("POST /calls", "status:500")
    with voice(provider) as v, pytest.raises(AmbiguousCreate) as info:
        create(v, tag="maybe")
    assert info.value.tag == "maybe"
    assert "HTTP 500" in str(info.value)
    assert server.posts == 1


def test_create_without_reconcile_is_still_retried_on_429(server: FaultServer) -> None:
    provider = FakeProviderNoReconcile(base_url=server.base_url, token=server.token)
    server.inject("POST /calls", "status:429:0")
    with voice(provider) as v:
        create(v, tag="fine")
    assert server.created == 1
    assert server.posts == 2


def test_create_whose_lookup_fails_raises_ambiguous_create(server: FaultServer,
                                                           provider: FakeProvider) -> None:
    server.inject("POST /calls", "drop_after")
    server.inject("GET /calls", "status:500", "status:500", "status:500")
    with voice(provider) as v, pytest.raises(AmbiguousCreate) as info:
        create(v, tag="lost")
    assert info.value.tag == "lost"
    assert "looking it up failed" in str(info.value)
    assert server.created == 1
    assert server.posts == 1
    assert len(server.lookups()) == 3


def test_create_whose_lookup_is_malformed_raises_ambiguous_create(
        server: FaultServer, provider: FakeProvider) -> None:
    server.inject("POST /calls", "drop_after")
    server.inject("GET /calls", "truncated")
    with voice(provider) as v, pytest.raises(AmbiguousCreate):
        create(v, tag="lost")
    assert server.created == 1
    assert server.posts == 1


def test_create_ambiguous_twice_is_still_created_once(server: FaultServer,
                                                      provider: FakeProvider) -> None:
    server.inject("POST /calls", "drop", "status:502")
    with voice(provider) as v:
        call = create(v, tag="twice")
    assert server.created == 1
    assert server.posts == 3
    assert len(server.lookups()) == 3  # two for the lost answer, one for the 502
    assert call.id == server.calls[0]["id"]


def test_create_timeout_while_the_provider_is_still_working_is_not_repeated(
        server: FaultServer, provider: FakeProvider) -> None:
    server.inject("POST /calls", "delay:1.0")
    # The settle window covers the time the provider goes on working after the timeout.
    with voice(provider, http(timeout=0.2, settle=1.5)) as v:
        call = create(v, tag="in-flight")
    server.wait_idle()
    assert server.created == 1
    assert call.tag == "in-flight"
    assert len(server.lookups()) == 2  # empty at first, found after the settle window


# Malformed answers --------------------------------------------------------------------


def test_html_error_page_raises_server_error_keeping_the_html(server: FaultServer,
                                                              provider: FakeProvider) -> None:
    server.inject("GET /calls/*", "html:502", "html:502", "html:502")
    with voice(provider) as v, pytest.raises(ServerError) as info:
        v.calls.get("c-1")
    error = info.value
    assert error.status == 502
    assert error.provider_message == "Bad Gateway"
    assert isinstance(error.raw, str)
    assert error.raw.startswith("<html>")
    assert "<h1>502 Bad Gateway</h1>" in error.raw


@pytest.mark.parametrize("fault", ["truncated", "missing_fields"])
def test_malformed_200_raises_provider_error_keeping_the_body(server: FaultServer,
                                                              provider: FakeProvider,
                                                              fault: str) -> None:
    [cid] = server.seed(tag="x")
    server.inject("GET /calls/*", fault)
    with voice(provider) as v, pytest.raises(ProviderError) as info:
        v.calls.get(cid)
    error = info.value
    assert type(error) is ProviderError
    assert error.status == 200
    assert error.operation == "calls.get"
    assert "unexpected response" in str(error)
    assert isinstance(error.raw, str)
    if fault == "missing_fields":
        assert json.loads(error.raw) == {"to": TO, "from": FROM, "tag": "x", "status": "queued"}
    else:  # the body as received: a cut-off prefix of the call's JSON
        assert len(error.raw) > 10
        assert json.dumps(server.calls[0]).startswith(error.raw)
    assert len(server.seen("GET")) == 1  # an answer, not a failure: not retried


@pytest.mark.parametrize("fault", ["truncated", "missing_fields"])
def test_malformed_list_page_raises_provider_error(server: FaultServer, provider: FakeProvider,
                                                   fault: str) -> None:
    server.seed(3, tag="m")
    server.inject("GET /calls", fault)
    with voice(provider) as v, pytest.raises(ProviderError) as info:
        list(v.calls.list(tag="m"))
    assert type(info.value) is ProviderError
    assert info.value.raw


def test_malformed_create_answer_is_not_repeated(server: FaultServer,
                                                 provider: FakeProvider) -> None:
    server.inject("POST /calls", "missing_fields")
    with voice(provider) as v:
        call = create(v, tag="odd")  # accepted, answer unreadable: found by its tag
    assert call.tag == "odd"
    assert server.created == 1
    assert server.posts == 1



# Paging -------------------------------------------------------------------------------


def test_list_fetches_only_the_pages_it_needs(server: FaultServer,
                                              provider: FakeProvider) -> None:
    server.seed(5, tag="p")
    server.seed(2, tag="other")
    with voice(provider) as v:
        pager = v.calls.list(tag="p", limit=3)
        assert server.requests == []  # lazy: nothing before the first item is asked for
        items = iter(pager)
        first = next(items)
        assert [r.query.get("cursor") for r in server.requests] == [None]
        calls = [first, *items]
    assert [c.id for c in calls] == ["c-1", "c-2", "c-3"]
    assert [r.query.get("cursor") for r in server.requests] == [None, "2"]
    assert {r.query["tag"] for r in server.requests} == {"p"}


def test_list_without_limit_walks_every_page(server: FaultServer,
                                             provider: FakeProvider) -> None:
    server.seed(5, tag="p")
    with voice(provider) as v:
        assert [c.id for c in v.calls.list(tag="p")] == ["c-1", "c-2", "c-3", "c-4", "c-5"]
        assert list(v.calls.list(tag="nothing")) == []
        assert list(v.calls.list(tag="p", limit=0)) == []
    cursors = [r.query.get("cursor") for r in server.requests]
    assert cursors == [None, "2", "4", None]


def test_list_pages_are_retried_in_the_middle(server: FaultServer,
                                              provider: FakeProvider) -> None:
    server.seed(3, tag="p")
    with voice(provider) as v:
        pager = iter(v.calls.list(tag="p"))
        assert next(pager).id == "c-1"
        server.inject("GET /calls", "status:503")
        assert [c.id for c in pager] == ["c-2", "c-3"]
    assert [r.query.get("cursor") for r in server.requests] == [None, "2", "2"]


def test_a_cursor_returned_twice_raises_provider_error(server: FaultServer,
                                                       provider: FakeProvider) -> None:
    server.seed(6, tag="loop")
    server.inject("GET /calls", "cursor:2", "cursor:2")
    seen: list[str] = []
    with voice(provider) as v, pytest.raises(ProviderError, match="already returned"):
        seen.extend(c.id for c in v.calls.list(tag="loop"))
    assert seen == ["c-1", "c-2", "c-3", "c-4"]
    assert len(server.requests) == 2


# Redaction ----------------------------------------------------------------------------


def _pieces(token: str, size: int = 12) -> set[str]:
    """Every 12-character piece of the token: a shortened repr still leaks those."""
    return {token[i:i + size] for i in range(len(token) - size + 1)}


def _assert_clean(token: str, *texts: object) -> None:
    pieces = _pieces(token)
    for text in map(str, texts):
        assert not [p for p in pieces if p in text], f"the token leaked into: {text!r}"


def _error_views(error: BaseException) -> list[object]:
    views: list[object] = [str(error), repr(error), error.args, repr(error.__cause__),
                           repr(error.__context__)]
    for name in ("raw", "provider_message", "code", "request_id", "tag"):
        views.append(repr(getattr(error, name, None)))
    return views


def test_the_token_is_redacted_from_request_hooks(server: FaultServer,
                                                  provider: FakeProvider) -> None:
    """The token planted in the body, the URL (a tag) and the auth header of a retry."""
    token = server.token
    shown: list[tuple[str, dict[str, str], bytes]] = []
    hooks = Hooks(request=[lambda r: shown.append((str(r.url), dict(r.headers), r.content))])
    server.inject("POST /calls", "drop")  # lookup (tag in the URL), then the POST again
    with voice(provider, hooks=hooks) as v:
        create(v, tag=f"leak-{token}")
    assert [r.route for r in server.requests] == ["POST /calls", "GET /calls", "GET /calls",
                                                  "POST /calls"]
    assert server.requests[-1].headers["authorization"] == f"Bearer {token}"
    assert len(shown) == 4
    for url, headers, body in shown:
        _assert_clean(token, url, headers, body.decode())
    assert shown[3][1]["authorization"] == "***"  # the retried request carries it, masked
    assert "leak-***" in shown[1][0]
    assert b"leak-***" in shown[0][2]


def test_a_token_with_url_special_characters_is_redacted_from_request_hooks() -> None:
    token = "pw/9f4c2d7e+8b1a6053=c9e4&d2b7a8f1"
    shown: list[str] = []
    hooks = Hooks(request=[lambda r: shown.append(str(r.url))])
    with FaultServer(token=token) as srv, voice(
            FakeProvider(base_url=srv.base_url, token=token), hooks=hooks) as v:
        srv.inject("POST /calls", "drop_after")
        create(v, tag=f"leak-{token}")
        assert srv.lookups()[0].query["tag"] == f"leak-{token}"
    assert len(shown) == 2
    _assert_clean(token, *(unquote_plus(url) for url in shown))  # the URL as it is read


def test_the_token_is_redacted_from_errors_reprs_and_logs(
        server: FaultServer, provider: FakeProvider, refused: str,
        caplog: pytest.LogCaptureFixture) -> None:
    """The server echoes the Authorization header it got into every error body."""
    caplog.set_level(logging.DEBUG)
    server.echo_auth = True
    token = server.token
    [cid] = server.seed(tag="r")
    errors: list[UnivoiceError] = []
    scenarios = [
        ("GET /calls/*", ["status:500"] * 3),
        ("GET /calls/*", ["html:502"] * 3),
        ("GET /calls/*", ["status:401"]),
        ("GET /calls/*", ["status:422"]),
        ("GET /calls/*", ["status:429:3600"]),
        ("GET /calls/*", ["missing_fields"]),
    ]
    with voice(provider) as v:
        for pattern, faults in scenarios:
            server.inject(pattern, *faults)
            with pytest.raises(UnivoiceError) as info:
                v.calls.get(cid)
            errors.append(info.value)
        server.inject("POST /calls", "drop_after")
        server.inject("GET /calls", "status:500", "status:500", "status:500")
        with pytest.raises(AmbiguousCreate) as ambiguous:
            create(v)
        errors.append(ambiguous.value)
        _assert_clean(token, repr(v), repr(v.provider), repr(v.provider.settings),
                      v.provider.settings)
    assert server.pending == []
    echoed = [e for e in errors if isinstance(e, ProviderError) and "***" in repr(e.raw)]
    assert len(echoed) == 6  # the echo was there, and masked
    nowhere = FakeProvider(base_url=refused, token=token)
    with voice(nowhere) as v, pytest.raises(TransportError) as failed:
        v.calls.get("c-1")
    errors.append(failed.value)
    for error in errors:
        _assert_clean(token, *_error_views(error))
    assert {"httpx", "univoice.transport"} <= {r.name for r in caplog.records}
    _assert_clean(token, caplog.text,
                  *(f"{r.getMessage()} {r.args!r}" for r in caplog.records))


def test_the_token_is_redacted_from_a_malformed_body(server: FaultServer,
                                                     provider: FakeProvider) -> None:
    server.echo_auth = True
    [cid] = server.seed()
    server.inject("GET /calls/*", "truncated")
    with voice(provider) as v, pytest.raises(ProviderError) as info:
        v.calls.get(cid)
    assert "Bearer" in info.value.raw  # the echo is there
    _assert_clean(server.token, *_error_views(info.value))


def test_no_piece_of_the_token_is_in_a_validation_error(server: FaultServer,
                                                        provider: FakeProvider) -> None:
    [cid] = server.seed()
    server.inject("GET /calls/*", "echo_field:to")  # "to": {"echo": "Bearer <token>"}
    with voice(provider) as v, pytest.raises(ProviderError) as info:
        v.calls.get(cid)
    assert "Input should be a valid string" in str(info.value)
    assert "Bearer ***" in info.value.raw  # the raw body is redacted
    views = " ".join(str(view) for view in _error_views(info.value))
    assert [piece for piece in _pieces(server.token) if piece in views] == []


def test_the_token_is_redacted_from_response_hooks(server: FaultServer,
                                                   provider: FakeProvider) -> None:
    [cid] = server.seed()
    seen: list[str] = []
    hooks = Hooks(response=[lambda req, resp: seen.extend(
        [repr(dict(req.headers)), repr(dict(resp.request.headers))])])
    with voice(provider, hooks=hooks) as v:
        v.calls.get(cid)
    _assert_clean(server.token, *seen)


# The no-duplicate rule, over any mix of faults ----------------------------------------

_CREATE_FAULTS = ["drop", "drop_after", "status:500", "status_after:500", "status:503",
                  "status_after:503", "status:429:0", "html:502", "missing_fields",
                  "truncated"]
_LOOKUP_FAULTS = ["status:500", "drop", "truncated", "status:429:0", "html:503"]


@pytest.fixture(scope="module")
def shared() -> Iterator[tuple[FaultServer, univoice.Voice]]:
    with FaultServer() as srv, voice(FakeProvider(base_url=srv.base_url,
                                                  token=srv.token)) as v:
        yield srv, v


@settings(max_examples=100, deadline=None)
@given(create_faults=st.lists(st.sampled_from(_CREATE_FAULTS), max_size=4),
       lookup_faults=st.lists(st.sampled_from(_LOOKUP_FAULTS), max_size=3))
def test_a_create_never_places_a_second_call(shared: tuple[FaultServer, univoice.Voice],
                                             create_faults: list[str],
                                             lookup_faults: list[str]) -> None:
    server, v = shared
    tag = f"prop-{uuid.uuid4().hex}"
    server.clear_faults()
    server.inject("POST /calls", *create_faults)
    server.inject("GET /calls", *lookup_faults)
    outcome: Call | UnivoiceError
    try:
        outcome = create(v, tag=tag)
    except UnivoiceError as exc:
        outcome = exc
    finally:
        server.clear_faults()
    made = [c["id"] for c in server.calls if c["tag"] == tag]
    if isinstance(outcome, Call):
        assert made == [outcome.id]
    elif isinstance(outcome, AmbiguousCreate):
        assert outcome.tag == tag
        assert len(made) <= 1
    elif isinstance(outcome, ProviderError) and outcome.status == 200:
        assert len(made) == 1  # created, but its answer was malformed
    else:  # any other error: nothing was created, so a retry is safe
        assert isinstance(outcome, (TransportError, ProviderError))
        assert made == []
