"""YAML case files, read the YAML 1.2 way with plain data only (see loading.py).

A module of its own so that reading JSON never imports PyYAML.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from .limits import MAX_DIGITS, MAX_NESTING, RefusedNumber, field_path, show
from .errors import Unreadable

_YAML = "tag:yaml.org,2002:"
_YAML_INT = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")


class _Refused(yaml.MarkedYAMLError):
    """Something YAML allows and a case file does not, with the field it is under."""

    def __init__(self, problem: str, mark, field: str = ""):
        super().__init__("while reading a case", None, problem, mark)
        self.field = field


class _CaseYamlLoader(yaml.SafeLoader):
    """YAML for case files: plain data only, read the YAML 1.2 way.

    YAML 1.1 reads ``NO`` (Norway) and ``yes``/``off`` as booleans and ``012`` as
    octal ten; in a case file those are a state code, typos, and twelve. Aliases
    let a few lines expand into billions of nodes (billion laughs) and tags
    construct objects; no case needs either. Nesting is counted while composing,
    so a deep document stops at MAX_NESTING, long before the stack.
    """

    def __init__(self, stream):
        super().__init__(stream)
        self._path: list[Any] = []
        self._depth = 0

    def compose_node(self, parent, index):  # noqa: D401 - PyYAML hook
        event = self.peek_event()
        part = index.value if isinstance(index, yaml.ScalarNode) else "?" if isinstance(index, yaml.Node) else index
        self._path.append(part)
        try:
            if isinstance(event, yaml.AliasEvent):
                raise self._refused("YAML aliases (*name) are not allowed in case files", event)
            if event.tag not in (None, "!", _YAML + "str"):
                tag = "!!" + event.tag.removeprefix(_YAML) if event.tag.startswith(_YAML) else event.tag
                raise self._refused(f"YAML tag {show(tag)} is not allowed in case files (plain values only)", event)
            if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                if self._depth >= MAX_NESTING:
                    raise self._refused(f"nested more than {MAX_NESTING} levels deep; a case nests at most 3", event)
                self._depth += 1
                try:
                    return super().compose_node(parent, index)
                finally:
                    self._depth -= 1
            return super().compose_node(parent, index)
        finally:
            self._path.pop()

    def _refused(self, problem: str, event) -> _Refused:
        return _Refused(problem, event.start_mark, field_path(p for p in self._path if p is not None))

    def construct_mapping(self, node, deep=False):
        keys = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                kind = "a list" if isinstance(key_node, yaml.SequenceNode) else "a mapping"
                raise _Refused(f"a field name must be text, got {kind}", key_node.start_mark)
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, str):
                raise _Refused(f"a field name must be text, got {show(key)}", key_node.start_mark)
            if key in keys:
                raise _Refused(f"duplicate key {show(key)}: a case must say each thing once", key_node.start_mark)
            keys.add(key)
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node):
        text = self.construct_scalar(node)
        sign, digits, base = "", text, 10
        if digits[:1] in ("+", "-"):
            sign, digits = digits[:1], digits[1:]
        if digits.startswith(("0o", "0x")):
            digits, base = digits[2:], 8 if digits[1] == "o" else 16
        if len(digits) > MAX_DIGITS:
            return RefusedNumber.long(text)
        return int(sign + digits, base)  # "012" is twelve, as in YAML 1.2 and JSON readers' eyes

    def construct_yaml_timestamp(self, node):
        # 2026-02-30 looks like a date but is none: hand the text to the validator,
        # which names the field, instead of failing here with datetime's message.
        try:
            return super().construct_yaml_timestamp(node)
        except (ValueError, OverflowError):
            return self.construct_scalar(node)


_CaseYamlLoader.add_constructor(_YAML + "int", _CaseYamlLoader.construct_yaml_int)
_CaseYamlLoader.add_constructor(_YAML + "timestamp", _CaseYamlLoader.construct_yaml_timestamp)
# YAML 1.1's booleans, integers (octal 012, 1_000, sexagesimal 1:20), merge keys (<<)
# and value keys (=) go; YAML 1.2's booleans and integers come in.
_CaseYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in {_YAML + t for t in ("bool", "int", "merge", "value")}]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_CaseYamlLoader.add_implicit_resolver(
    _YAML + "bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)
_CaseYamlLoader.add_implicit_resolver(_YAML + "int", _YAML_INT, list("-+0123456789"))


def yaml_error_place(exc: yaml.MarkedYAMLError) -> str:
    """' at line L column C: what is wrong', at the line the writer must fix.

    PyYAML notices an unclosed bracket or quote only where the text goes on without it,
    often the next line; its context mark is where that bracket or quote was opened,
    which is the line to fix (a YAML error on line 5 is reported at line 5, not 6).
    """
    problem, context = exc.problem_mark, exc.context_mark
    unclosed = bool(exc.context) and ("flow" in exc.context or exc.context.startswith("while scanning"))
    mark = context if unclosed and context is not None else problem
    where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
    said = f"{exc.context}, " if exc.context and exc.context != exc.problem else ""
    noticed = (f" (noticed at line {problem.line + 1} column {problem.column + 1})"
               if mark is not problem and problem is not None and problem.line != mark.line else "")
    return f"{where}: {said}{exc.problem}{noticed}"


def load_yaml(text: str) -> Any:
    try:
        return yaml.load(text, Loader=_CaseYamlLoader)  # noqa: S506 - a SafeLoader subclass
    except _Refused as exc:
        mark = exc.problem_mark
        raise Unreadable(f"{exc.problem} (line {mark.line + 1} column {mark.column + 1})", exc.field) from None
    except yaml.MarkedYAMLError as exc:
        raise Unreadable(f"malformed YAML{yaml_error_place(exc)}") from None
    except Exception as exc:  # noqa: BLE001 - whatever the YAML library trips on is the input's fault
        raise Unreadable(f"malformed YAML: {type(exc).__name__}: {show(str(exc))}") from None
