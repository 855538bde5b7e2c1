"""Decisions as pictures: the criteria tree of one case, and a KB diff's report, as HTML pages.

Analysts and reviewers would rather look at a tree than read a 40-line indented
text, and at a chart of the transitions than at a long list. Each page is one
self-contained file: the CSS is inline, there is no script at all (nothing to load
from anywhere, so it opens the same from a mail attachment, a ticket or a disk).

The tree is drawn from the same data the text explanation renders
(render/explain.tree of a Decision decided with details); each node adds the
policy sentences its rule quotes (the KB's quotes/2 facts, analysis/trace.py).
Every status is shown by colour AND by a glyph and its words, so the page reads
the same without colour. Case text (ids, file names, infections) is hostile: the
templates autoescape everything, and the SVG charts are built here with every
label escaped.

``tree_html`` is the fragment (for the review desk to embed); ``explanation_page``
and ``diff_report`` are whole pages.
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from typing import Any, Callable, Iterable, Iterator, Mapping

import jinja2
from markupsafe import Markup, escape

from ..engine.catalogue import at_least
from ..engine.record import Decision
from .explain import STATUS_RANK, tree
from .text import STATUS_WORDS, outcome_label

__all__ = [
    "STATUS_MARKS",
    "TREES_AT_MOST",
    "Sentences",
    "criteria_changes",
    "criteria_svg",
    "decision_matrix",
    "diff_report",
    "explanation_page",
    "matrix_svg",
    "status_words",
    "transitions_svg",
    "tree_html",
]

# criterion id -> the policy sentences its rules quote: [{"text", "policy_line"}]
Sentences = Mapping[str, list[dict[str, Any]]]

# status -> (glyph, css class). The glyph and the status words carry the meaning; the
# class adds colour and a border style (solid: a failure, dashed: missing, thin: passed).
STATUS_MARKS = {
    "met": ("\u2713", "met"),
    "does_not_apply": ("\u2713", "does-not-apply"),
    "not_met": ("\u2717", "not-met"),
    "applies": ("\u2717", "applies"),
    "undocumented": ("?", "undocumented"),
}
# Changed cases a diff report draws with their two trees (about 35 KB of page each);
# the others are counted and listed, so a report on a large corpus still opens.
TREES_AT_MOST = 300
DECISION_MARKS = {"approve": "\u2713", "deny": "\u2717", "pend": "?"}


@lru_cache(maxsize=None)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("lemtrada_asp.render", "templates"),
        autoescape=True,  # every value is escaped unless it is Markup built here
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["words"] = status_words
    env.filters["glyph"] = lambda status: STATUS_MARKS.get(status, ("-", ""))[0]
    env.filters["css"] = lambda status: STATUS_MARKS.get(status, ("", "other"))[1]
    env.filters["count_words"] = _count_words
    env.filters["outcome"] = outcome_label
    env.filters["listed"] = _listed
    env.globals["DECISION_MARKS"] = DECISION_MARKS
    return env


def status_words(status: str) -> str:
    """A status in words (not_met: "not met"); diff's "not evaluated" stays as it is."""
    return STATUS_WORDS.get(status, status.replace("_", " "))


def _listed(value: Any) -> str:
    """A changed value as the text diff words it: a list joined, nothing as "none"."""
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "none"
    return "none" if value is None else str(value)


def _count_words(node: dict[str, Any]) -> str:
    """An at-least-N node says so: its children are not all needed, nor any one."""
    n = at_least(node.get("kind", ""))
    return f"at least {n} of {len(node.get('children', []))}" if n is not None else ""


def _tree_data(decision: Decision | dict[str, Any]) -> dict[str, Any]:
    return decision if isinstance(decision, dict) else tree(decision)


def _counts(data: dict[str, Any]) -> list[tuple[str, int]]:
    """How many nodes have each status, in the order a reviewer reads them (failing first)."""
    counts: Counter = Counter()

    def walk(node: dict[str, Any]) -> None:
        counts[node["status"]] += 1
        for child in node.get("children", []):
            walk(child)

    for node in data["criteria"]:
        walk(node)
    return sorted(counts.items(), key=lambda item: (STATUS_RANK.get(item[0], 3), item[0]))


def tree_html(decision: Decision | dict[str, Any], sentences: Sentences, anchor: str = "c",
              changed: Mapping[str, tuple[str, str]] | None = None) -> Markup:
    """The criteria tree of one decision as an HTML fragment (no page around it).

    decision is a record decided with details, or its explain tree (render/explain.tree).
    anchor prefixes every node's id (``{anchor}-I4.b``), so several trees fit in one page;
    changed marks the nodes whose status differs under another KB (diff).
    """
    data = _tree_data(decision)
    template = _environment().get_template("_tree.html.j2")
    return Markup(template.render(data=data, sentences=sentences, anchor=anchor, changed=changed or {},
                                  counts=_counts(data)))


def explanation_page(decision: Decision | dict[str, Any], sentences: Sentences, kb_name: str = "") -> str:
    """One case's explanation as a whole, self-contained HTML page."""
    data = _tree_data(decision)
    body = tree_html(data, sentences)
    return _environment().get_template("explain.html.j2").render(data=data, tree=body, kb_name=kb_name)


# --- diff -------------------------------------------------------------------------------


def criteria_changes(changes: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per criterion whose status changed in some case: in how many cases, and from what to what.

    Each change is a changed case as `diff --format json` prints it; the criterion that
    changed in most cases comes first, and within it its most frequent change.
    """
    cases: Counter = Counter()
    pairs: dict[str, Counter] = {}
    for change in changes:
        for ident, pair in change["statuses"].items():
            cases[ident] += 1
            pairs.setdefault(ident, Counter())[(pair["base"], pair["kb"])] += 1
    return [{"id": ident, "cases": n, "pairs": [{"base": a, "kb": b, "count": c} for (a, b), c in pairs[ident].most_common()]}
            for ident, n in cases.most_common()]


_BAR = 22  # px: one row of a chart
_LABEL = 480  # px: the label column at most
_CHAR = 7.2  # px: the width of a character of a label, about (13 px sans-serif)
_WIDTH = 420  # px: the longest bar


def transitions_svg(transitions: list[dict[str, Any]], title: str = "Transitions") -> Markup:
    """A horizontal bar per transition (base outcome -> edited outcome), its count written beside it."""
    rows = [(f"{t['from']} \u2192 {t['to']}", t["count"], _outcome_class(t["to"])) for t in transitions]
    return _bars(rows, title, "transitions")


DECISIONS = ("approve", "deny", "pend")
_CELL = (104, 40)  # px: a cell of the transition matrix


def decision_matrix(transitions: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    """(base decision, edited decision) -> changed cases, whatever the pend reasons."""
    cells = {(a, b): 0 for a in DECISIONS for b in DECISIONS}
    for t in transitions:
        key = (_outcome_class(t["from"]), _outcome_class(t["to"]))
        cells[key] = cells.get(key, 0) + t["count"]
    return cells


def matrix_svg(transitions: list[dict[str, Any]], title: str = "Changed cases by decision") -> Markup:
    """A 3 x 3 grid, base decision (rows) by edited decision (columns), each cell's count written in it.

    A cell's shade grows with its count (in the edited decision's colour); the number
    says the same for anyone who cannot tell the shades apart.
    """
    cells = decision_matrix(transitions)
    top = max(cells.values()) or 1
    w, h = _CELL
    left, head = 150, 48
    width, height = left + w * len(DECISIONS) + 8, head + h * len(DECISIONS) + 8
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart matrix" data-chart="matrix" role="img" width="{width}" '
             f'height="{height}" viewBox="0 0 {width} {height}" aria-labelledby="matrix-title">',
             f'<title id="matrix-title">{escape(title)}</title>',
             f'<text x="{left + w * len(DECISIONS) / 2:.0f}" y="14" text-anchor="middle" class="axis">edited decision \u2192</text>']
    for j, b in enumerate(DECISIONS):
        parts.append(f'<text x="{left + w * j + w / 2:.0f}" y="{head - 10}" text-anchor="middle" class="label">{b}</text>')
    for i, a in enumerate(DECISIONS):
        y = head + h * i
        parts.append(f'<text x="{left - 10}" y="{y + h / 2 + 5:.0f}" text-anchor="end" class="label">base {a}</text>')
        for j, b in enumerate(DECISIONS):
            n, x = cells[(a, b)], left + w * j
            shade = 0 if n == 0 else 0.15 + 0.45 * n / top
            parts.append(f'<g class="cell" data-from="{a}" data-to="{b}" data-count="{n}">'
                         f'<rect x="{x}" y="{y}" width="{w}" height="{h}" class="bar {b}" fill-opacity="{shade:.2f}" stroke="#8c959f"/>'
                         f'<text x="{x + w / 2:.0f}" y="{y + h / 2 + 5:.0f}" text-anchor="middle" class="count">{n}</text></g>')
    parts.append("</svg>")
    return Markup("".join(parts))


def criteria_svg(rows: list[dict[str, Any]], title: str = "Criteria whose status changed") -> Markup:
    """A bar per criterion and change of its status (base -> edited): in how many cases, coloured by the edited status."""
    out = [(f"{r['id']}: {status_words(p['base'])} \u2192 {status_words(p['kb'])}", p["count"], STATUS_MARKS.get(p["kb"], ("", "other"))[1])
           for r in rows for p in r["pairs"]]
    return _bars(out, title, "criteria")


def _outcome_class(label: str) -> str:
    return label.split(" ", 1)[0]  # approve | deny | pend (a pend reason follows in brackets)


def _bars(rows: list[tuple[str, int, str]], title: str, name: str) -> Markup:
    """An SVG bar chart, a row (label, count, css class) each: the label, the bar, the count in figures."""
    if not rows:
        return Markup("")
    top = max(r[1] for r in rows) or 1
    height = _BAR * len(rows) + 8
    column = min(_LABEL, 16 + int(_CHAR * max(len(r[0]) for r in rows)))  # px: the label column, as wide as the longest
    width = column + _WIDTH + 80
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="{escape(name)}" role="img" '
             f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" aria-labelledby="{escape(name)}-title">',
             f'<title id="{escape(name)}-title">{escape(title)}</title>']
    for i, (label, count, css) in enumerate(rows):
        y = 4 + i * _BAR
        w = max(1.0, _WIDTH * count / top)
        parts.append(f'<g class="row" data-label="{escape(label)}" data-count="{count}">'
                     f'<text x="{column - 8}" y="{y + 15}" text-anchor="end" class="label">{escape(label)}</text>'
                     f'<rect x="{column}" y="{y + 2}" width="{w:.1f}" height="{_BAR - 6}" class="bar {escape(css)}"/>'
                     f'<text x="{column + w + 6:.1f}" y="{y + 15}" class="count">{count}</text></g>')
    parts.append("</svg>")
    return Markup("".join(parts))


def diff_report(summary: dict[str, Any], changes: Callable[[], Iterable[dict[str, Any]]],
                base_sentences: Sentences, kb_sentences: Sentences) -> Iterator[str]:
    """The diff of a corpus as one self-contained HTML page, in pieces (write them in order).

    summary is `diff --format json`'s summary object; changes() gives the changed cases
    (each as `diff --format json` prints it, plus "trees": {"base", "kb"}, each side's
    explain tree, on the cases to draw), and is called more than once, so a large
    diff can stay in a file rather than in memory.
    """
    env = _environment()
    rows = criteria_changes(changes())
    page = env.get_template("diff.html.j2")
    context = {
        "summary": summary,
        "matrix_chart": matrix_svg(summary["transitions"], "Changed cases: base decision (rows) by edited decision (columns)"),
        "transitions_chart": transitions_svg(summary["transitions"], "Transitions: base outcome \u2192 edited outcome, cases"),
        "criteria_chart": criteria_svg(rows, "Criteria whose status changed: cases"),
        "criteria_rows": rows,
        "changes": _Numbered(changes),
        "drawn": sum(1 for change in changes() if change.get("trees")),
        "explained": _Explained(changes, base_sentences, kb_sentences),
        "words": status_words,
    }
    for chunk in page.generate(**context):
        yield chunk


class _Numbered:
    """The changed cases, numbered from 1 (the anchor of each), read again on every iteration."""

    def __init__(self, changes: Callable[[], Iterable[dict[str, Any]]]):
        self._changes = changes

    def __iter__(self) -> Iterator[tuple[int, dict[str, Any]]]:
        return enumerate(self._changes(), start=1)


class _Explained(_Numbered):
    """Each changed case with both sides' trees rendered, one at a time."""

    def __init__(self, changes, base_sentences: Sentences, kb_sentences: Sentences):
        super().__init__(changes)
        self._sentences = base_sentences, kb_sentences

    def __iter__(self):
        for n, change in super().__iter__():
            if not change.get("trees"):
                continue
            marks = {ident: (pair["base"], pair["kb"]) for ident, pair in change["statuses"].items()}
            trees = change["trees"]
            base, kb = self._sentences
            rendered = {side: tree_html(trees[side], sentences, anchor=f"case-{n}-{side}", changed=marks)
                        for side, sentences in (("kb", kb), ("base", base)) if trees.get(side)}
            present = {side: _ids(trees[side]["criteria"]) for side in rendered}
            links = [{"id": ident, "base": a, "kb": b,
                      "anchors": [(side, f"case-{n}-{side}-{ident}") for side in ("kb", "base") if ident in present.get(side, ())]}
                     for ident, (a, b) in marks.items()]
            yield n, change, rendered, links


def _ids(nodes: list[dict[str, Any]]) -> set[str]:
    found: set[str] = set()
    for node in nodes:
        found.add(node["id"])
        found |= _ids(node.get("children", []))
    return found
