"""What a compiler or the position index built for one flow object, kept while it lives.

A ``Flow`` is immutable, so anything derived from it stays true for its lifetime; the
webhook app keeps parsed flows (``Continuations.load_flow``), so the same object serves
call after call. Kept by identity with a weak reference: nothing here keeps a flow alive.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from univoice.flow.model import Flow

_KEPT: dict[tuple[int, str], tuple[weakref.ref[Flow], dict[Any, Any]]] = {}


def memo(flow: Flow, namespace: str) -> dict[Any, Any]:
    """The dict ``namespace`` keeps for ``flow`` (empty the first time)."""
    key = (id(flow), namespace)
    kept = _KEPT.get(key)
    if kept is not None and kept[0]() is flow:
        return kept[1]
    store: dict[Any, Any] = {}

    def forget(ref: weakref.ref[Flow], key: tuple[int, str] = key) -> None:
        if (entry := _KEPT.get(key)) is not None and entry[0] is ref:
            del _KEPT[key]

    _KEPT[key] = (weakref.ref(flow, forget), store)
    return store
