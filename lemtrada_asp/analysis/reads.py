"""What a knowledge base reads of a case, and whether the abstract space can follow it.

The abstract space (space.py) cuts each numeric input at the integers the KBs
compare it with, and gives each list a fixed number of entries. That is exact
only while the KB reads its inputs in ways the cut points and entry counts
capture. This module walks every rule (clingo.ast) and works out:

- counts over lists: a ``#count`` over a list input with threshold t needs
  t + 1 entries, named or not; a rule that joins k entries of one list needs k.
  A count over a *derived* predicate needs as many entries of every list that
  predicate is derived from, through any chain of rules (``qualified(K, D) :-
  dmt_trial(K, _, D, failed)`` counted ``>= 2`` needs three dmt_history
  entries), times the entries one derived atom joins. The space grows its
  unnamed-DMT slots to match; any other list it cannot grow, or a count whose
  threshold cannot be read or whose chain is recursive, makes the search
  incomplete, with the rule's file:line;
- arithmetic on numeric inputs: ``A + c`` or ``A - c`` compared with a number
  shifts the cut points by c (added); anything else (``A * 2``, a comparison of
  two inputs, ...) widens the input to every value of its range, or, when the
  range is too long to enumerate, makes the search incomplete;
- values carried into derived predicates are followed, to a fixpoint;
- input predicates the case model gives but the space does not enumerate: the
  search is incomplete for them.

Whatever cannot be followed is a reason in ``Reads.incomplete``; the impact
analysis prints it and never calls such a search complete.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import clingo
from clingo import ast

from ..engine.astwalk import children

# numeric input predicates: argument position -> the space's dimension
NUMERIC = {
    ("age", 1): "age",
    ("chart_months_back", 1): "chart_date",
    ("months_since_last_dose", 2): "last dose",
    ("request_dose", 1): "request.dose_mg_per_day",
    ("request_days", 1): "request.days",
}
RANGES = {"age": (0, 120), "chart_date": (0, 120), "last dose": (0, 240), "request.dose_mg_per_day": (1, 1000),
          "request.days": (1, 60), "lemtrada_courses": (1, 31)}
WIDEST = 250  # a numeric input is widened to every value only when its range has at most this many
# list inputs: how many entries the space gives (dmt_trial grows: see space.build_space)
CAPACITY = {"concurrent_dmt": 1, "active_infection": 1, "response_objective": 1, "response_symptom": 1,
            "diagnosis_code": 2, "months_since_last_dose": 1, "running_course": 1}
COUNTED = {"prior_course": "lemtrada_courses"}  # lists the space enumerates as a number of entries


@dataclass
class Reads:
    demand: dict[str, int] = field(default_factory=dict)  # list predicate -> entries some rule needs
    demand_at: dict[str, str] = field(default_factory=dict)  # list predicate -> file:line of the count that needs the most
    shifts: set[int] = field(default_factory=set)  # constants added to numeric inputs
    widen: set[str] = field(default_factory=set)  # numeric dimensions to enumerate fully
    compared: set[int] = field(default_factory=set)  # integers of data facts that inputs are compared with
    incomplete: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def merge(self, other: "Reads") -> "Reads":
        demand, demand_at = dict(self.demand), dict(self.demand_at)
        for k, v in other.demand.items():
            if v > demand.get(k, 0):
                demand[k] = v
                if k in other.demand_at:
                    demand_at[k] = other.demand_at[k]
        return Reads(demand, demand_at, self.shifts | other.shifts, self.widen | other.widen, self.compared | other.compared,
                     _unique(self.incomplete + other.incomplete), _unique(self.notes + other.notes))


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _where(node: ast.AST) -> str:
    begin = node.location.begin
    name = begin.filename.rsplit("/", 2)
    return f"{'/'.join(name[-2:]) if len(name) > 1 else begin.filename}:{begin.line}"


def _variables(node: ast.AST) -> set[str]:
    found = set()
    if node.ast_type == ast.ASTType.Variable and node.name != "_":
        found.add(node.name)
    for child in children(node):
        found |= _variables(child)
    return found


def _atoms(literals: Iterable[ast.AST], positive_only: bool = True) -> Iterable[ast.AST]:
    """Function terms of plain atoms among body literals (conditions of aggregates included)."""
    for literal in literals:
        if literal.ast_type == ast.ASTType.ConditionalLiteral:
            yield from _atoms([literal.literal], positive_only)
            yield from _atoms(literal.condition, positive_only)
            continue
        if literal.ast_type != ast.ASTType.Literal:
            continue
        if positive_only and literal.sign != ast.Sign.NoSign:
            continue
        a = literal.atom
        if a.ast_type == ast.ASTType.SymbolicAtom and a.symbol.ast_type == ast.ASTType.Function:
            yield a.symbol


def _shift(term: ast.AST, var: str) -> int | None:
    """c when term is var + c or var - c (c an integer); 0 when term is var; else None."""
    if term.ast_type == ast.ASTType.Variable and term.name == var:
        return 0
    if term.ast_type == ast.ASTType.BinaryOperation and term.operator_type in (ast.BinaryOperator.Plus, ast.BinaryOperator.Minus):
        left, right = term.left, term.right
        if left.ast_type == ast.ASTType.Variable and left.name == var and right.ast_type == ast.ASTType.SymbolicTerm \
                and right.symbol.type == clingo.SymbolType.Number:
            c = right.symbol.number
            return c if term.operator_type == ast.BinaryOperator.Plus else -c
    return None


def analyse(statements: Iterable[ast.AST], given_by_case_model: Iterable[str] = (), enumerated: Iterable[str] = (),
            facts: Iterable[clingo.Symbol] = ()) -> Reads:
    reads = Reads()
    values: dict[tuple[str, int], set[int]] = {}
    for fact in facts:
        for position, arg in enumerate(fact.arguments):
            if arg.type == clingo.SymbolType.Number:
                values.setdefault((fact.name, position), set()).add(arg.number)
    rules = []
    heads: set[tuple[str, int]] = set()
    for statement in statements:
        if statement.ast_type != ast.ASTType.Rule:
            continue
        for plain in statement.unpool():
            rules.append(plain)
            head = plain.head
            if head.ast_type == ast.ASTType.Literal and head.atom.ast_type == ast.ASTType.SymbolicAtom \
                    and head.atom.symbol.ast_type == ast.ASTType.Function:
                heads.add((head.atom.symbol.name, len(head.atom.symbol.arguments)))
            for element in getattr(head, "elements", []) or []:
                inner = getattr(element, "literal", None)
                if inner is not None and inner.atom.ast_type == ast.ASTType.SymbolicAtom:
                    heads.add((inner.atom.symbol.name, len(inner.atom.symbol.arguments)))
    numeric = dict(NUMERIC)  # grows as values flow into derived predicates
    changed = True
    while changed:
        changed = False
        for rule in rules:
            bound = _bound(rule.body, numeric)
            head = rule.head
            if not bound or head.ast_type != ast.ASTType.Literal or head.atom.ast_type != ast.ASTType.SymbolicAtom:
                continue
            symbol = head.atom.symbol
            if symbol.ast_type != ast.ASTType.Function:
                continue
            for position, arg in enumerate(symbol.arguments):
                for var, dim in bound.items():
                    c = _shift(arg, var)
                    if c is None and var in _variables(arg) and arg.ast_type != ast.ASTType.Function:
                        reads.widen.add(dim)  # the value is transformed on its way into a derived predicate
                        c = 0
                    if c is not None and (symbol.name, position) not in numeric:
                        numeric[(symbol.name, position)] = dim
                        if c:
                            reads.shifts.add(c)
                        changed = True
    carry, recursive = _reach(rules)
    for rule in rules:
        _comparisons(rule, numeric, reads, values)
        _lists(rule, reads, values, carry, recursive)
    given = set(given_by_case_model) - set(enumerated)
    for rule in rules:
        for literal_atom in _atoms(rule.body, positive_only=False):
            if literal_atom.name in given:
                reads.incomplete.append(f"{_where(literal_atom)}: reads {literal_atom.name}/{len(literal_atom.arguments)}, "
                                        "an input the case model gives but the abstract space does not enumerate")
    for dim in sorted(reads.widen):
        low, high = RANGES[dim]
        if high - low + 1 > WIDEST:
            reads.incomplete.append(f"{dim}: the KB transforms or compares this input in a way the cut points do not follow, "
                                    f"and its range {low}..{high} is too long to enumerate")
    reads.incomplete = _unique(reads.incomplete)
    return reads


def _bound(body: Iterable[ast.AST], numeric: dict[tuple[str, int], str]) -> dict[str, str]:
    bound: dict[str, str] = {}
    for function in _atoms(body):
        for position, arg in enumerate(function.arguments):
            dim = numeric.get((function.name, position))
            if dim and arg.ast_type == ast.ASTType.Variable and arg.name != "_":
                bound[arg.name] = dim
    return bound


def _comparisons(rule: ast.AST, numeric: dict[tuple[str, int], str], reads: Reads, values: dict[tuple[str, int], set[int]]) -> None:
    bound = _bound(rule.body, numeric)
    if not bound:
        return
    data: dict[str, set[int]] = {}
    for function in _atoms(rule.body):
        for position, arg in enumerate(function.arguments):
            if arg.ast_type == ast.ASTType.Variable and (function.name, position) in values:
                data.setdefault(arg.name, set()).update(values[(function.name, position)])
    for literal in rule.body:
        if literal.ast_type != ast.ASTType.Literal or literal.atom.ast_type != ast.ASTType.Comparison:
            continue
        comparison = literal.atom
        terms = [comparison.term, *(g.term for g in comparison.guards)]
        inputs = [sorted(_variables(t) & set(bound)) for t in terms]
        touched = [i for i, vs in enumerate(inputs) if vs]
        if not touched:
            continue
        if len(touched) > 1:  # two inputs compared with each other
            for i in touched:
                reads.widen.update(bound[v] for v in inputs[i])
            continue
        i = touched[0]
        var = inputs[i][0]
        for j, t in enumerate(terms):
            if j != i:
                for v in _variables(t):
                    reads.compared |= data.get(v, set())
        c = _shift(terms[i], var) if len(inputs[i]) == 1 else None
        others = [t for j, t in enumerate(terms) if j != i]
        if c is None or any(t.ast_type == ast.ASTType.BinaryOperation or t.ast_type == ast.ASTType.UnaryOperation for t in others):
            reads.widen.add(bound[var])
        elif c:
            reads.shifts.add(-c)


LISTS = frozenset(CAPACITY) | {"dmt_trial"} | frozenset(COUNTED)
MAX_CHAIN = 8  # a derived position resting on more list entries than this: read as recursive

Carry = dict[tuple[str, int], dict[str, int]]  # (predicate, argument position) -> {list: entries one value rests on}


def _carried(atoms: Iterable[ast.AST], carry: Carry) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
    """Per variable, the lists whose entries it is bound to (and how many each); per list, the entries the atoms join."""
    by_var: dict[str, dict[str, int]] = {}
    joined: dict[str, int] = {}
    for function in atoms:
        own: dict[str, int] = {}
        for position, arg in enumerate(function.arguments):
            lists = carry.get((function.name, position))
            if not lists:
                continue
            for var in _variables(arg):
                mine = by_var.setdefault(var, {})
                for listed, k in lists.items():
                    mine[listed] = max(mine.get(listed, 0), k)
            for listed, k in lists.items():
                own[listed] = max(own.get(listed, 0), k)
        for listed, k in own.items():
            joined[listed] = joined.get(listed, 0) + k
    return by_var, joined


def _reach(rules: list[ast.AST]) -> tuple[Carry, set[str]]:
    """Which argument positions of derived predicates carry the identity of list entries, through any chain of rules.

    A list input carries its entries in every argument but the case key. A head
    argument carries a list when a variable in it is bound, in the rule's
    positive body, at a position that carries that list; one value of it rests on
    as many entries as the body joins. Statuses, ranks and other values drawn
    from data carry nothing, so the engine's aggregates over statuses need no
    entries. A position whose entries keep growing (recursion) cannot be bounded:
    its predicate is returned apart.
    """
    carry: Carry = {(name, position): {name: 1} for name in LISTS for position in range(1, 5)}
    recursive: set[str] = set()
    heads = []
    for rule in rules:
        head = rule.head
        if head.ast_type == ast.ASTType.Literal and head.atom.ast_type == ast.ASTType.SymbolicAtom \
                and head.atom.symbol.ast_type == ast.ASTType.Function and head.atom.symbol.name not in LISTS:
            heads.append((head.atom.symbol, rule))
    for _ in range(MAX_CHAIN + 2):
        changed = False
        for symbol, rule in heads:
            if symbol.name in recursive:
                continue
            by_var, joined = _carried(_atoms(rule.body), carry)
            for position, arg in enumerate(symbol.arguments):
                lists = {listed for var in _variables(arg) for listed in by_var.get(var, {})}
                if not lists:
                    continue
                mine = carry.setdefault((symbol.name, position), {})
                for listed in lists:
                    k = joined.get(listed, 1)
                    if k > mine.get(listed, 0):
                        mine[listed] = k
                        changed = True
                        if k > MAX_CHAIN:
                            recursive.add(symbol.name)
        if not changed:
            break
    else:  # still growing after MAX_CHAIN rounds: a cycle
        recursive |= {symbol.name for symbol, _ in heads if any(name == symbol.name for name, _ in carry)}
    return carry, recursive


def _lists(rule: ast.AST, reads: Reads, values: dict[tuple[str, int], set[int]],
           carry: Carry | None = None, recursive: set[str] = frozenset()) -> None:
    carry = carry or {}
    counts: dict[str, int] = {}
    for function in _atoms(rule.body):
        if function.name in LISTS:
            counts[function.name] = counts.get(function.name, 0) + 1
    for name, k in counts.items():
        if k > 1:
            reads.demand[name] = max(reads.demand.get(name, 0), k)
    for literal in rule.body:
        if literal.ast_type != ast.ASTType.Literal or literal.atom.ast_type != ast.ASTType.BodyAggregate:
            continue
        aggregate = literal.atom
        read: dict[str, int] = {}  # list -> entries one element of the aggregate rests on
        loops: set[str] = set()
        for element in aggregate.elements:
            condition = list(_atoms(element.condition, positive_only=False))
            for function in condition:
                if function.name in LISTS:  # a list read directly: every entry may count
                    read[function.name] = max(read.get(function.name, 0), 1)
            # a derived predicate counts entries only when the counted terms carry them
            by_var, joined = _carried([f for f in condition if f.name not in LISTS], carry)
            for var in set().union(*(_variables(t) for t in element.terms)) if element.terms else set():
                for listed in by_var.get(var, {}):
                    read[listed] = max(read.get(listed, 0), joined.get(listed, 1))
            loops |= {f.name for f in condition if f.name in recursive}
        for name in sorted(loops):
            reads.incomplete.append(f"{_where(aggregate)}: an aggregate over {name}, which is derived recursively from the "
                                    "case's lists: the entries it needs cannot be bounded")
        if not read:
            continue
        threshold = _threshold(aggregate, rule, values)
        for name, per in sorted(read.items()):
            if name in COUNTED and aggregate.function == ast.AggregateFunction.Count:
                continue  # the space enumerates this list as a count (cut at the integers compared with)
            if aggregate.function != ast.AggregateFunction.Count or threshold is None:
                reads.incomplete.append(f"{_where(aggregate)}: an aggregate over {name} whose threshold the analysis cannot read")
                continue
            needed = (threshold + 1) * per
            if needed > reads.demand.get(name, 0):
                reads.demand[name] = needed
                reads.demand_at[name] = _where(aggregate)


def _threshold(aggregate: ast.AST, rule: ast.AST, values: dict[tuple[str, int], set[int]]) -> int | None:
    """The greatest integer the aggregate's value is compared with in the rule, or None."""
    numbers: list[int] = []
    data: dict[str, set[int]] = {}  # variables bound by data facts (param(Name, N)): their values
    for function in _atoms(rule.body):
        for position, arg in enumerate(function.arguments):
            if arg.ast_type == ast.ASTType.Variable and (function.name, position) in values:
                data.setdefault(arg.name, set()).update(values[(function.name, position)])

    def number(term: ast.AST) -> bool:
        if term.ast_type == ast.ASTType.SymbolicTerm and term.symbol.type == clingo.SymbolType.Number:
            numbers.append(term.symbol.number)
            return True
        if term.ast_type == ast.ASTType.Variable and term.name in data:
            numbers.extend(data[term.name])
            return True
        return False

    variables: set[str] = set()
    for guard in (aggregate.left_guard, aggregate.right_guard):
        if guard is None:
            continue
        term = guard.term
        if number(term):
            continue
        if term.ast_type == ast.ASTType.Variable:
            variables.add(term.name)
        else:
            return None
    for literal in rule.body:
        if literal.ast_type == ast.ASTType.Literal and literal.atom.ast_type == ast.ASTType.Comparison:
            comparison = literal.atom
            terms = [comparison.term, *(g.term for g in comparison.guards)]
            if any(_variables(t) & variables for t in terms):
                for t in terms:
                    if number(t):
                        continue
                    if not (_variables(t) & variables) or t.ast_type != ast.ASTType.Variable:
                        return None
    return max(numbers) if numbers else None
