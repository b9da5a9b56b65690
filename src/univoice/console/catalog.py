"""The flows the console shows: those ``univoice serve`` answers inbound calls with (the
``[inbound]`` table, ``--flow``) and, unless ``console.examples = false``, univoice's
bundled examples. All are read once, when the app starts; the console never opens a
file a request names.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from univoice.flow import Flow
from univoice.graph import FlowGraph, graph_of

EXAMPLE_FILES = ("support_ivr.yaml", "support_ivr_portable.yaml", "conference_bridge.yaml")


@dataclass
class FlowEntry:
    """One flow: ``key`` names it in URLs; ``uses`` say why the console lists it."""

    key: str
    flow: Flow
    file: str  # the file's name (not its directory)
    uses: list[str] = field(default_factory=list)
    _graph: FlowGraph | None = None

    @property
    def title(self) -> str:
        return self.flow.name or self.file

    @property
    def graph(self) -> FlowGraph:
        if self._graph is None:
            self._graph = graph_of(self.flow)
        return self._graph


class Catalog:
    """Flows by key, in the order added (configured ones first)."""

    def __init__(self) -> None:
        self._entries: dict[str, FlowEntry] = {}
        self._by_file: dict[str, FlowEntry] = {}

    def add(self, flow: Flow, use: str, file: Path | None = None) -> FlowEntry:
        """List ``flow`` (a file already listed gains one more use)."""
        where = str(file.resolve()) if file is not None else None
        if where is not None and where in self._by_file:
            entry = self._by_file[where]
            if use not in entry.uses:
                entry.uses.append(use)
            return entry
        name = file.name if file is not None else (flow.name or "flow")
        entry = FlowEntry(self._key(file.stem if file is not None else name), flow, name,
                          [use])
        self._entries[entry.key] = entry
        if where is not None:
            self._by_file[where] = entry
        return entry

    def get(self, key: str) -> FlowEntry | None:
        return self._entries.get(key)

    def __iter__(self) -> Iterator[FlowEntry]:
        return iter(list(self._entries.values()))

    def __len__(self) -> int:
        return len(self._entries)

    def _key(self, name: str) -> str:
        base = re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-")[:40] or "flow"
        key, n = base, 1
        while key in self._entries:
            n += 1
            key = f"{base}-{n}"
        return key


def catalog_of(numbers: dict[str, str], default: str | None, *, examples: bool,
               default_flow: Flow | None = None) -> Catalog:
    """``numbers``: called number -> flow file; ``default``: the file answering every
    other number (``--flow`` or ``[inbound] default``), or ``default_flow`` when the app
    was made by the user's code (``--app``)."""
    found = Catalog()
    for number, file in numbers.items():
        found.add(Flow.load(file), f"answers calls to {number}", Path(file))
    if default is not None:
        found.add(Flow.load(default), "answers inbound calls (default)", Path(default))
    elif default_flow is not None:
        found.add(default_flow, "answers inbound calls (default, from the app)")
    if examples:
        for path in example_files():
            found.add(Flow.load(path), "bundled example", path)
    return found


def example_files() -> list[Path]:
    """The bundled examples (inside the wheel, or at the top of a source checkout)."""
    package = Path(__file__).resolve().parents[1]  # .../univoice
    for folder in (package / "examples", package.parents[1] / "examples"):
        if (folder / EXAMPLE_FILES[0]).is_file():
            return [folder / name for name in EXAMPLE_FILES if (folder / name).is_file()]
    return []
