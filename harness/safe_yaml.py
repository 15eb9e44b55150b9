"""Reading YAML safely: no Python tags, no duplicate keys, and no resource bombs; ``--set`` overrides.

Every problem is a UserError naming the source, and the line and column where the YAML has them.
"""

from __future__ import annotations

import copy
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import yaml

from .errors import UserError

YAML_MAX_BYTES = 1_000_000
YAML_MAX_DEPTH = 64  # nesting, counted after expanding aliases
YAML_MAX_NODES = 100_000  # scalars, lists and mappings, counted after expanding aliases
YAML_MAX_INT_BITS = 256


def short(text: str, width: int = 80) -> str:
    """``text``, cut to ``width`` characters with an ellipsis."""
    return text if len(text) <= width else text[: width - 3] + "..."


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses duplicate keys and resource bombs.

    Refused: nesting deeper than ``YAML_MAX_DEPTH``, a document whose aliases expand it past
    ``YAML_MAX_NODES`` nodes or that deep ("billion laughs"), an alias inside its own anchor, and an
    integer over ``YAML_MAX_INT_BITS`` bits. Each is checked before anything is built from the nodes.
    """

    depth = 0

    def compose_node(self, parent, index):
        self.depth += 1
        try:
            if self.depth > YAML_MAX_DEPTH:
                raise UserError(f"{_where(self.peek_event())}nested more than {YAML_MAX_DEPTH} levels deep")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_document(self, node):
        size, depth = expanded(node)
        if size is None:
            raise UserError(f"{_where(node)}an alias refers to a node that holds it (an endless document)")
        if size > YAML_MAX_NODES:
            raise UserError(f"{_where(node)}with its aliases expanded the document holds {size:,} values; "
                            f"at most {YAML_MAX_NODES:,} are allowed")
        if depth > YAML_MAX_DEPTH:
            raise UserError(f"{_where(node)}with its aliases expanded the document is nested {depth:,} levels deep; "
                            f"at most {YAML_MAX_DEPTH} are allowed")
        return super().construct_document(node)

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):  # SafeLoader refuses it, with its line, below
                continue
            if key in seen:
                raise UserError(f"{_where(key_node)}duplicate key {key!r}")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node):
        try:
            value = super().construct_yaml_int(node)
        except ValueError:  # more decimal digits than Python converts
            value = None
        if value is None or value.bit_length() > YAML_MAX_INT_BITS:
            raise UserError(
                f"{_where(node)}integer {short(node.value, 24)} is too large (at most {YAML_MAX_INT_BITS} bits)"
            )
        return value


_UniqueKeyLoader.add_constructor("tag:yaml.org,2002:int", _UniqueKeyLoader.construct_yaml_int)


def _where(node) -> str:
    mark = node.start_mark
    return f"line {mark.line + 1}, column {mark.column + 1}: "


def expanded(root: yaml.Node) -> tuple[int | None, int]:
    """(node count, depth) of the document with every alias expanded; (None, 0) if an alias is in its own anchor.

    Walks each distinct node once (without recursion), so a billion laughs is measured, not built.
    """
    size, depth, entered = {}, {}, set()
    stack = [root]
    while stack:
        node = stack[-1]
        children = _children(node)
        if id(node) not in entered:
            entered.add(id(node))
            for child in children:
                if id(child) in entered and id(child) not in size:  # an ancestor: a cycle
                    return None, 0
                stack.append(child)
            continue
        stack.pop()
        if id(node) not in size:
            size[id(node)] = 1 + sum(size[id(child)] for child in children)
            depth[id(node)] = 1 + max((depth[id(child)] for child in children), default=0)
    return size[id(root)], depth[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [child for pair in node.value for child in pair]
    return node.value if isinstance(node, yaml.SequenceNode) else []


def parse_yaml(text: str, source: str) -> Any:
    """Parse YAML safely; syntax errors and resource bombs become a UserError naming ``source``, line and column."""
    size = len(text.encode(errors="replace"))
    if size > YAML_MAX_BYTES:
        raise _too_large(source, size)
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)
    except UserError as exc:
        raise UserError(f"{source}: {exc}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise UserError(f"{source}: {where}{exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise UserError(f"{source}: invalid YAML: {exc}") from None
    except (ValueError, OverflowError) as exc:  # PyYAML's own crash on an escape such as "\UFFFFFFFF"
        raise UserError(f"{source}: invalid YAML: {exc}") from None


def _too_large(source: str, size: int) -> UserError:
    return UserError(f"{source}: {size:,} bytes; a config file may hold at most {YAML_MAX_BYTES:,}")


def read_mapping(path: Path) -> dict[str, Any]:
    """Read a YAML file whose top level must be a mapping."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: no such file")
    if path.is_dir():
        raise UserError(f"{path}: is a directory; expected a YAML file")
    try:
        if path.stat().st_size > YAML_MAX_BYTES:
            raise _too_large(str(path), path.stat().st_size)
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read: {exc}") from None
    data = parse_yaml(text, str(path))
    if data is None:
        raise UserError(f"{path}: the file is empty; expected a mapping of settings")
    if not isinstance(data, dict):
        raise UserError(f"{path}: the top level is a {type(data).__name__}; expected a mapping of settings")
    return data


def apply_sets(data: dict[str, Any], assignments: list[str]) -> dict[str, Any]:
    """Apply ``--set key.path=value`` overrides (values parsed as YAML) to a copy of ``data``."""
    data = copy.deepcopy(data)
    for assignment in assignments:
        key, sep, raw = assignment.partition("=")
        if not sep or not key or any(not part for part in key.split(".")):
            raise UserError(f"--set {assignment!r}: expected KEY.PATH=VALUE, e.g. --set base.steps=200")
        value = parse_yaml(raw, f"--set {key}") if raw.strip() else None
        *parents, last = key.split(".")
        node = data
        for part in parents:
            if not isinstance(node.get(part), dict):
                node[part] = {} if node.get(part) is None else _not_a_mapping(assignment, part)
            node = node[part]
        node[last] = value
    return data


def _not_a_mapping(assignment: str, part: str):
    raise UserError(f"--set {assignment!r}: {part!r} is not a mapping, so it has no sub-keys")
