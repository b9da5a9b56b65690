"""A flow in a provider's own language, for the console's document panel.

Two documents per provider: the call's first document (what ``univoice flow render``
prints: ``provider.compile_flow(flow)``), and the step the simulator is at, compiled as a
flow of its own (its branches included; the flow's say defaults and variables kept), so
that a person sees what each step becomes. Compiled by an offline instance of the
provider (``Provider.offline()``): no settings are read, so no credential can reach a
document. A provider that cannot run a step says why instead (its error's message).
"""

from __future__ import annotations

import json
from typing import Any

from lxml import etree

from univoice.errors import UnivoiceError
from univoice.flow import Flow
from univoice.flow.steps import Gather
from univoice.provider import Provider

MAX_SHOWN = 60_000  # characters of a document shown; the rest is cut with a note


def offline(name: str) -> Provider:
    from univoice.plugins import provider_class

    return provider_class(name).offline()


def documents(flow: Flow, provider: Provider, path: str | None) -> dict[str, Any]:
    first = _compiled(provider, flow)
    step = _compiled(provider, alone(flow, path)) if path else None
    return {"provider": provider.name, "title": provider.title, "first": first,
            "step": step, "path": path}


def alone(flow: Flow, path: str) -> Flow | UnivoiceError:
    """The step at ``path`` as a flow of its own (variables set earlier kept as inputs)."""
    step = dict(flow.walk()).get(path)
    if step is None:
        return UnivoiceError(f"the flow has no step {path!r}")
    names = {s.variable for _, s in flow.walk() if isinstance(s, Gather) and s.variable}
    return flow.model_copy(update={"steps": (step,), "record": False,
                                   "machine_detection": None,
                                   "inputs": tuple(sorted(names | set(flow.inputs)))})


def _compiled(provider: Provider, flow: Flow | UnivoiceError) -> dict[str, Any]:
    if isinstance(flow, UnivoiceError):
        return {"error": str(flow)}
    try:
        document = provider.compile_flow(flow)
    except UnivoiceError as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    body = pretty(document.body, document.media_type)
    if len(body) > MAX_SHOWN:
        body = body[:MAX_SHOWN] + f"\n… ({len(body) - MAX_SHOWN} more characters)"
    return {"media_type": document.media_type, "body": body}


def pretty(body: str, media_type: str) -> str:
    """Indented JSON or XML for reading (the body as it is when it does not parse)."""
    try:
        if "json" in media_type:
            return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
        if "xml" in media_type:
            parser = etree.XMLParser(resolve_entities=False, no_network=True,
                                     remove_blank_text=True, load_dtd=False)
            root = etree.fromstring(body.encode("utf-8"), parser)
            return etree.tostring(root, pretty_print=True, xml_declaration=True,
                                  encoding="UTF-8").decode("utf-8")
    except (ValueError, etree.XMLSyntaxError):
        return body
    return body
