"""Is a knowledge base that loads also sound? `check-kb` in three passes.

1. The catalogue as data (catalogue.lp and wherever else its facts are): every
   id has a title and section, every node a known kind, inner nodes children,
   children are nodes, the tree has no cycle, every top-level criterion and
   exclusion has a place in policy_order; every leaf has a rule that derives a
   finding for it (looked up in the program ground over every possible case).
2. Every possible case (the abstract space, lemtrada_asp/space.py): clingo
   searches for a case with no or two decisions, a leaf left without a status,
   a node with two statuses, or no answer at all; each fault comes with one
   such case.
3. A probe corpus of generated cases through the real `decide` path, which
   also catches what the abstract search cannot (a KB with two answers).

Each problem says what is wrong and where (file:line of the fact, when the
fact is written in a file).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from clingo import Function, Symbol

from ..engine.catalogue import criterion_sort_key
from ..engine.errors import KnowledgeBaseError
from ..engine.knowledge import KnowledgeBase
from .properties import KbAnalysis

KINDS = ("leaf", "all_of", "any_of", "at_least", "exclusion")
PROBE_CASES = 300


@dataclass
class Finding:
    where: str  # file:line, or the knowledge base directory
    message: str
    severity: str = "problem"  # or "warning": reported, not unsound

    def __str__(self) -> str:
        return f"{self.where}: {self.severity}: {self.message}"


def check_kb(kb_dir: str | Path | None, analysis: KbAnalysis | None = None, probe: int = PROBE_CASES) -> list[Finding]:
    """Every problem and warning of a KB that loads (one that does not raises KnowledgeBaseError)."""
    analysis = analysis or KbAnalysis(kb_dir)
    findings = catalogue_findings(analysis)
    findings += [Finding(str(analysis.kb.directory), f"{text}, for the cases with {ex.summary}") for text, ex in analysis.faults()]
    findings += probe_findings(analysis.kb, probe)
    return findings


def catalogue_findings(analysis: KbAnalysis) -> list[Finding]:
    source = analysis.source
    program = analysis.program
    facts = _facts(program)
    default = str(analysis.kb.root)

    def where(symbol: Symbol) -> str:
        return source.where(symbol) or default

    found: list[Finding] = []
    titled = {args[0] for args in facts["criterion"]}
    kinds: dict[Symbol, list[Symbol]] = {}
    for ident, kind in facts["node"]:
        kinds.setdefault(ident, []).append(kind)
    children: dict[Symbol, list[Symbol]] = {}
    for parent, child in facts["child"]:
        children.setdefault(parent, []).append(child)
    ordered = {args[0] for args in facts["policy_order"]}

    for ident, title, section in facts["criterion"]:
        if not _text(title) or not _text(section):
            found.append(Finding(where(Function("criterion", [ident, title, section])), f"criterion {ident} has an empty title or section"))
    for ident, kind in facts["node"]:
        node = Function("node", [ident, kind])
        if ident not in titled:
            found.append(Finding(where(node), f"node {ident} has no criterion/3 fact (no title and section to cite)"))
        if kind.name not in KINDS:
            found.append(Finding(where(node), f"node {ident} has kind {kind}, which the evaluator does not know (expected {', '.join(KINDS)})"))
        if kind.name == "at_least" and not _at_least_fits(kind, children.get(ident, [])):
            found.append(Finding(where(node), f"node {ident} is {kind} but has {len(children.get(ident, []))} children: N must be a number from 1 to the number of children"))
        if kind.name in ("all_of", "any_of", "at_least") and not children.get(ident):
            found.append(Finding(where(node), f"node {ident} is {kind} but has no children (child/2)"))
        if kind.name in ("leaf", "exclusion") and children.get(ident):
            found.append(Finding(where(node), f"node {ident} is a {kind} but has children; a {kind} does not combine them"))
    for ident, declared in kinds.items():
        if len(set(map(str, declared))) > 1:
            found.append(Finding(where(Function("node", [ident, declared[1]])), f"node {ident} is declared with two kinds: {', '.join(sorted(map(str, declared)))}"))
    for parent, child in facts["child"]:
        edge = Function("child", [parent, child])
        if child not in kinds:
            found.append(Finding(where(edge), f"child {child} of {parent} is not declared as a node (node/2)"))
        if parent not in kinds:
            found.append(Finding(where(edge), f"parent {parent} of {child} is not declared as a node (node/2)"))
    for review, ident in facts["top"]:
        fact = Function("top", [review, ident])
        if ident not in kinds:
            found.append(Finding(where(fact), f"top-level criterion {ident} of the {review} review is not declared as a node"))
        if ident not in ordered:
            found.append(Finding(where(fact), f"top-level criterion {ident} has no policy_order/2: decisions could not list it in the policy's order"))
        if ident not in titled and ident not in kinds:
            found.append(Finding(where(fact), f"top-level criterion {ident} has no criterion/3 fact (no title and section to cite)"))
    for ident, declared in kinds.items():
        if any(k.name == "exclusion" for k in declared) and ident not in ordered:
            found.append(Finding(where(Function("node", [ident, declared[0]])), f"exclusion {ident} has no policy_order/2"))
    found += _cycles(children, where)

    reachable = _reachable(facts, children)
    judged = {a.arguments[1] for a in program.has_atom("a__finding", 4)}
    for ident, declared in sorted(kinds.items(), key=lambda item: criterion_sort_key(_text(item[0]))):
        kind = declared[0].name
        node = Function("node", [ident, declared[0]])
        if kind in ("leaf", "exclusion") and ident not in judged:
            what = "leaf" if kind == "leaf" else "exclusion"
            consequence = "it can never apply" if kind == "exclusion" else "every case that evaluates it is a fault"
            found.append(Finding(where(node), f"no rule derives a finding for {what} {ident}: {consequence}"))
        if kind != "exclusion" and ident not in reachable:
            found.append(Finding(where(node), f"node {ident} is not under any top-level criterion (top/2, child/2), so it is never evaluated", "warning"))
    return found


def probe_findings(kb: KnowledgeBase, n: int) -> list[Finding]:
    """Decide n generated cases with the real engine; a KB error on any is a problem."""
    if n <= 0:
        return []
    from ..case.model import validate_case
    from ..engine.engine import Engine
    from .generate import PARAMETERS, generate_cases

    params = kb.catalogue.params
    if any(name not in params for name in PARAMETERS):
        from ..engine.knowledge import KnowledgeBase as Shipped

        params = {**Shipped().catalogue.params, **params}
    engine = Engine(kb)
    cases = [validate_case(c, c["id"]) for c in generate_cases(n, 0, params=params)]
    try:
        for start in range(0, len(cases), 100):
            engine.decide([(c.id, c) for c in cases[start : start + 100]])
    except KnowledgeBaseError as exc:
        return [Finding(str(kb.directory), f"deciding generated probe cases: {exc.message}")]
    return []


def _facts(program) -> dict[str, list[list[Symbol]]]:
    """The catalogue facts of the KB as the analysis program grounds them (renamed a__)."""
    out: dict[str, list[list[Symbol]]] = {}
    for name, arity in (("criterion", 3), ("node", 2), ("child", 2), ("top", 2), ("policy_order", 2)):
        atoms = program.ctl.symbolic_atoms.by_signature(f"a__{name}", arity)
        out[name] = [list(a.symbol.arguments) for a in atoms if a.is_fact]
    return out


def _at_least_fits(kind: Symbol, children: list[Symbol]) -> bool:
    """at_least(N): one argument, a number from 1 to the number of children."""
    args = kind.arguments
    return len(args) == 1 and args[0].type.name == "Number" and 1 <= args[0].number <= len(children)


def _text(symbol: Symbol) -> str:
    return symbol.string.strip() if symbol.type.name == "String" else str(symbol)


def _reachable(facts: dict, children: dict[Symbol, list[Symbol]]) -> set[Symbol]:
    seen: set[Symbol] = set()
    stack = [args[1] for args in facts["top"]]
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(children.get(node, []))
    return seen


def _cycles(children: dict[Symbol, list[Symbol]], where) -> list[Finding]:
    found = []
    state: dict[Symbol, int] = {}

    def visit(node: Symbol, path: list[Symbol]) -> None:
        state[node] = 1
        for child in children.get(node, []):
            if state.get(child) == 1:
                cycle = path[path.index(child):] + [node, child] if child in path else [node, child]
                found.append(Finding(where(Function("child", [node, child])), "the criteria tree has a cycle: " + " -> ".join(str(c) for c in cycle)))
            elif child not in state:
                visit(child, path + [node])
        state[node] = 2

    for node in list(children):
        if node not in state:
            visit(node, [])
    return found
