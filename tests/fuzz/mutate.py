"""A small seeded, deterministic mutational fuzzer: seed documents in, hostile ones out.

Input ``i`` of a run with seed ``s`` is a pure function of ``(s, i)`` and the corpus (its
own ``random.Random``), so a failure names ``(seed, index)`` and is replayed exactly. Each
input starts from one seed document of the corpus and applies one to four mutations:

- structure (when the seed is JSON): a node deleted, duplicated under the same key (the
  text then holds the key twice), swapped for a value of another type, nested hundreds or
  thousands deep, replaced by a huge or non-finite number, an absurd string (lone
  surrogates, NUL, 100 kB, odd timestamps and numbers), or taken from another seed;
- text (YAML, XML, TOML and anything else): lines deleted, duplicated, swapped, re-indented;
  tokens of the seed's language inserted (anchors and aliases, tags, entities, DOCTYPEs,
  CDATA, tables, inline tables);
- bytes (on top of either): bit flips, interesting bytes, insertions, deletions, a chunk
  repeated, truncation, splicing with another seed, invalid UTF-8, and the input
  re-encoded (UTF-16, a BOM).

Nothing here knows about univoice: ``tests/fuzz/targets.py`` says what the inputs are fed to.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

# Values that break parsers written for the happy path.
INTERESTING_STRINGS: tuple[str, ...] = (
    "", " ", "\x00", "\ud800", "\udfff", "\ud83d\ude00", "\u202e", "\u2028", "\ufeff", "\uffff",
    "é" * 3, "null", "true", "NaN", "-0", "1e999", "-1e999", "9" * 5000, "0x1F", "٣", "²",
    "+", "+0", "+31612345678", "+999999999999999999", "sip:", "sips:a@b", "tel:+1",
    "2017-08-24T09:44:37Z", "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+01:00",
    "2026-13-45T25:61:61Z", "PT20.056S", "P1000000000D", "PT-1S", "1 day", "nan", "inf",
    "http://", "https://x", "javascript:alert(1)", "file:///etc/passwd", "../../etc/passwd",
    "%00", "%zz", "%C2%B2", "a\nb", "a\r\nb", "\t", "{", "[", '"', "\\", "<", "&", "&amp;",
    "<![CDATA[x]]>", "${jndi:ldap://127.0.0.1/a}", "{{7*7}}", "'; DROP TABLE x;--",
)
# Sizes that matter (past a limit: 256 kB bodies, 64 kB BXML), rare: they cost the most.
HUGE = ("x" * 70_000, "é" * 140_000, "[" * 300_000)
INTERESTING_NUMBERS: tuple[Any, ...] = (
    0, -1, 1, 2**31, 2**53 + 1, 2**63, 2**64, -(2**63) - 1, 10**400, 1e308, -1e308, 5e-324,
    0.1, -0.0, 1.5, 99.999, 10**15 + 1,
)
# Raw JSON number and constant spellings json.dumps never writes.
RAW_JSON_VALUES: tuple[str, ...] = (
    "NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1" * 5000, "-" + "9" * 4400,
    "1.0e-99999", "0.0000000000000000000000000000001", '"\\ud800"', '"\\udfff\\ud800"',
    '"\\u0000"', "[]", "{}", "null", '"' + "\\n" * 1000 + '"',
)
INTERESTING_BYTES = (0x00, 0x01, 0x7F, 0x80, 0xC0, 0xC3, 0xED, 0xF4, 0xFE, 0xFF, 0x22,
                     0x5C, 0x7B, 0x7D, 0x5B, 0x5D, 0x3C, 0x3E, 0x26, 0x3A, 0x2C, 0x0A, 0x0D)
# Language tokens inserted at random places in text.
TOKENS: dict[str, tuple[str, ...]] = {
    "yaml": ("&a ", "*a", "<<: *a\n", "!!python/object:os.system ", "!!binary ", "!!int ",
             "!!float ", "!!timestamp ", "!!set ", "!!omap ", "? ", ": ", "- ", "---\n",
             "...\n", "%YAML 1.1\n", "%TAG ! tag:x:\n", "\t", "{", "}", "[", "]", "|\n",
             ">-\n", "'", '"', "#", "~", "0x_", "0o", "1_000", ".inf", ".nan", "yes", "no",
             "on", "2001-12-14t21:59:43.10-05:00", "\\x00", "\"\\ud800\"", "&b [*a,*a,*a]"),
    "xml": ("<!DOCTYPE r [<!ENTITY e \"e\">]>", "&e;", "&#0;", "&#x10FFFF;", "&#xD800;",
            "&lt;", "<![CDATA[", "]]>", "<!--", "-->", "<?pi x?>", "<?xml version=\"1.0\"?>",
            "<Response>", "</Response>", "<Gather>", "</Gather>", "<SpeakSentence>",
            "</SpeakSentence>", " repeatCount=\"20\"", " maxDigits=\"0\"", " duration=\"1e999\"",
            " time=\"9999999999s\"", "<break time=\"-1ms\"/>", "<break time=\"x\"/>",
            " xmlns=\"urn:x\"", " xmlns:xi=\"http://www.w3.org/2001/XInclude\"",
            "<xi:include href=\"file:///etc/passwd\"/>", "<a:b>", "\x00", "\ufffe"),
    "toml": ("[bandwidth]\n", "[http]\n", "[[x]]\n", "[inbound]\n", "a.b.c = 1\n",
             "provider = ", "public_url = ", "timeout = ", "inf", "nan", "-0", "1979-05-27",
             "1979-05-27T07:32:00Z", "\"\"\"", "'''", "{ a = 1 }", "[1, [2, [3]]]", "0x7f",
             "1e400", "= ", "\"\\u0000\"", "\"\\ud800\"", "true", "\n", "#"),
    "json": ('{"', '":', ",", "[", "]", "{", "}", '"\\ud800"', "\\", "NaN", "1e999",
             "-0", "null", "true", '"a":1,"a":2'),
    "text": ("\n", "\x00", "%", "&", "=", "?", "#", "\\", "\ud800"),
}


@dataclass(frozen=True)
class Seed:
    """One document of a corpus: its bytes, its language, and (for JSON) its data."""

    data: bytes
    kind: str = "json"  # json, yaml, xml, toml, text
    name: str = ""
    parsed: Any = field(default=None, compare=False)

    @classmethod
    def of(cls, data: bytes | str, kind: str = "json", name: str = "") -> Seed:
        raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
        parsed = None
        if kind == "json":
            try:
                parsed = json.loads(raw)
            except ValueError:
                kind = "text"
        return cls(raw, kind, name, parsed)

    @classmethod
    def json(cls, value: Any, name: str = "") -> Seed:
        return cls(json.dumps(value).encode(), "json", name, value)

    @classmethod
    def envelope(cls, head: dict[str, Any], body: Any, name: str = "") -> Seed:
        """A request: ``head`` (method, path, headers...) as one line of JSON, then the
        body's bytes. A body given as data is JSON; as bytes or str, sent as it is."""
        if isinstance(body, bytes | str):
            raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
            try:
                value = json.loads(raw) if raw else None
            except ValueError:
                value = None
        else:
            value, raw = body, (json.dumps(body).encode() if body is not None else b"")
        return cls(json.dumps(head).encode() + b"\n" + raw, "envelope", name,
                   (head, value, raw))


def split_envelope(data: bytes) -> tuple[dict[str, Any] | None, bytes]:
    """(head, body) of an envelope; (None, data) when the first line is not a JSON object."""
    head, newline, body = data.partition(b"\n")
    if not newline or not head.startswith(b"{") or len(head) > 100_000:
        return None, data
    try:
        found = json.loads(head)
    except (ValueError, RecursionError):
        return None, data
    return (found, body) if isinstance(found, dict) else (None, data)


class Mutator:
    """The inputs of one target: ``mutator.input(i)`` is input ``i`` for this seed."""

    def __init__(self, corpus: Sequence[Seed], seed: int, *, max_size: int = 300_000,
                 originals: bool = True) -> None:
        if not corpus:
            raise ValueError("a corpus needs at least one seed")
        self.corpus = list(corpus)
        self.seed = seed
        self.max_size = max_size
        # The first inputs are the seeds themselves, unchanged (they must pass, too).
        self.originals = len(self.corpus) if originals else 0

    def __iter__(self) -> Iterator[bytes]:
        index = 0
        while True:
            yield self.input(index)
            index += 1

    def input(self, index: int) -> bytes:
        if index < self.originals:
            return self.corpus[index].data
        rng = random.Random(self.seed * 1_000_003 + index)
        seed = self.corpus[rng.randrange(len(self.corpus))]
        if seed.kind == "envelope":
            return self._envelope(rng, seed)[: self.max_size]
        if seed.kind == "json" and rng.random() < 0.7:
            value = seed.parsed
            for _ in range(1 + (rng.random() < 0.3) + (rng.random() < 0.1)):
                value = self._structure(rng, value)
            data = _dumps(rng, value)
            if rng.random() < 0.15:
                data = self._bytes(rng, data)
        elif seed.kind == "xml" and rng.random() < 0.5 and self._tree(seed) is not None:
            data = self._xml(rng, seed)
        elif seed.kind != "json" and rng.random() < 0.6:
            data = self._text(rng, seed)
            if rng.random() < 0.2:
                data = self._bytes(rng, data)
        else:
            data = seed.data
            for _ in range(1 + (rng.random() < 0.4) + (rng.random() < 0.15)):
                data = self._bytes(rng, data)
        return data[: self.max_size]

    def _envelope(self, rng: random.Random, seed: Seed) -> bytes:
        head, value, body = seed.parsed
        roll = rng.random()
        if roll < 0.05:  # anything goes: the head line too
            return self._bytes(rng, seed.data)
        head_bytes = json.dumps(head).encode()
        if roll < 0.3:
            head_bytes = _dumps(rng, self._structure(rng, head))
        elif value is not None and roll < 0.8:
            for _ in range(1 + (rng.random() < 0.3) + (rng.random() < 0.1)):
                value = self._structure(rng, value)
            body = _dumps(rng, value)
            if rng.random() < 0.1:
                body = self._bytes(rng, body)
        else:
            for _ in range(1 + (rng.random() < 0.4)):
                body = self._bytes(rng, body)
        return head_bytes.replace(b"\n", b"") + b"\n" + body

    # Structure ------------------------------------------------------------------------

    def _structure(self, rng: random.Random, value: Any) -> Any:
        path = _random_path(rng, value)
        if not path:
            return self._replacement(rng, value)
        return _replace_at(value, path, lambda node: self._mutate_node(rng, node))

    def _mutate_node(self, rng: random.Random, node: Any) -> Any:
        roll = rng.random()
        if isinstance(node, dict) and node and roll < 0.25:
            node = dict(node)
            key = rng.choice(list(node))
            how = rng.randrange(4)
            if how == 0:
                del node[key]
            elif how == 1:
                return _Duplicated(node, key, self._replacement(rng, node[key]))
            elif how == 2:
                node[rng.choice(list(_KEYS))] = node.pop(key)
            else:
                node[key] = self._replacement(rng, node[key])
            return node
        if isinstance(node, list) and node and roll < 0.25:
            node = list(node)
            how = rng.randrange(4)
            if how == 0:
                del node[rng.randrange(len(node))]
            elif how == 1:
                node.extend(node[:1] * rng.choice((1, 2, 10, 10, 1000)))
            elif how == 2:
                rng.shuffle(node)
            else:
                node[rng.randrange(len(node))] = self._replacement(rng, None)
            return node
        return self._replacement(rng, node)

    def _replacement(self, rng: random.Random, node: Any) -> Any:
        roll = rng.randrange(12)
        if roll == 0:
            return rng.choice(INTERESTING_STRINGS)
        if roll == 1:
            return rng.choice(INTERESTING_NUMBERS)
        if roll == 2:
            return _Raw(rng.choice(RAW_JSON_VALUES))
        if roll == 3:  # another type
            return rng.choice((None, True, False, [], {}, "", 0, [node], {"x": node}))
        if roll == 4:  # deep nesting, around and far past the parsers' limits
            depth = rng.choice((7, 8, 9, 11, 12, 13, 50, 201, 1000, 1000, 5000))
            return _Raw("[" * depth + "1" + "]" * depth if rng.random() < 0.5
                        else '{"a":' * depth + "1" + "}" * depth)
        if roll == 5:  # a value from another seed
            other = self.corpus[rng.randrange(len(self.corpus))]
            found = other.parsed[1] if other.kind == "envelope" else other.parsed
            return _get(found, _random_path(rng, found))
        if roll == 6 and isinstance(node, str):  # the string, changed a little
            pos = rng.randrange(len(node) + 1)
            return node[:pos] + rng.choice(INTERESTING_STRINGS[:40]) + node[pos:]
        if roll == 7 and isinstance(node, str):
            return node * rng.choice((2, 20, 100)) if rng.random() < 0.9 else rng.choice(HUGE)
        if roll == 8 and isinstance(node, int | float) and not isinstance(node, bool):
            how = rng.randrange(5)
            if how == 0:
                return -node
            if how == 1:
                return node * 10 ** rng.randrange(1, 30)
            if how == 2:
                return str(node)
            if how == 3:
                return float(node) + 0.5 if abs(node) < 1e300 else node
            return math.nan if rng.random() < 0.5 else math.inf
        if roll == 9:
            return "".join(chr(rng.randrange(0x110000)) for _ in range(rng.randrange(1, 8)))
        if roll == 10 and isinstance(node, str | int | float):  # "1", "True", "nan"
            return str(node)
        return None

    # Text -----------------------------------------------------------------------------

    def _text(self, rng: random.Random, seed: Seed) -> bytes:
        text = seed.data.decode("utf-8", "surrogateescape")
        lines = text.split("\n")
        for _ in range(1 + (rng.random() < 0.4)):
            roll = rng.randrange(7)
            if roll == 0 and lines:
                del lines[rng.randrange(len(lines))]
            elif roll == 1 and lines:
                i = rng.randrange(len(lines))
                lines[i:i] = [lines[i]] * rng.choice((1, 2, 50))
            elif roll == 2 and len(lines) > 1:
                i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
                lines[i], lines[j] = lines[j], lines[i]
            elif roll == 3 and lines:
                i = rng.randrange(len(lines))
                lines[i] = rng.choice(("", " ", "  ", "\t", "    ")) + lines[i].lstrip()
            else:
                tokens = TOKENS.get(seed.kind, TOKENS["text"])
                i = rng.randrange(len(lines)) if lines else 0
                line = lines[i] if lines else ""
                pos = rng.randrange(len(line) + 1)
                token = rng.choice(tokens) if rng.random() < 0.85 else rng.choice(
                    INTERESTING_STRINGS[:50])
                if lines:
                    lines[i] = line[:pos] + token + line[pos:]
                else:
                    lines = [token]
        if seed.kind == "yaml" and rng.random() < 0.05:
            lines.append(_yaml_laughs(rng))
        if seed.kind == "xml" and rng.random() < 0.05:
            return _xml_attack(rng, seed.data)
        return _encode("\n".join(lines))

    # XML ------------------------------------------------------------------------------

    def _tree(self, seed: Seed) -> Any:
        """The seed's element tree (parsed once; seeds are trusted files), or None."""
        if not hasattr(self, "_trees"):
            self._trees: dict[int, Any] = {}
            self._names: tuple[list[str], list[str]] = ([], [])
        key = id(seed)
        if key not in self._trees:
            from lxml import etree

            try:
                tree = etree.fromstring(seed.data)
            except etree.XMLSyntaxError:
                tree = None
            self._trees[key] = tree
            if tree is not None:  # every tag and attribute name seen, to move around
                tags, attributes = self._names
                for element in tree.iter():
                    if isinstance(element.tag, str) and element.tag not in tags:
                        tags.append(element.tag)
                    attributes.extend(a for a in element.attrib if a not in attributes)
        return self._trees[key]

    def _xml(self, rng: random.Random, seed: Seed) -> bytes:
        """Well-formed XML with one to three changes: an attribute set to an odd value, a
        text replaced, an element duplicated, deleted, renamed or moved."""
        import copy

        from lxml import etree

        root = copy.deepcopy(self._tree(seed))
        tags, attributes = self._names
        for _ in range(1 + (rng.random() < 0.4) + (rng.random() < 0.1)):
            elements = [e for e in root.iter() if isinstance(e.tag, str)]
            element = rng.choice(elements)
            roll = rng.randrange(7)
            value = self._xml_value(rng)
            if roll <= 1 and attributes:
                element.set(rng.choice(attributes), value)
            elif roll == 2:
                element.text = value
            elif roll == 3 and element is not root:
                element.addnext(copy.deepcopy(element))
            elif roll == 4 and element is not root and element.getparent() is not None:
                element.getparent().remove(element)
            elif roll == 5 and tags:
                element.tag = rng.choice(tags)
            else:
                rng.choice(elements).append(copy.deepcopy(rng.choice(elements[1:] or elements)))
        return etree.tostring(root)

    def _xml_value(self, rng: random.Random) -> str:
        value = rng.choice((*INTERESTING_STRINGS[:60], *map(str, INTERESTING_NUMBERS)))
        # XML cannot hold every character: keep what it can.
        return "".join(c for c in value if c in "\t\n\r" or (
            " " <= c <= "\ud7ff" or "\ue000" <= c <= "\ufffd" or c > "\uffff"))

    # Bytes ----------------------------------------------------------------------------

    def _bytes(self, rng: random.Random, data: bytes) -> bytes:
        buf = bytearray(data)
        roll = rng.randrange(12)
        size = len(buf)
        if roll == 0 and size:
            i = rng.randrange(size)
            buf[i] ^= 1 << rng.randrange(8)
        elif roll == 1 and size:
            buf[rng.randrange(size)] = rng.choice(INTERESTING_BYTES)
        elif roll == 2:
            pos = rng.randrange(size + 1)
            buf[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 9)))
        elif roll == 3 and size:
            i = rng.randrange(size)
            del buf[i:i + rng.randrange(1, 64)]
        elif roll == 4 and size:
            i = rng.randrange(size)
            chunk = buf[i:i + rng.randrange(1, 32)]
            buf[i:i] = chunk * rng.choice((2, 4, 16, 16, 1000))
        elif roll == 5 and size:
            del buf[rng.randrange(size):]
        elif roll == 6:  # splice: our head, another seed's tail
            other = self.corpus[rng.randrange(len(self.corpus))].data
            cut = rng.randrange(size + 1)
            buf = buf[:cut] + other[rng.randrange(len(other) + 1):]
        elif roll == 7:
            pos = rng.randrange(size + 1)
            buf[pos:pos] = rng.choice((b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
                                       b"\xff\xfe", b"\xef\xbb\xbf", b"\x00", b"\r"))
        elif roll == 8:
            encoding = rng.choice(("utf-16", "utf-16-be", "utf-32", "latin-1", "utf-8-sig"))
            text = bytes(buf).decode("utf-8", "replace")
            buf = bytearray(text.encode(encoding, "replace"))
        elif roll == 9 and size:
            i = rng.randrange(size)
            j = rng.randrange(size)
            buf[i], buf[j] = buf[j], buf[i]
        else:
            token = rng.choice(TOKENS["json"] + TOKENS["xml"][:6]).encode(
                "utf-8", "surrogatepass")
            pos = rng.randrange(size + 1)
            buf[pos:pos] = token
        return bytes(buf[: self.max_size])


def _encode(text: str) -> bytes:
    """Back to bytes: undecodable bytes as they were, lone surrogates as UTF-8 would
    (wrongly) write them."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


# JSON with what json.dumps will not write --------------------------------------------------


class _Raw:
    """JSON text inserted as is (NaN, 1e999, unbalanced depth, lone surrogate escapes)."""

    def __init__(self, text: str) -> None:
        self.text = text


class _Duplicated:
    """A mapping written with one key twice (the second value different)."""

    def __init__(self, node: dict[str, Any], key: str, second: Any) -> None:
        self.node, self.key, self.second = node, key, second


def _dumps(rng: random.Random, value: Any) -> bytes:
    """JSON text of ``value``; the raw and duplicated parts spliced in after json.dumps
    wrote the rest (at C speed) with a placeholder for each."""
    ascii_only = rng.random() < 0.5
    specials: list[str] = []

    def placeholder(node: Any) -> str:
        if isinstance(node, _Raw):
            text = node.text
        elif isinstance(node, _Duplicated):
            parts: list[str] = []
            _write(node, parts, ascii_only)
            text = "".join(parts)
        else:
            raise TypeError(type(node).__name__)
        specials.append(text)
        return f"\x00{len(specials) - 1}\x00"

    try:
        text = json.dumps(value, ensure_ascii=ascii_only, default=placeholder)
    except ValueError:  # an integer past str()'s digit limit
        parts = []
        _write(value, parts, ascii_only)
        return _encode("".join(parts))
    for index in range(len(specials) - 1, -1, -1):
        text = text.replace(f'"\\u0000{index}\\u0000"', specials[index], 1)
    return text.encode("utf-8", "surrogatepass")


def _write(value: Any, out: list[str], ascii_only: bool) -> None:
    if isinstance(value, _Raw):
        out.append(value.text)
    elif isinstance(value, _Duplicated):
        items = [*value.node.items(), (value.key, value.second)]
        _write_object(items, out, ascii_only)
    elif isinstance(value, dict):
        _write_object(list(value.items()), out, ascii_only)
    elif isinstance(value, list):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _write(item, out, ascii_only)
        out.append("]")
    elif isinstance(value, float) and not math.isfinite(value):
        out.append("NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity")
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**4000:
        out.append(str(value)[:4000])  # str() itself refuses more digits
    else:
        out.append(json.dumps(value, ensure_ascii=ascii_only))


def _write_object(items: list[tuple[Any, Any]], out: list[str], ascii_only: bool) -> None:
    out.append("{")
    for i, (key, item) in enumerate(items):
        if i:
            out.append(",")
        out.append(json.dumps(str(key), ensure_ascii=ascii_only))
        out.append(":")
        _write(item, out, ascii_only)
    out.append("}")


# Paths into JSON values --------------------------------------------------------------------

Path = tuple[Any, ...]
_KEYS = ("eventType", "items", "payload", "status", "steps", "action", "options", "command",
         "callFlow", "id", "callId", "legs", "type", "event", "results", "data", "x", "",
         "__proto__", "say", "gather", "hangup", "transfer", "record")


def _random_path(rng: random.Random, value: Any) -> Path:
    """A random node's path: from the root down, stopping at each level with some chance."""
    path: list[Any] = []
    node = value
    while isinstance(node, dict | list) and node and (not path or rng.random() < 0.75):
        key = rng.choice(list(node)) if isinstance(node, dict) else rng.randrange(len(node))
        path.append(key)
        node = node[key]
    return tuple(path)


def _get(value: Any, path: Path) -> Any:
    for part in path:
        value = value[part]
    return value


def _replace_at(value: Any, path: Path, change: Callable[[Any], Any]) -> Any:
    """A copy of ``value`` with the node at ``path`` changed (copies along the path only)."""
    if not path:
        return change(value)
    head, *rest = path
    copy: Any = dict(value) if isinstance(value, dict) else list(value)
    copy[head] = _replace_at(value[head], tuple(rest), change)
    return copy


# Known attacks, as mutations ----------------------------------------------------------------


def _yaml_laughs(rng: random.Random) -> str:
    """Aliases that expand exponentially: a few hundred bytes, billions of nodes."""
    width = rng.choice((5, 9, 30))
    lines = ["l0: &l0 {say: lol}"]
    for level in range(1, rng.choice((4, 6, 9))):
        refs = ",".join([f"*l{level - 1}"] * width)
        lines.append(f"l{level}: &l{level} [{refs}]")
    return "\n".join(lines)


def _xml_attack(rng: random.Random, data: bytes) -> bytes:
    head = rng.choice((
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>',
        b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
        b'<!DOCTYPE r [<!ENTITY x SYSTEM "http://127.0.0.1:9/x">]>',
        b'<!DOCTYPE r SYSTEM "http://127.0.0.1:9/x.dtd">',
        b'<?xml version="1.0" encoding="UTF-16"?>',
        b'<?xml version="1.0" encoding="bogus"?>',
    ))
    body = data.replace(b"<?xml", b"<?ignored", 1)
    pos = body.find(b">", body.find(b"<Response") + 1) + 1 if b"<Response" in body else 0
    if pos > 0 and rng.random() < 0.5:
        body = body[:pos] + rng.choice((b"&x;", b"&c;", b"&a;")) + body[pos:]
    return head + body
