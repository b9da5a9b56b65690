"""Reading and writing flow documents (YAML, JSON) and the editor JSON Schema.

Parsing is strict where the libraries are lenient: a key written twice is an error, not
a silent last-one-wins, because in a menu that hides a branch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from univoice.errors import FlowIssue, FlowValidationError


def read_source(source: str | Path, suffixes: tuple[str, ...]) -> tuple[str, str | None]:
    """Return (text, file name) for a path, or for a string that is itself the document.

    A one-line string ending in one of ``suffixes`` is taken as a file name.
    """
    if isinstance(source, str) and ("\n" in source or not source.endswith(suffixes)):
        return source, None
    path = Path(source)
    try:
        return path.read_text(encoding="utf-8"), str(path)
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise FlowValidationError([FlowIssue("", f"cannot read {path}: {reason}")],
                                  source=str(path)) from None


def parse_yaml(text: str, source: str | None = None) -> Any:
    from univoice.flow.yamldoc import parse_yaml as parse  # yaml loads on first use

    return parse(text, source)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"key {key!r} appears twice in one object")
        out[key] = value
    return out


def parse_json(text: str | bytes, source: str | None = None) -> Any:
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise FlowValidationError(
            [FlowIssue(f"line {exc.lineno}, column {exc.colno}", f"invalid JSON: {exc.msg}")],
            source=source,
        ) from None
    except (ValueError, RecursionError) as exc:
        msg = "document nests too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise FlowValidationError([FlowIssue("", f"invalid JSON: {msg}")],
                                  source=source) from None


def dump_yaml(data: Any) -> str:
    from univoice.flow.yamldoc import dump_yaml as dump

    return dump(data)


def dump_json(data: Any, indent: int | None = 2) -> str:
    return json.dumps(data, indent=indent, ensure_ascii=False)


def editor_schema(schema: dict[str, Any], shorthands: dict[str, str],
                  bare: frozenset[str]) -> dict[str, Any]:
    """Rewrite pydantic's schema of the model into the schema of the written document.

    The model holds steps tagged by a ``kind`` field; documents write them externally
    tagged (``{say: {...}}``), with shorthands: ``say: text`` fills the field named in
    ``shorthands``, a kind in ``bare`` may stand alone (``- hangup``), a branch may be a
    bare list of steps and a prompt a single string.
    """
    defs: dict[str, Any] = schema.get("$defs", {})

    def step_union(mapping: dict[str, str]) -> dict[str, Any]:
        alternatives: list[dict[str, Any]] = []
        for tag, ref in mapping.items():
            body: dict[str, Any] = {"$ref": ref}
            field = shorthands.get(tag)
            if field is not None:
                short = defs[ref.rsplit("/", 1)[-1]]["properties"][field]
                body = {"anyOf": [body, _scalar(short)]}
            if tag in bare:
                body = {"anyOf": [body, {"type": "null"}]}
            alternatives.append({"type": "object", "additionalProperties": False,
                                 "required": [tag], "properties": {tag: body}})
        alternatives += [{"const": tag} for tag in mapping if tag in bare]
        return {"oneOf": alternatives}

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            disc = node.get("discriminator")
            if disc and disc.get("propertyName") == "kind":
                return step_union(disc["mapping"])
            return {k: rewrite(v) for k, v in node.items()}
        if isinstance(node, list):
            return [rewrite(v) for v in node]
        return node

    out: dict[str, Any] = rewrite(schema)
    for name, definition in out.get("$defs", {}).items():
        props = definition.get("properties", {})
        if "kind" in props:
            del props["kind"]
            if "kind" in definition.get("required", []):
                definition["required"].remove("kind")
        if name == "Branch":  # a branch may be written as its bare list of steps
            out["$defs"][name] = {"anyOf": [definition, props["steps"]]}
        if name == "Gather":  # a prompt may be one string or one step
            prompt = props["prompt"]
            step = prompt["items"]
            prompt["items"] = {"anyOf": [step, {"type": "string"}]}  # a string is said
            props["prompt"] = {"anyOf": [prompt, {"type": "string"}, step]}
    out["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return out


def _scalar(field: dict[str, Any]) -> dict[str, Any]:
    """The scalar a shorthand may use for ``field`` (a list field takes one item)."""
    if field.get("type") == "array":
        items: dict[str, Any] = field["items"]
        return items
    return {k: v for k, v in field.items() if k not in ("default", "title")}
