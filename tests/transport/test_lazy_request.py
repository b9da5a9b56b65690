"""``build_request``'s lazy requests and the aiohttp sender's read responses are the httpx
objects they stand for: whatever reads them sees what an eagerly built one would show."""

from __future__ import annotations

import copy
import pickle
import string

import httpx
import pytest
import yarl
from hypothesis import given
from hypothesis import strategies as st

from univoice.aiohttp_sender import read_response
from univoice.operations import LazyRequest, build_request, is_plain_url

BODY = {"to": "+31612345678", "from": "+31201234567", "tag": "ünïcode"}


def eager(method: str, url: str, *, json: object = None,
          params: dict[str, object] | None = None,
          headers: dict[str, str] | None = None) -> httpx.Request:
    """What build_request built before it was lazy."""
    import json as jsonlib

    sent = dict(headers or {})
    content = None
    if json is not None:
        content = jsonlib.dumps(json, separators=(",", ":"), ensure_ascii=False).encode()
        sent.setdefault("content-type", "application/json")
    target = httpx.URL(url)
    if params:
        target = target.copy_merge_params({k: v for k, v in params.items() if v is not None})
    return httpx.Request(method, target, content=content, headers=sent)


def same(lazy: httpx.Request, built: httpx.Request) -> None:
    assert (lazy.method, lazy.url, lazy.headers.raw, lazy.content) == (
        built.method, built.url, built.headers.raw, built.content)
    assert b"".join(lazy.stream) == built.content  # type: ignore[arg-type]


CASES = [
    ("GET", "http://127.0.0.1:8000/calls/c-1", {}),
    ("post", "https://voice.example.com/api/v2/accounts/99/calls", {"json": BODY}),
    ("PUT", "https://api.example.com/calls/c-1", {"json": {"x": 1},
                                                   "headers": {"X-Trace": "t-1"}}),
    ("GET", "https://api.example.com/calls", {"params": {"tag": "a b&c", "size": 50,
                                                          "cursor": None}}),
    ("GET", "https://API.Example.com:443/./calls/ä%20b", {}),  # not plain: parsed at once
    ("DELETE", "http://127.0.0.1:8000/calls/c-1", {}),
    ("POST", "http://127.0.0.1:8000/calls", {}),  # an empty POST gets Content-Length: 0
]


@pytest.mark.parametrize(("method", "url", "kwargs"), CASES)
def test_a_lazy_request_builds_into_the_eager_one(method: str, url: str,
                                                   kwargs: dict[str, object]) -> None:
    lazy = build_request(method, url, **kwargs)  # type: ignore[arg-type]
    assert isinstance(lazy, LazyRequest)
    assert not lazy.built
    same(lazy, eager(method, url, **kwargs))  # type: ignore[arg-type]
    assert lazy.built


@pytest.mark.parametrize(("method", "url", "kwargs"), CASES)
def test_headers_set_before_the_build_are_kept_in_order(method: str, url: str,
                                                        kwargs: dict[str, object]) -> None:
    lazy = build_request(method, url, **kwargs)  # type: ignore[arg-type]
    built = eager(method, url, **kwargs)  # type: ignore[arg-type]
    for request in (lazy, built):  # what an auth does
        request.headers["Authorization"] = "Bearer t"
    assert isinstance(lazy, LazyRequest) and not lazy.built  # the headers alone were built
    same(lazy, built)


@given(method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]),
       body=st.none() | st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
       given_headers=st.dictionaries(
           st.sampled_from(["Host", "content-length", "Content-Type", "X-Trace", "accept"]),
           st.text(alphabet=string.ascii_letters + string.digits, min_size=1, max_size=5),
           max_size=3),
       auth=st.lists(st.tuples(st.sampled_from(["Authorization", "x-trace", "Accept"]),
                               st.none() | st.text(alphabet=string.ascii_letters,
                                                   min_size=1, max_size=4)), max_size=3),
       plain=st.booleans())
def test_headers_match_httpx_whatever_the_parts(
        method: str, body: dict[str, int] | None, given_headers: dict[str, str],
        auth: list[tuple[str, str | None]], plain: bool) -> None:
    url = "http://127.0.0.1:8000/calls" if plain else "http://127.0.0.1:8000/a%20b"
    lazy = build_request(method, url, json=body, headers=given_headers)
    built = eager(method, url, json=body, headers=given_headers)
    for request in (lazy, built):  # what an auth may do to the headers
        for name, value in auth:
            if value is not None:
                request.headers[name] = value
            elif name in request.headers:
                del request.headers[name]
    assert lazy.headers.raw == built.headers.raw
    same(lazy, built)


def test_wire_sends_the_parts_without_building() -> None:
    lazy = build_request("POST", "http://127.0.0.1:8000/calls", json=BODY)
    assert isinstance(lazy, LazyRequest)
    method, url, headers, body = lazy.wire()
    assert (method, url, dict(headers)) == ("POST", "http://127.0.0.1:8000/calls",
                                            {"content-type": "application/json"})
    assert body == eager("POST", "http://127.0.0.1:8000/calls", json=BODY).content
    lazy.headers["Authorization"] = "AccessKey k"
    assert list(lazy.wire()[2]) == [("host", "127.0.0.1:8000"),
                                    ("content-type", "application/json"),
                                    ("content-length", str(len(body or b""))),
                                    ("authorization", "AccessKey k")]
    assert not lazy.built
    assert repr(lazy) == "<LazyRequest('POST', 'http://127.0.0.1:8000/calls')>"
    assert lazy.built
    method, url, headers, body = lazy.wire()  # built: what it became, Host included
    assert ("host", "127.0.0.1:8000") in list(headers)
    assert ("authorization", "AccessKey k") in list(headers)


def test_a_lazy_request_copies_and_pickles_as_built() -> None:
    lazy = build_request("POST", "http://127.0.0.1:8000/calls", json=BODY)
    for other in (copy.copy(lazy), pickle.loads(pickle.dumps(lazy))):
        assert (other.method, other.url, other.headers.raw, other.content) == (
            lazy.method, lazy.url, lazy.headers.raw, lazy.content)


def test_unknown_attributes_still_raise() -> None:
    lazy = build_request("GET", "http://127.0.0.1:8000/calls/c-1")
    with pytest.raises(AttributeError):
        lazy.no_such_attribute  # type: ignore[attr-defined]  # noqa: B018
    assert not hasattr(lazy, "__no_such_dunder__")


# Plain URLs ------------------------------------------------------------------------------------

_SEGMENT = string.ascii_letters + string.digits + "-._~!$&'()*+,;=:@"
segments = st.text(alphabet=_SEGMENT, max_size=8).filter(lambda s: not s.startswith("."))
hosts = st.one_of(
    st.from_regex(r"\A[a-z][a-z0-9-]{0,10}(\.[a-z][a-z0-9-]{0,10}){0,3}\Z"),
    st.tuples(*[st.integers(0, 255)] * 4).map(lambda q: ".".join(map(str, q))))
plain_urls = st.builds(
    lambda scheme, host, port, path, query: (
        f"{scheme}://{host}{'' if port is None else f':{port}'}/{'/'.join(path)}"
        f"{'' if not query else '?' + query}"),
    st.sampled_from(["http", "https"]), hosts, st.none() | st.integers(1024, 65535),
    st.lists(segments, max_size=4),
    st.text(alphabet=_SEGMENT + "/?", max_size=12))


@given(plain_urls)
def test_a_plain_url_is_what_httpx_and_yarl_make_of_it(url: str) -> None:
    assert is_plain_url(url)
    assert str(httpx.URL(url)) == url
    assert str(yarl.URL(url)) == url


@pytest.mark.parametrize("url", [
    "http://Example.com/x", "http://example.com:80/x", "https://example.com:443/x",
    "http://example.com:0080/x", "http://example.com:99999/x", "http://999.1.1.1/x",
    "http://example.com", "http://example.com/a/../b", "http://example.com/./b",
    "http://example.com/a b", "http://example.com/a%20b", "http://example.com/ä",
    "http://example.com/x?", "http://example.com/x#frag", "http://user@example.com/x",
    "http://[::1]/x", "ftp://example.com/x", "http://example.com/x?a=b c",
])
def test_anything_else_is_parsed_by_httpx(url: str) -> None:
    assert not is_plain_url(url)


# Read responses --------------------------------------------------------------------------------


def test_a_read_response_behaves_as_one_httpx_read() -> None:
    body = b'{"id": "c-1", "name": "\xc3\xa9"}'
    request = build_request("GET", "http://127.0.0.1:8000/calls/c-1")
    raw = [(b"content-type", b"application/json; charset=utf-8"),
           (b"x-request-id", b"req-1")]
    mine = read_response(200, raw, body, request)
    theirs = httpx.Response(200, headers=raw, content=body, request=request)
    assert mine.request is request
    for response in (mine, theirs):
        assert response.is_closed and response.is_stream_consumed
        assert response.content == body and response.read() == body
        assert response.json() == {"id": "c-1", "name": "é"}
        assert response.text == body.decode()
        assert response.headers["x-request-id"] == "req-1"
        assert b"".join(response.iter_bytes(4)) == body
        assert response.num_bytes_downloaded == 0
    assert list(mine.headers.multi_items()) == [("content-type",
                                                 "application/json; charset=utf-8"),
                                                ("x-request-id", "req-1")]


@pytest.mark.anyio
async def test_a_read_response_reads_again_asynchronously() -> None:
    body = b"RIFF...."
    response = read_response(200, [(b"content-type", b"audio/wav")], body,
                             build_request("GET", "http://127.0.0.1:8000/media"))
    assert await response.aread() == body
    assert b"".join([chunk async for chunk in response.aiter_bytes()]) == body
    await response.aclose()


def test_a_read_response_builds_its_headers_only_when_read() -> None:
    raw = [(b"content-type", b"text/plain; charset=latin-1"), (b"retry-after", b"3")]
    response = read_response(503, raw, "indisponible à présent".encode("latin-1"),
                             build_request("GET", "http://127.0.0.1:8000/calls/c-1"))
    assert "headers" not in vars(response)
    assert response.status_code == 503 and response.is_error
    assert response.reason_phrase == "Service Unavailable"
    assert "headers" not in vars(response)
    assert response.headers["retry-after"] == "3"
    assert response.text == "indisponible à présent"  # the charset, from the headers
    assert response.url == "http://127.0.0.1:8000/calls/c-1"
    again = pickle.loads(pickle.dumps(response))
    assert (again.status_code, again.content, again.headers.raw) == (
        503, response.content, response.headers.raw)
    with pytest.raises(AttributeError):
        response.no_such_attribute  # type: ignore[attr-defined]  # noqa: B018
    with pytest.raises(RuntimeError):  # as httpx says for a response it did not time
        response.elapsed  # noqa: B018
