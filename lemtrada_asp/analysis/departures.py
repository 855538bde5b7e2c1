"""Quotes that stay true: does each rule still say what the policy sentence above it says?

Every rule of the KB stands under the sentence it encodes (quotes/2), and reads
its thresholds from parameters (param/2). Edit a parameter -- in parameters.lp,
or in an overlay's ``[parameters]`` -- and the rule no longer says what its quote
says: ``min_age_initial = 17`` under "The member is 18 years of age or older".
This module finds each such departure.

What a part of the KB reads: for a criterion, the parameters its rules read
(``param(Name, V)`` in the body of a rule deriving its finding, the name
written there or joined from data facts such as ``recency_window("I0", P)``)
and those its texts name (``{name}`` in its title, needed or change text); for
another part (an advisory, a pend rule) the same, by the term its quotes name
(``advisory(premedication)`` reads the ``{premedication_days}`` of its text).

What a quote says of a parameter: the numbers in the sentence followed by the
parameter's unit, read off its name (``*_months`` months, ``*_days`` days,
``*age*`` years, ``*mg*_per_day`` mg/day, ``*cd4*`` cells): "within the last
3 months", "5 consecutive days", "a minimum of two months". A parameter whose
value is not among the numbers its part's quotes give in its unit departs from
the text. A parameter with no unit, or whose quotes state no number in it, is
not compared (nothing to hold it to).

A departure is silenced only by recording it in the KB, with a reason:
``departs_from(Subject, Param, Reason)`` (kb/departures.lp, or an overlay's
overlay.lp): ``departs_from("C3", min_months_since_last_dose, "the plan's 2027
reform: 11 months")``. `criteria` shows every departure, recorded or not;
`check-kb` warns of those not recorded, and of records that no longer depart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

from clingo import Symbol, SymbolType, ast

from ..engine.catalogue import _PLACEHOLDER
from ..engine.knowledge import KnowledgeBase

__all__ = ["Departure", "Record", "departures", "findings", "unit_of", "quoted_values"]

RECORD = "departs_from"
_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
          "ten": 10, "eleven": 11, "twelve": 12}
_NUMBER = r"(?P<n>\d+|" + "|".join(_WORDS) + r")(?:\s*\(\d+\))?"


@dataclass
class Departure:
    """A part of the KB reads a parameter whose value its quoted sentence does not state."""

    subject: str  # a criterion id, or the term of another part (advisory(premedication))
    param: str
    value: int
    quoted: list[int]  # the numbers its quotes give in the parameter's unit
    quote: str  # the first quote stating such a number
    where: str  # file:line of that quote (the sentence above the rule)
    reason: str | None = None  # the recorded departure's reason; None when not recorded

    @property
    def recorded(self) -> bool:
        return self.reason is not None

    def says(self) -> str:
        numbers = " or ".join(str(n) for n in self.quoted)
        return f"{self.param} = {self.value}, where the sentence says {numbers}"

    def as_json(self) -> dict:
        return {"subject": self.subject, "param": self.param, "value": self.value, "quoted": self.quoted,
                "quote": self.quote, "rule": self.where, "reason": self.reason}


@dataclass
class Record:
    """A departs_from/3 fact."""

    subject: str
    param: str
    reason: str
    where: str


def unit_of(param: str) -> str | None:
    """The regular expression of the unit a parameter counts, read off its name; None: no unit known."""
    words = param.lower().split("_")
    if "mg" in words:
        return r"mg/day" if "per" in words and "day" in words else r"mg\b"
    if "cd4" in words:
        return r"cells\b"
    if "months" in words or "month" in words:
        return r"months?\b"
    if "days" in words or "day" in words:
        return r"days?\b"
    if "age" in words:
        return r"years?\b"
    return None


def quoted_values(text: str, unit: str) -> list[int]:
    """The numbers a sentence gives in a unit ("5 consecutive days" -> 5; "6-months" -> 6; "two months" -> 2)."""
    pattern = re.compile(_NUMBER + r"(?:[\s-]+[A-Za-z]+)?[\s-]+(?:" + unit + ")", re.IGNORECASE)
    found = []
    for match in pattern.finditer(text):
        raw = match.group("n").lower()
        number = _WORDS.get(raw) if raw in _WORDS else int(raw)
        if number not in found:
            found.append(number)
    return found


def _name(symbol: Symbol) -> str:
    return symbol.string if symbol.type == SymbolType.String else str(symbol)


def _subject_of_fact(symbol: Symbol) -> str | None:
    """criterion("I2", ...) -> "I2"; advisory(premedication, ...) -> "advisory(premedication)"."""
    if not symbol.arguments:
        return None
    first = symbol.arguments[0]
    return first.string if first.type == SymbolType.String else f"{symbol.name}({first})"


# --- what each part of the KB reads --------------------------------------------------------


def reads(statements: Iterable[ast.AST], facts: dict[Symbol, str]) -> dict[str, set[str]]:
    """Subject -> the parameters its rules and texts read."""
    params = {_name(f.arguments[0]) for f in facts if f.name == "param" and len(f.arguments) == 2}
    by_name: dict[str, list[Symbol]] = {}
    for fact in facts:
        by_name.setdefault(fact.name, []).append(fact)
    rules = [plain for s in statements if s.ast_type == ast.ASTType.Rule for plain in s.unpool() if plain.body]
    derived = {_head(r).name for r in rules if _head(r) is not None}
    found: dict[str, set[str]] = {}
    for rule in rules:
        head = _head(rule)
        if head is None:
            continue
        body = [l.atom.symbol for l in rule.body if l.ast_type == ast.ASTType.Literal and l.sign == ast.Sign.NoSign
                and l.atom.ast_type == ast.ASTType.SymbolicAtom and l.atom.symbol.ast_type == ast.ASTType.Function]
        if not any(b.name == "param" for b in body):
            continue
        data = [b for b in body if b.name in by_name and b.name not in derived]
        for binding in _joins(data, by_name, {}):
            subject = _subject_of_head(head, binding)
            if subject is None:
                continue
            for atom in body:
                if atom.name == "param" and len(atom.arguments) == 2:
                    name = _value(atom.arguments[0], binding)
                    if name is not None and _name(name) in params:
                        found.setdefault(subject, set()).add(_name(name))
    for fact in facts:  # texts: {name} and {a*b}
        subject = _subject_of_fact(fact)
        for arg in fact.arguments[1:]:
            if subject is None or arg.type != SymbolType.String:
                continue
            for match in _PLACEHOLDER.finditer(arg.string):
                found.setdefault(subject, set()).update(n for n in match.group(1).split("*") if n in params)
    return found


def _head(rule: ast.AST):
    head = rule.head
    if head.ast_type == ast.ASTType.Literal and head.atom.ast_type == ast.ASTType.SymbolicAtom \
            and head.atom.symbol.ast_type == ast.ASTType.Function:
        return head.atom.symbol
    return None


def _value(term: ast.AST, binding: dict[str, Symbol]) -> Symbol | None:
    if term.ast_type == ast.ASTType.SymbolicTerm:
        return term.symbol
    if term.ast_type == ast.ASTType.Variable:
        return binding.get(term.name)
    return None


def _subject_of_head(head, binding: dict[str, Symbol]) -> str | None:
    """finding(K, "I2", ...) -> "I2"; pend_rule(K, case_by_case) -> "pend_rule(case_by_case)"."""
    args = head.arguments
    if len(args) < 2:
        return None
    second = _value(args[1], binding)
    if second is None:
        return None
    if head.name == "finding":
        return _name(second)
    return f"{head.name}({second})" if second.type != SymbolType.String else second.string


def _joins(atoms: list, by_name: dict[str, list[Symbol]], binding: dict[str, Symbol], limit: int = 1000):
    """Every binding of the atoms' variables by data facts (a small join; other terms match anything)."""
    if not atoms:
        yield binding
        return
    first, rest = atoms[0], atoms[1:]
    count = 0
    for fact in by_name.get(first.name, []):
        if len(fact.arguments) != len(first.arguments):
            continue
        extended = dict(binding)
        ok = True
        for term, value in zip(first.arguments, fact.arguments):
            if term.ast_type == ast.ASTType.Variable and term.name != "_":
                if extended.setdefault(term.name, value) != value:
                    ok = False
                    break
            elif term.ast_type == ast.ASTType.SymbolicTerm and term.symbol != value:
                ok = False
                break
        if ok:
            for done in _joins(rest, by_name, extended, limit):
                count += 1
                if count > limit:
                    return
                yield done


# --- departures ------------------------------------------------------------------------------


def records(facts: dict[Symbol, str]) -> list[Record]:
    return [Record(_name(f.arguments[0]), _name(f.arguments[1]), _name(f.arguments[2]), where)
            for f, where in facts.items() if f.name == RECORD and len(f.arguments) == 3]


def departures(kb: KnowledgeBase, source=None) -> list[Departure]:
    """Every (part, parameter) whose value its quotes do not state; recorded ones carry their reason."""
    from .program import read_source
    from .trace import read_trace

    source = source or read_source(kb)
    trace = read_trace(kb)
    params = kb.catalogue.params
    recorded = {(r.subject, r.param): r for r in records(source.facts)}
    found = []
    for subject, names in sorted(reads(source.statements, source.facts).items()):
        quotes = [q for q in trace.quotes if q.subject == subject and q.formalised]
        for param in sorted(names):
            unit = unit_of(param)
            if unit is None or param not in params:
                continue
            stated = [(q, quoted_values(q.text, unit)) for q in quotes]
            stated = [(q, numbers) for q, numbers in stated if numbers]
            if not stated:
                continue
            quoted = sorted({n for _, numbers in stated for n in numbers})
            if params[param] in quoted:
                continue
            first = stated[0][0]
            record = recorded.get((subject, param))
            found.append(Departure(subject, param, params[param], quoted, first.text, first.where,
                                   record.reason if record else None))
    return found


def findings(kb: KnowledgeBase, source=None) -> list:
    """check-kb's warnings (soundness.Finding): departures not recorded, records that no longer depart."""
    from .program import read_source
    from .soundness import Finding

    source = source or read_source(kb)
    found = []
    departed = departures(kb, source)
    for d in departed:
        if d.recorded:
            continue
        found.append(Finding(d.where, (
            f"the rule of {d.subject} departs from the sentence quoted above it: it reads {d.says()} "
            f"(\"{d.quote}\"); if the departure is deliberate, record it: "
            f"{RECORD}({_term(d.subject)}, {d.param}, \"why\")."), "warning"))
    actual = {(d.subject, d.param) for d in departed}
    for r in records(source.facts):
        if (r.subject, r.param) not in actual:
            found.append(Finding(r.where, f"{RECORD}({_term(r.subject)}, {r.param}, ...) records a departure, but the rule "
                                          f"of {r.subject} states what its quote says (or does not read {r.param}): "
                                          "remove the record", "warning"))
    return found


def _term(subject: str) -> str:
    return subject if "(" in subject else f"\"{subject}\""
