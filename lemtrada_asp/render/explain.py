"""The whole criteria tree of one case, for a reviewer who wants more than the failures.

``decide`` shows only what failed (the minimal explanation); a reviewer checking a
decision, or a prescriber asking "what did you look at?", needs every criterion
the review evaluated, with its status and the case facts behind it. The tree and
every status are the record's (a Decision decided with details); this module only
orders and words them: failing branches first, so the reason for a denial is at
the top, then what is missing, then what passed, each group in the policy's order.
"""

from __future__ import annotations

from typing import Any

from ..engine.catalogue import at_least
from ..engine.record import Decision, Node
from .markup import markdown_escape
from .text import STATUS_WORDS, _course, printable

__all__ = ["as_markdown", "as_text", "tree"]

# Failing first: the order a reviewer reads a denial in.
STATUS_RANK = {"not_met": 0, "applies": 0, "undocumented": 1, "met": 2, "does_not_apply": 2}


def tree(decision: Decision) -> dict[str, Any]:
    """The explanation as plain data: the JSON form, and what text and markdown render."""
    if decision.tree is None:
        raise ValueError("the decision was made without details: decide it with details=True to explain it")
    name, revised = decision.guideline
    data = decision.to_json()
    return {
        "case_id": data["case_id"],
        "decision": data["decision"],
        "pend_reason": data["pend_reason"],
        "review_type": data["review_type"],
        "course": data.get("course"),
        "source": data["source"],
        "guideline": {"name": name, "revised": revised},
        "criteria": _failing_first([_node(n) for n in decision.tree]),
        "corrections": data.get("corrections"),
        "kb_version": data["kb_version"],
    }


def _node(n: Node) -> dict[str, Any]:
    node: dict[str, Any] = {"id": n.id, "title": n.title, "kind": n.kind, "status": n.status, "section": n.section}
    if n.children:
        node["children"] = _failing_first([_node(c) for c in n.children])
    else:
        node["facts"] = [e.text for e in n.facts]
        if n.needed:
            node["needed"] = n.needed
    return node


def _failing_first(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(nodes, key=lambda n: STATUS_RANK.get(n["status"], 3))  # stable: policy order within a group


# --- rendering --------------------------------------------------------------------

MARKS = {0: ("✗", "x", "red"), 1: ("?", "?", "yellow"), 2: ("✓", "+", "green")}


def _mark(status: str, unicode: bool) -> tuple[str, str | None]:
    glyph, ascii_glyph, colour = MARKS.get(STATUS_RANK.get(status, 3), ("-", "-", None))
    return (glyph if unicode else ascii_glyph), colour


def _count(node: dict[str, Any]) -> str:
    """An at-least-N node says so: its children are not all needed, nor any one."""
    n = at_least(node.get("kind", ""))
    return f" (at least {n} of {len(node.get('children', []))})" if n is not None else ""


def as_text(data: dict[str, Any], unicode: bool = True) -> str:
    """Indented, one node a line, a mark and (where click allows) a colour per status.

    Colour is added with click.style; click.echo removes it again when the output
    is not a terminal, so pipes and files get plain text.
    """
    import click

    head = data["decision"].upper() + (f" ({data['pend_reason'].replace('_', ' ')})" if data["pend_reason"] else "")
    lines = [
        click.style(f"{printable(data['case_id'])}: {head}", bold=True),
        f"  {data['review_type']} review{_course(data)}; source {printable(data['source'])}",
        f"  policy: {data['guideline']['name']}, revised {data['guideline']['revised']}",
        "",
    ]

    def walk(node: dict[str, Any], depth: int) -> None:
        glyph, colour = _mark(node["status"], unicode)
        indent = "  " * depth
        status = STATUS_WORDS.get(node["status"], node["status"])
        lines.append(
            f"{indent}{click.style(glyph, fg=colour, bold=True)} {node['id']:<8} {node['title']}{_count(node)}: "
            f"{click.style(status, fg=colour)}  [{node['section']}]"
        )
        for fact in node.get("facts", []):
            lines.append(f"{indent}    because {fact}")
        if node.get("needed"):
            lines.append(f"{indent}    needed: {node['needed']}")
        for child in node.get("children", []):
            walk(child, depth + 1)

    for node in data["criteria"]:
        walk(node, 0)
    if data.get("corrections"):
        lines += ["", "What would change the decision (fewest changes; any one set):"]
        for number, changes in enumerate(data["corrections"], 1):
            joined = " + ".join(f"{c['id']} {c['change']}" for c in changes)
            tag = "actionable" if all(c["actionable"] for c in changes) else "not actionable"
            lines.append(f"  {number}. {joined}  [{tag}]")
    return "\n".join(lines)


def as_markdown(data: dict[str, Any]) -> str:
    """Nested lists, so the tree survives in an issue, a wiki page or a ticket."""
    esc = markdown_escape
    head = data["decision"] + (f" ({data['pend_reason'].replace('_', ' ')})" if data["pend_reason"] else "")
    lines = [
        f"# {esc(data['case_id'])}: {head}",
        "",
        f"{data['review_type'].capitalize()} review{_course(data)}. Source: {esc(data['source'])}. "
        f"Policy: {esc(data['guideline']['name'])}, revised {esc(data['guideline']['revised'])}.",
        "",
    ]

    def walk(node: dict[str, Any], depth: int) -> None:
        glyph, _ = _mark(node["status"], True)
        indent = "  " * depth
        status = STATUS_WORDS.get(node["status"], node["status"])
        lines.append(f"{indent}- {glyph} **{esc(node['id'])}** {esc(node['title'])}{_count(node)}: **{status}** ({esc(node['section'])})")
        for fact in node.get("facts", []):
            lines.append(f"{indent}  - because {esc(fact)}")
        if node.get("needed"):
            lines.append(f"{indent}  - needed: {esc(node['needed'])}")
        for child in node.get("children", []):
            walk(child, depth + 1)

    for node in data["criteria"]:
        walk(node, 0)
    if data.get("corrections"):
        lines += ["", "## What would change the decision", "", "Fewest changes; any one set:", ""]
        for number, changes in enumerate(data["corrections"], 1):
            joined = " and ".join(f"**{esc(c['id'])}** {esc(c['change'])}" for c in changes)
            tag = "actionable" if all(c["actionable"] for c in changes) else "not actionable"
            lines.append(f"{number}. {joined} ({tag})")
    return "\n".join(lines) + "\n"
