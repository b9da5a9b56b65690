"""YAML flow documents: a strict safe loader (duplicate keys, absurd nesting, bad
values are ``FlowValidationError``s) and a readable dumper. Imported on first use."""

from __future__ import annotations

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


def dump_yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper),
                     sort_keys=False, allow_unicode=True, width=100)


