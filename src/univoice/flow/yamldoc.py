"""YAML flow documents: a strict safe loader (duplicate keys, absurd nesting, aliases that
expand past any real flow, bad values are ``FlowValidationError``s) and a readable dumper.
Imported on first use."""

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
# Nodes of a document once its aliases are expanded. Aliases (``*menu``) are shared when
# loaded but walked once per use when validated, so a few hundred bytes of aliases of
# aliases ("billion laughs") would take hours; a flow at every limit is far smaller.
MAX_EXPANDED = 100_000


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


def _expanded(root: yaml.Node) -> str | None:
    """Why the document is too big once its aliases are expanded, or None. Each node is
    sized once (aliases share nodes), without recursion."""
    sizes: dict[int, tuple[int, int]] = {}  # id(node) -> (nodes, depth), aliases expanded
    open_: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if isinstance(node, yaml.ScalarNode):
            sizes[key] = (1, 0)
            continue
        if isinstance(node, yaml.MappingNode):
            kids = [part for pair in node.value for part in pair]
        else:
            kids = list(node.value)
        if not children_done:
            if key in sizes:
                continue
            if key in open_:
                return "an alias refers to the node that contains it"
            open_.add(key)
            stack.append((node, True))
            stack.extend((kid, False) for kid in kids if id(kid) not in sizes)
            continue
        open_.discard(key)
        found = [sizes.get(id(kid)) for kid in kids]
        if any(size is None for size in found):  # a kid still open: a cycle
            return "an alias refers to the node that contains it"
        nodes = 1 + sum(size[0] for size in found if size)
        depth = 1 + max((size[1] for size in found if size), default=0)
        if nodes > MAX_EXPANDED:
            return f"aliases expand the document past {MAX_EXPANDED:,} nodes"
        if depth > MAX_NESTING:
            return f"aliases nest the document deeper than {MAX_NESTING} levels"
        sizes[key] = (nodes, depth)
    return None


def _load(text: str, source: str | None) -> Any:
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if "*" in text:  # only aliases can make the loaded document bigger than the text
            problem = _expanded(node)
            if problem is not None:
                raise FlowValidationError([FlowIssue("", problem)], source=source)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def parse_yaml(text: str, source: str | None = None) -> Any:
    try:
        if len(text) > _CHECK_NESTING_ABOVE and not _nesting_ok(text):
            raise FlowValidationError(
                [FlowIssue("", f"document nests deeper than {MAX_NESTING} levels")],
                source=source)
        return _load(text, source)
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


