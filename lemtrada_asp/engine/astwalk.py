"""Walking clingo's AST: one definition of "the nodes below" for every reader of rules.

The derivation (derive.py), the workbench's program analyses and the service's
settle table all read rules as clingo parses them; each needs a node's children,
and a rule's body or head arrives as a sequence of nodes rather than a node.
"""

from __future__ import annotations

from typing import Any, Iterator

from clingo import ast

__all__ = ["children", "walk"]


def children(node: ast.AST) -> Iterator[ast.AST]:
    """The AST nodes directly below node, in child_keys order."""
    for key in node.child_keys:
        value = getattr(node, key)
        if isinstance(value, ast.AST):
            yield value
        elif value is not None and not isinstance(value, (str, int)):
            yield from (v for v in value if isinstance(v, ast.AST))


def walk(node: Any) -> Iterator[ast.AST]:
    """node (an AST node, or a sequence of them such as a rule's body) and every node below, parents first."""
    if isinstance(node, ast.AST):
        yield node
        for child in children(node):
            yield from walk(child)
    elif node is not None and not isinstance(node, (str, int)):
        for item in node:
            yield from walk(item)
