"""XML from outside (BXML documents a webhook app or a test hands the Bandwidth interpreter):
entity expansion, external entities and DTDs, XInclude, in any encoding, are refused with
``BxmlError`` (a ``UnivoiceError``), quickly, without reading a file or opening a
connection. Checked twice: through ``bxml.parse`` (which refuses) and through its lxml
parser alone (which, refusing nothing, still expands and loads nothing)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from univoice.errors import UnivoiceError
from univoice_bandwidth import bxml
from univoice_bandwidth.interpreter import CallSetup, run_call

LOL = "lol" * 3


@pytest.fixture
def listener() -> Iterator[tuple[str, socket.socket]]:
    """A socket on 127.0.0.1 that notes any connection (it must see none)."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.setblocking(False)
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}", server
    finally:
        server.close()


def connected(server: socket.socket) -> bool:
    time.sleep(0.05)
    try:
        conn, _ = server.accept()
    except BlockingIOError:
        return False
    conn.close()
    return True


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    file = tmp_path / "secret.txt"
    file.write_text("TOP-SECRET-CONTENT")
    return file


def payloads(url: str, secret: Path) -> dict[str, str]:
    laughs = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    return {
        "billion laughs": f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY l0 "{LOL}">{laughs}]>'
                          "<Response><SpeakSentence>&l9;</SpeakSentence></Response>",
        "quadratic blowup": f'<!DOCTYPE r [<!ENTITY a "{"x" * 30_000}">]><Response>'
                            f"<SpeakSentence>{'&a;' * 1000}</SpeakSentence></Response>",
        "external entity (file)": f'<!DOCTYPE r [<!ENTITY x SYSTEM "file://{secret}">]>'
                                  "<Response><SpeakSentence>&x;</SpeakSentence></Response>",
        "external entity (http)": f'<!DOCTYPE r [<!ENTITY x SYSTEM "{url}/entity">]>'
                                  "<Response><SpeakSentence>&x;</SpeakSentence></Response>",
        "parameter entity": f'<!DOCTYPE r [<!ENTITY % p SYSTEM "{url}/p.dtd"> %p;]>'
                            "<Response><Hangup/></Response>",
        "external DTD": f'<!DOCTYPE Response SYSTEM "{url}/bxml.dtd"><Response><Hangup/>'
                        "</Response>",
        "public DTD": f'<!DOCTYPE Response PUBLIC "-//X//Y" "{url}/x.dtd"><Response/>',
        "XInclude (file)": '<Response xmlns:xi="http://www.w3.org/2001/XInclude">'
                           f'<SpeakSentence><xi:include href="file://{secret}" parse="text"/>'
                           "</SpeakSentence></Response>",
        "XInclude (http)": '<Response xmlns:xi="http://www.w3.org/2001/XInclude">'
                           f'<xi:include href="{url}/more.xml"/></Response>',
    }


ENCODINGS = ("utf-8", "utf-16", "utf-16-be", "utf-32")


def encoded(text: str, encoding: str) -> bytes:
    if encoding == "utf-8":
        return text.encode()
    declared = text if text.startswith("<?xml") else f'<?xml version="1.0"?>{text}'
    return declared.replace('<?xml version="1.0"?>',
                            f'<?xml version="1.0" encoding="{encoding.upper()}"?>', 1
                            ).encode(encoding)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_hostile_documents_are_refused_with_a_typed_error(
        encoding: str, listener: tuple[str, socket.socket], secret_file: Path) -> None:
    url, server = listener
    for name, text in payloads(url, secret_file).items():
        started = time.perf_counter()
        with pytest.raises(bxml.BxmlError) as refused:
            bxml.parse(encoded(text, encoding))
        assert isinstance(refused.value, UnivoiceError)
        assert time.perf_counter() - started < 1, name
        assert "TOP-SECRET" not in str(refused.value)
    assert not connected(server), "the parser opened a connection"


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_the_parser_itself_expands_and_loads_nothing(
        encoding: str, listener: tuple[str, socket.socket], secret_file: Path) -> None:
    """Defence in depth: lxml configured as bxml configures it, without bxml's own checks
    in front, neither expands an entity nor reads a file nor connects anywhere."""
    url, server = listener
    for name, text in payloads(url, secret_file).items():
        started = time.perf_counter()
        try:
            root = etree.fromstring(encoded(text, encoding), bxml._PARSER)
        except etree.XMLSyntaxError:
            continue  # refusing is fine too
        shown = etree.tostring(root, encoding="unicode")
        assert time.perf_counter() - started < 1, name
        assert "TOP-SECRET" not in shown and "TOP-SECRET" not in bxml.text_of(root), name
        assert LOL * 10 not in shown and "x" * 60_000 not in shown, name
    assert not connected(server), "the parser opened a connection"


def test_a_document_past_64_kb_is_refused_before_parsing() -> None:
    with pytest.raises(bxml.BxmlError, match="more than"):
        bxml.parse(b"<Response>" + b" " * bxml.MAX_DOCUMENT + b"</Response>")


def test_plain_documents_and_character_references_still_parse() -> None:
    root = bxml.parse("<Response><SpeakSentence>Fish &amp; chips &#233;&#x41;</SpeakSentence>"
                      "</Response>".encode("utf-16"))
    assert bxml.validate(root) == []
    assert bxml.text_of(root) == "Fish & chips éA"


def test_the_interpreter_fails_a_call_given_a_hostile_document(
        listener: tuple[str, socket.socket], secret_file: Path) -> None:
    """Bandwidth's side, impersonated: every hostile document ends the call with
    ``invalid-bxml``, as Bandwidth would."""
    url, server = listener
    for name, text in payloads(url, secret_file).items():
        def http(method: str, target: str, payload: object,
                 creds: tuple[str, str] | None, text: str = text) -> tuple[int, str]:
            return 200, text

        run = run_call(CallSetup(call_id="c-1", from_="+31201234567", to="+31612345678",
                                 answer_url="https://app.example/answer"), None, http)
        assert run.cause == "invalid-bxml", name
        assert "TOP-SECRET" not in str(run.trace.events)
    assert not connected(server)


def test_the_checks_can_see_a_leak(secret_file: Path) -> None:
    """The file check is not vacuous: lxml left to its defaults (entities resolved, DTDs
    loaded) does read the file. (This lxml's libxml2 has no HTTP client at all; the
    connection checks above guard against one that has.)"""
    careless = etree.XMLParser(load_dtd=True, resolve_entities=True, no_network=False)
    text = payloads("http://127.0.0.1:9", secret_file)["external entity (file)"]
    assert "TOP-SECRET" in etree.tostring(etree.fromstring(text.encode(), careless),
                                          encoding="unicode")
