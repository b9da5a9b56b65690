"""Reading and writing flow documents (YAML, JSON) and the editor JSON Schema.

Parsing is strict where the libraries are lenient: a key written twice is an error, not
a silent last-one-wins, because in a menu that hides a branch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from univoice.errors import FlowIssue, FlowValidationError


class _StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe YAML loader that rejects duplicate keys."""


def _mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    out: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            duplicate = key in out
        except TypeError:  # an unhashable key, e.g. a list
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain value", key_node.start_mark
            ) from None
        if duplicate:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} appears twice in one mapping", key_node.start_mark
            )
        out[key] = loader.construct_object(value_node, deep=True)
    return out


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


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


MAX_NESTING = 200  # far deeper than any flow (branches nest 8 deep), far below a crash
# Below this size a document cannot nest deep enough to matter; above it, count first.
_CHECK_NESTING_ABOVE = 2 * MAX_NESTING


def _nesting_ok(text: str) -> bool:
    """Count nesting from parser events (no recursion): libyaml's loader recurses in C
    and crashes the interpreter on absurdly deep documents."""
    depth = 0
    for event in yaml.parse(text, Loader=_StrictLoader):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_NESTING:
                return False
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
    return True


def parse_yaml(text: str, source: str | None = None) -> Any:
    try:
        if len(text) > _CHECK_NESTING_ABOVE and not _nesting_ok(text):
            raise FlowValidationError(
                [FlowIssue("", f"document nests deeper than {MAX_NESTING} levels")],
                source=source)
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "document"
        if isinstance(exc, yaml.reader.ReaderError):
            where = f"character {exc.position + 1}"
            problem = f"{exc.reason} (#x{ord(exc.character):04x})" if isinstance(
                exc.character, str) else str(exc.reason)
        else:
            problem = getattr(exc, "problem", None) or str(exc)
        problem = " ".join(str(problem).split())  # one line, whatever PyYAML wrote
        raise FlowValidationError([FlowIssue(where, f"invalid YAML: {problem}")],
                                  source=source) from None
    except RecursionError:
        raise FlowValidationError([FlowIssue("", "document nests too deeply")],
                                  source=source) from None
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
        # PyYAML's constructors fail this way on values like `0x_` or `!!int abc`.
        raise FlowValidationError([FlowIssue("document", f"invalid YAML value: {exc}")],
                                  source=source) from None


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
    return yaml.dump(data, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper),
                     sort_keys=False, allow_unicode=True, width=100)


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
