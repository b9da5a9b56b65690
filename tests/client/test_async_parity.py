"""The async client mirrors the sync one: same resources, same methods, same parameters."""

from __future__ import annotations

import inspect

from univoice import AsyncVoice, Voice


def _public(obj: object) -> dict[str, inspect.Signature]:
    return {name: inspect.signature(member) for name, member in inspect.getmembers(obj)
            if not name.startswith("_") and callable(member)}


def test_every_resource_method_has_an_async_twin() -> None:
    sync, asynchronous = Voice(), AsyncVoice()
    resources = ["calls", "recordings", "transcriptions", "conferences", "flows", "webhooks"]
    for name in resources:
        s, a = _public(getattr(sync, name)), _public(getattr(asynchronous, name))
        assert set(s) == set(a), name
        for method, signature in s.items():
            assert list(signature.parameters) == list(a[method].parameters), (name, method)
            twin = getattr(getattr(asynchronous, name), method)
            # Lists return async pagers; everything else is awaited.
            pagers = ("list", "members", "recordings")
            assert inspect.iscoroutinefunction(twin) == (method not in pagers)
    sync.close()


def test_constructors_match() -> None:
    assert list(inspect.signature(Voice).parameters) == list(
        inspect.signature(AsyncVoice).parameters)
    assert list(inspect.signature(Voice.from_config).parameters) == list(
        inspect.signature(AsyncVoice.from_config).parameters)
