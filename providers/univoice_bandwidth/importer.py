"""BXML -> a neutral flow (``univoice convert --from bandwidth``). Pure: no I/O.

Reads a ``<Response>`` (an answer/gather/redirect callback's reply) or a ``<Bxml>``
(``PUT /calls/{id}/bxml``) from outside: size-capped (64 KB, what Bandwidth runs), parsed
by the adapter's hardened parser (no DTD, no entities, no network), nesting capped. What
cannot be read is an ``InvalidDocument`` whose issues say where (``line 3, column 7``):
malformed XML, a DTD, JSON, another root, a value Bandwidth would refuse (``maxDigits="x"``),
a required attribute or text missing, a verb nested where Bandwidth refuses it. How each
verb maps is in ``import_verbs``; every construct that does not carry over as it was is
an ``ImportNote`` with its position.
"""

from __future__ import annotations

import re
from bisect import bisect_right

from lxml import etree

from univoice.errors import FlowIssue, FlowValidationError
from univoice.flow import Flow
from univoice.migrate import Imported, ImportNote, InvalidDocument, read_source
from univoice_bandwidth import bxml
from univoice_bandwidth.import_verbs import Reader

MAX_DEPTH = 12  # Response > Gather > SpeakSentence > SSML nesting, with room to spare

# Where elements start: comments, CDATA and processing instructions masked out first, so
# the n-th "<" that opens a tag is the n-th element in document order.
_HIDDEN = re.compile(r"<!--.*?-->|<!\[CDATA\[.*?\]\]>|<\?.*?\?>", re.S)
_START = re.compile(r"<(?![/!?])")
_NOT_NEWLINE = re.compile(r"[^\n]")
_LXML_WHERE = re.compile(r",? line \d+, column \d+.*$", re.S)
# The same settings as bxml's parser: used only to find where a refused document broke.
_LOCATING = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                            dtd_validation=False, huge_tree=False, remove_pis=True)


def import_document(source: str | bytes) -> Imported:
    """A BXML document as a neutral flow, with a note for every construct that did not
    carry over as it was; ``InvalidDocument`` (with positions) for one it cannot read."""
    data = read_source(source, limit=bxml.MAX_DOCUMENT)
    root = _parse(data)
    where = Where(data, root)
    _check_shape(root, where)
    reader = Reader(where)
    steps, record = reader.document(root)
    if reader.issues:
        raise InvalidDocument(reader.issues)
    try:
        flow = Flow(record=record, steps=steps)
    except FlowValidationError as exc:  # a rule across steps; positions are not known
        raise InvalidDocument([FlowIssue("", f"the flow read from it is invalid: {i}")
                               for i in exc.issues]) from None
    return Imported(flow=flow, provider="bandwidth",
                    notes=tuple(sorted(reader.notes, key=_document_order)))


def _document_order(note: ImportNote) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", note.at)[:2])


def _parse(data: bytes) -> etree._Element:
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if head in (b"{", b"["):
        raise InvalidDocument([FlowIssue(_offset_position(data, data.find(head)),
                                         "this is JSON, not BXML (a callback or REST "
                                         "payload?): expected <Response> or <Bxml>")])
    try:
        root = bxml.parse(data)
    except bxml.BxmlError as exc:
        raise InvalidDocument([_refused(data, str(exc))]) from None
    docinfo = root.getroottree().docinfo
    # bxml.parse refuses DOCTYPE by its bytes; a UTF-16 document spells it otherwise.
    if docinfo.internalDTD is not None or docinfo.externalDTD is not None or \
            getattr(docinfo, "doctype", ""):
        raise InvalidDocument([FlowIssue("line 1", "documents with a DOCTYPE or entities "
                                                   "are refused")])
    return root


def _check_shape(root: etree._Element, where: Where) -> None:
    issues: list[FlowIssue] = []
    if root.tag not in bxml.ROOTS:
        issues.append(FlowIssue(where(root), f"the root is <{root.tag}>, not <Response> or "
                                             "<Bxml>"))
    stack = [(root, 1)]
    while stack and not issues:
        element, depth = stack.pop()
        for child in element:
            if isinstance(child, etree._Entity):
                issues.append(FlowIssue(where(element), "entity references are refused"))
            elif depth + 1 > MAX_DEPTH and isinstance(child.tag, str):
                issues.append(FlowIssue(where(child), f"elements nested more than {MAX_DEPTH}"
                                                      " deep"))
            else:
                stack.append((child, depth + 1))
    if issues:
        raise InvalidDocument(issues[:1])


class Where:
    """``line L, column C`` of each element's start tag. lxml gives only the line where a
    start tag ends, so start tags are found in the text itself."""

    def __init__(self, data: bytes, root: etree._Element) -> None:
        text = _decode(data, root.getroottree().docinfo.encoding)
        masked = _HIDDEN.sub(lambda m: _NOT_NEWLINE.sub(" ", m.group()), text)
        self._lines = [0, *(m.end() for m in re.finditer("\n", masked))]
        # The list keeps each element's proxy alive, so ids stay theirs.
        self._elements = [e for e in root.iter() if isinstance(e.tag, str)]
        offsets = [m.start() for m in _START.finditer(masked)]
        self._offsets = ({id(e): o for e, o in zip(self._elements, offsets, strict=True)}
                         if len(offsets) == len(self._elements) else {})

    def __call__(self, element: etree._Element) -> str:
        offset = self._offsets.get(id(element))
        if offset is None:
            return f"line {element.sourceline}" if element.sourceline else "line 1"
        line = bisect_right(self._lines, offset)
        return f"line {line}, column {offset - self._lines[line - 1] + 1}"


def _decode(data: bytes, encoding: str | None) -> str:
    name = (encoding or "utf-8").lower()
    try:
        return data.decode("utf-8-sig" if name in ("utf-8", "utf8") else name)
    except (LookupError, UnicodeDecodeError):
        return data.decode("utf-8", "replace")


def _offset_position(data: bytes, offset: int) -> str:
    before = data[:max(offset, 0)]
    line, line_start = before.count(b"\n") + 1, before.rfind(b"\n") + 1
    return f"line {line}, column {len(before) - line_start + 1}"


def _refused(data: bytes, message: str) -> FlowIssue:
    """Where a document bxml.parse refused broke, and why (lxml's own "line L, column C"
    left out of the message: the issue's position says it)."""
    for marker in (b"<!DOCTYPE", b"<!ENTITY"):
        if marker in data:
            return FlowIssue(_offset_position(data, data.find(marker)), message)
    try:
        etree.fromstring(data, _LOCATING)
    except etree.XMLSyntaxError as exc:
        line, column = exc.position
        return FlowIssue(f"line {line}, column {column}",
                         "not well-formed XML: " + _LXML_WHERE.sub("", str(exc.msg)))
    except (ValueError, etree.LxmlError):
        pass
    return FlowIssue("line 1", message)
