"""Built-in checks of `check-kb --properties` that find defects of the policy itself.

Each check is a question to clingo over every possible case (the abstract space,
one KB), or, for the code tables, a few concrete cases through `decide`. They
report FINDINGS on a KB that is sound: the rules do what they say, but what
they say has a hole.

- duplicate: a criterion that can never be undocumented and that fails only
  when some exclusion applies: removing it changes only deny -> deny;
- unenforceable: an exclusion that only applies on an input the review never
  requires: a case with that input absent is approved (E6 on a continuation
  without a birth date; E1 when concurrent_dmts is left out);
- other review: a case one review approves although a criterion of the other
  review, which it does not check, would fail it (an inactive SPMS continuation);
- code tables: a diagnosis code of the form of MS a case has, which the billing
  table refuses, or a table code of another form, which it accepts;
- data facts naming what cannot exist: an unknown criterion, a state that is not
  a USPS code, a mandate on a criterion not marked [s], a code or condition
  text the normalised input can never equal, a drug no case can name.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from clingo import Function, String, Symbol, SymbolType

from ..case.facts import normal_code, normal_condition
from ..case.model import DMT_ALIASES, US_STATES
from ..engine.catalogue import criterion_sort_key
from ..engine.errors import KnowledgeBaseError
from .program import Program
from .properties import KbAnalysis

# ICD-10-CM (FY2026) codes for multiple sclerosis: code -> (MS course, disease active), None = unspecified
ICD10_MS = {
    "G35": (None, None, "Multiple sclerosis"),
    "G35.A": ("relapsing_remitting", None, "Relapsing-remitting multiple sclerosis"),
    "G35.B0": ("primary_progressive", None, "Primary progressive multiple sclerosis, unspecified"),
    "G35.B1": ("primary_progressive", True, "Active primary progressive multiple sclerosis"),
    "G35.B2": ("primary_progressive", False, "Non-active primary progressive multiple sclerosis"),
    "G35.C0": ("secondary_progressive", None, "Secondary progressive multiple sclerosis, unspecified"),
    "G35.C1": ("secondary_progressive", True, "Active secondary progressive multiple sclerosis"),
    "G35.C2": ("secondary_progressive", False, "Non-active secondary progressive multiple sclerosis"),
    "G35.D": (None, None, "Multiple sclerosis, unspecified"),
}
FORMS = [("relapsing_remitting", True), ("relapsing_remitting", False), ("secondary_progressive", True),
         ("secondary_progressive", False), ("primary_progressive", True), ("primary_progressive", False)]
CRITERION_ID = re.compile(r"^[A-Z][0-9]+(\.[A-Za-z0-9]+)*$")
# a plain initial request that is approved on the shipped KB; checks vary one thing
PLAIN = {
    "id": "CHECK", "request": {"date": "2026-05-01", "dose_mg_per_day": 12, "days": 5, "diagnosis_codes": ["G35.A"]},
    "member": {"birth_date": "1990-04-02", "state": "NY"}, "prescriber": {"specialty": "neurology"},
    "chart_date": "2026-04-20",
    "diagnosis": {"condition": "multiple_sclerosis", "ms_course": "relapsing_remitting", "active": True},
    "dmt_history": [{"drug": "natalizumab", "outcome": "failed"}, {"drug": "fingolimod", "outcome": "intolerant"}],
    "concurrent_dmts": [], "hiv_positive": False, "active_infections": [],
}
# the same, as a continuation (a course 13 months before, 3 days, a response) that is approved
PLAIN_CONTINUATION = {
    **copy.deepcopy(PLAIN), "request": {**PLAIN["request"], "days": 3},
    "lemtrada_courses": [{"start_date": "2025-03-01", "days": 5}], "response": {"symptoms": ["motor_function"]},
}
PLAIN_BY_REVIEW = {"initial": PLAIN, "continuation": PLAIN_CONTINUATION}
ABSENT = ("absent", "none")


@dataclass
class Check:
    kind: str  # duplicate, unenforceable, other_review, code_table, data
    where: str
    message: str
    witness: dict[str, Any] | None = None
    severity: str = "finding"  # a defect of the policy as encoded; "note" for what is likely by design
    intent: str | None = None  # set when the witness is handled against the policy text's intent: what happens to it

    def __str__(self) -> str:
        return f"{self.where}: {self.severity}: [{self.kind}] {self.message}"


@dataclass
class Checks:
    findings: list[Check] = field(default_factory=list)

    def of(self, kind: str) -> list[Check]:
        return [f for f in self.findings if f.kind == kind]


def run_checks(analysis: KbAnalysis) -> Checks:
    found = Checks()
    program = Program([analysis.source], analysis.space, extra_text=_SHADOW)
    shadow = _Shadow(analysis, program)
    found.findings += shadow.duplicates()
    found.findings += shadow.unenforceable()
    found.findings += shadow.other_review()
    found.findings += code_tables(analysis)
    found.findings += data_facts(analysis)
    return found


# every top-level criterion judged for every case (its own review or not): what the
# other review WOULD say. Only failed/missing of the case's own review decide.
_SHADOW = """
a__evaluated(0, Id) :- case(0), a__top(_, Id).
wb_sh(T, S) :- a__top(_, T), a__status(0, T, S).
#show wb_sh/2.
"""


class _Shadow:
    def __init__(self, analysis: KbAnalysis, program: Program):
        self.analysis = analysis
        self.program = program
        self.catalogue = analysis.kb.catalogue
        self.reviews = sorted(self.catalogue.top)
        self.exclusions = sorted((i for i, c in self.catalogue.criteria.items() if c.kind == "exclusion"), key=criterion_sort_key)

    def lit(self, name: str, *args: Symbol) -> int | None:
        return self.program.literal(Function(name, list(args)))

    def status(self, node: str, status: str) -> int | None:
        return self.lit("wb_st", Function("a"), String(node), Function(status))

    def shadow(self, node: str, status: str) -> int | None:
        return self.lit("wb_sh", String(node), Function(status))

    def review(self, review: str) -> int | None:
        return self.lit("wb_review", Function("a"), Function(review))

    def approved(self) -> int | None:
        return self.lit("wb_approved", Function("a"))

    def sat(self, *literals: int | None) -> bool:
        if any(l is None for l in literals):
            return False
        return self.program.satisfiable(list(literals))

    def witness(self, literals: list[int], case_id: str) -> tuple[str, dict]:
        example = self.analysis.example.__func__(_Proxy(self.analysis, self.program), literals, case_id)
        return example.summary, example.case

    def title(self, ident: str) -> str:
        return f"{ident} ({self.catalogue.info(ident).title})"

    # --- criteria that duplicate an exclusion -----------------------------------------
    def duplicates(self) -> list[Check]:
        found = []
        for review in self.reviews:
            r = self.review(review)
            for top in sorted(self.catalogue.top[review], key=criterion_sort_key):
                fails = self.status(top, "not_met")
                if not self.sat(r, fails) or self.sat(r, self.status(top, "undocumented")):
                    continue
                for exclusion in self.exclusions:
                    if self.sat(r, fails, self.status(exclusion, "does_not_apply")):
                        continue
                    found.append(Check("duplicate", self.catalogue.info(top).section,
                                       f"{self.title(top)} duplicates exclusion {self.title(exclusion)} on the {review} review: "
                                       f"{top} is never undocumented and every case that fails it has {exclusion} applying, "
                                       f"so removing {top} changes only deny -> deny"))
                    break
        return found

    # --- exclusions whose inputs a review never requires ---------------------------------
    def triggers(self, applies: int) -> list[str]:
        """The fewest inputs (each with an absent value) without all of which the exclusion never applies.

        Over the whole space at once, not input by input: E5 applies on
        hiv_positive or on active_infections, so neither alone is needed, but
        without both it never applies. Empty when the exclusion can apply with
        every such input absent (it does not rest on documentation).
        """
        values = self.program.values
        gone: dict[str, int] = {}
        for dim in self.analysis.space.dims:
            absent = next((v.key for v in dim.values if v.key in ABSENT), None)
            if absent is not None:
                gone[dim.name] = values[(dim.name, absent)]
        if self.sat(applies, *gone.values()):
            return []
        needed = dict(gone)
        for name in list(needed):  # drop each input the exclusion does not need absent to stay off
            trial = {k: v for k, v in needed.items() if k != name}
            if not self.sat(applies, *trial.values()):
                needed = trial
        return [name for name in needed if self.sat(applies, -needed[name])]

    def unenforceable(self) -> list[Check]:
        found = []
        values = self.program.values
        for exclusion in self.exclusions:
            applies = self.status(exclusion, "applies")
            if not self.sat(applies):
                continue
            inputs = self.triggers(applies)
            if not inputs:
                continue
            gone = [values[(name, next(v.key for v in self.analysis.space.dim(name).values if v.key in ABSENT))] for name in inputs]
            named = " or ".join(inputs)
            without = inputs[0] if len(inputs) == 1 else ("either " if len(inputs) == 2 else "any of ") + " or ".join(inputs)
            for review in self.reviews:
                literals = [self.review(review), self.approved(), *gone]
                if not self.sat(*literals):
                    continue
                summary, case = self.witness([l for l in literals if l is not None], f"UNENFORCEABLE-{exclusion}-{review}")
                found.append(Check(
                    "unenforceable", self.catalogue.info(exclusion).section,
                    f"{self.title(exclusion)} cannot be enforced on the {review} review: it applies only on {named}, "
                    f"which that review never requires; a case of the {review} review without {without} is approved ({summary})",
                    case))
        return found

    # --- what one review approves that the other's criteria reject -------------------------------
    def other_review(self) -> list[Check]:
        found = []
        for review in self.reviews:
            own = set(self.catalogue.top[review])
            for other in self.reviews:
                if other == review:
                    continue
                for top in sorted(set(self.catalogue.top[other]) - own, key=criterion_sort_key):
                    literals = [self.review(review), self.approved(), self.shadow(top, "not_met")]
                    if not self.sat(*literals):
                        continue
                    summary, case = self.witness([l for l in literals if l is not None], f"OTHER-REVIEW-{top}-{review}")
                    found.append(Check(
                        "other_review", self.catalogue.info(top).section,
                        f"the {review} review approves cases that fail {self.title(top)} of the {other} review, which it does not check: "
                        f"e.g. {summary}", case, severity="note"))
        return found


class _Proxy:
    """KbAnalysis.example on another program over the same space."""

    def __init__(self, analysis: KbAnalysis, program: Program):
        self.program = program
        self.space = analysis.space


# --- code tables against the form of MS ------------------------------------------------------


def code_tables(analysis: KbAnalysis) -> list[Check]:
    """Each review, each form of MS, each ICD-10 code of MS, decided: what Table 2 accepts against what the review approves.

    A form the review approves with some code but denies with a code of its own
    (course and activity as the code says) is handled against the text's
    intent: at continuation, inactive SPMS is approved with G35, G35.A, G35.C1
    or G35.D but denied with G35.C2. A code of another form that passes B1 on a
    case the review approves says the table does not check codes against forms.
    """
    from ..case.model import validate_case
    from ..engine.engine import Engine

    engine = Engine(analysis.kb)
    table = {s.arguments[0].string: analysis.source.where(s) or str(analysis.kb.root)
             for s in analysis.source.facts if s.name == "diagnosis_table" and len(s.arguments) == 2 and s.arguments[0].type == SymbolType.String}
    found: list[Check] = []
    reviews = sorted(analysis.kb.catalogue.top)

    def decide(review: str, course: str, active: bool) -> dict[str, tuple[dict, Any]]:
        """Every code of MS on the plain case of the review with this form: code -> (case, record), one batch."""
        cases = {}
        for code in ICD10_MS:
            case = copy.deepcopy(PLAIN_BY_REVIEW.get(review, PLAIN))
            case["id"] = f"CODE-{review.upper()}-{code}-{course}-{'active' if active else 'inactive'}"
            case["request"]["diagnosis_codes"] = [code]
            case["diagnosis"].update(ms_course=course, active=active)
            cases[code] = case
        records = engine.decide([(c["id"], validate_case(c, c["id"])) for c in cases.values()], details=True)
        return {code: (case, record) for (code, case), record in zip(cases.items(), records)}

    for review in reviews:
        passes: dict[str, list[tuple[str, dict]]] = {}  # code -> forms of another course it passes on, approved
        for form, active in FORMS:
            words = f"{'active' if active else 'non-active'} {form.replace('_', '-')} MS"
            try:
                decided = decide(review, form, active)
            except KnowledgeBaseError:
                return found  # an unsound KB: its faults are check-kb's own problems, reported above
            if any(record.review_type != review for _, record in decided.values()):
                break  # the plain case of this review is not of it under this KB
            approved = [code for code, (_, record) in decided.items() if record.decision == "approve"]
            for code, (course, activity, description) in ICD10_MS.items():
                case, record = decided[code]
                statuses = record.statuses()
                own = course == form and (activity is None or activity == active)
                billed = statuses.get("B1") == "met"
                if own and approved and not billed:
                    found.append(Check(
                        "code_table", table.get(code, "Table 2"),
                        f"{code} ({description}) on a case of {words}, which the {review} review approves with "
                        f"{', '.join(approved)}, is refused by B1: the code of the member's own form is not in Table 2, "
                        f"so the {review} review denies it",
                        case, intent=f"{words} is denied on the {review} review with its own code {code}, "
                                     f"though approved with {', '.join(approved)}"))
                elif course is not None and course != form and billed and code in table and record.decision == "approve":
                    passes.setdefault(code, []).append((words, case))
        for code, cases in passes.items():
            forms = " and ".join(w for w, _ in cases)
            found.append(Check("code_table", table[code], f"{code} ({ICD10_MS[code][2]}) passes B1 on the {review} review on "
                               f"{'cases' if len(cases) > 1 else 'a case'} of {forms}: Table 2 does not check the code against the form of MS", cases[0][1]))
    return found


# --- data facts naming what cannot exist -----------------------------------------------------------


def data_facts(analysis) -> list[Check]:
    """analysis: anything with .source (a KbSource) and .kb, e.g. a KbAnalysis, or data_facts_of(kb)."""
    catalogue = analysis.kb.catalogue
    nodes = set(catalogue.criteria)
    marked = {s.arguments[0].string for s in analysis.source.facts if s.name == "mandate_marked" and s.arguments[0].type == SymbolType.String}
    tops = {t for ids in catalogue.top.values() for t in ids}
    found = []
    default = str(analysis.kb.root)

    def add(symbol: Symbol, message: str) -> None:
        found.append(Check("data", analysis.source.where(symbol) or default, f"{symbol}: {message}"))

    # argument positions that hold criterion ids: some fact names a known criterion there
    criterion_positions = {
        (f.name, i) for f in analysis.source.facts for i, a in enumerate(f.arguments)
        if a.type == SymbolType.String and a.string in nodes and CRITERION_ID.match(a.string)
        and f.name not in ("criterion", "node", "child", "top", "policy_order")
    }
    for symbol in sorted(analysis.source.facts, key=str):
        args = symbol.arguments
        if symbol.name == "state_mandate" and len(args) == 2:
            state, ident = args
            if state.type != SymbolType.String or state.string not in US_STATES:
                shown = state.string if state.type == SymbolType.String else str(state)
                hint = f" (the member's state is the USPS code, e.g. \"{shown.upper()}\")" if shown.upper() in US_STATES else ""
                add(symbol, f"{shown!r} is not a USPS state code, and member_state is one, so this mandate can never take effect{hint}")
            if ident.type != SymbolType.String or ident.string not in nodes:
                add(symbol, f"names criterion {ident}, which the catalogue does not have: it can never take effect")
            elif ident.string not in marked:
                add(symbol, f"{ident.string} is not marked [s] (mandate_marked/1): a mandate on it can never take effect")
            elif ident.string not in tops:
                add(symbol, f"{ident.string} is not a top-level criterion: only top-level failures are mandated")
            continue
        if symbol.name == "diagnosis_table" and args and args[0].type == SymbolType.String:
            code = args[0].string
            if normal_code(code) != code:
                add(symbol, f"{code!r} is not in the normalised form of a request code ({normal_code(code)!r}): it can never match")
            continue
        if symbol.name in ("ms_condition", "cis_condition") and args and args[0].type == SymbolType.String:
            if normal_condition(args[0].string) != args[0].string:
                add(symbol, f"{args[0].string!r} is not a normalised condition text ({normal_condition(args[0].string)!r}): it can never match")
            continue
        if symbol.name == "step_drug" and len(args) == 2 and args[1].type == SymbolType.Function and args[1].name not in DMT_ALIASES:
            add(symbol, f"{args[1]} is not a DMT the case format knows: no case can name it")
        for position, arg in enumerate(args):
            if arg.type == SymbolType.String and (symbol.name, position) in criterion_positions and arg.string not in nodes:
                add(symbol, f"names criterion {arg.string!r}, which the catalogue does not have")
        if symbol.name == "mandate_marked" and args and args[0].type == SymbolType.String and args[0].string not in nodes:
            add(symbol, f"marks {args[0].string!r} [s], which the catalogue does not have")
    return found


def data_facts_of(kb) -> list[Check]:
    """The data-fact checks alone, without grounding the whole space."""
    from types import SimpleNamespace

    from .program import read_source

    return data_facts(SimpleNamespace(source=read_source(kb), kb=kb))


@dataclass
class Intent:
    """A case the KB handles against the policy text's intent, with a witness and what decide made of it."""

    text: str
    witness: dict[str, Any]
    decided: str  # decide's decision on the witness: "deny (failed: I2)"


def against_intent(analysis: KbAnalysis, checks: Checks, props=None) -> list[Intent]:
    """Every case found handled against the text's intent: codes of the member's own form refused,
    values between an exclusion and what a review approves (gaps); each witness decided by decide."""
    from ..case.model import validate_case
    from ..engine.engine import Engine

    info = analysis.kb.catalogue.info
    items: list[tuple[str, dict]] = [(c.intent, c.witness) for c in checks.findings if c.intent and c.witness]
    for gap in getattr(props, "gaps", []) or []:
        if gap.neither and gap.witness is not None:
            failing = ", ".join(f"{t} ({info(t).title})" for t in gap.failing) or "some criterion"
            items.append((f"{gap.dimension} {gap.neither} on the {gap.review} review is neither excluded by {gap.exclusion} "
                          f"({gap.excluded}) nor approvable ({gap.approvable}): it is denied on {failing}", gap.witness))
    engine = Engine(analysis.kb)
    found = []
    for text, witness in items:
        try:
            record = engine.decide([(witness["id"], validate_case(witness, witness["id"]))])[0].to_json()
        except KnowledgeBaseError as exc:  # an unsound KB: its faults are check-kb's own problems, reported above
            found.append(Intent(text, witness, f"not decided: {exc}"))
            continue
        failed = ", ".join(f["id"] for f in record["failed"])
        decided = record["decision"] + (f" ({record['pend_reason']})" if record["pend_reason"] else "") + (f", failed: {failed}" if failed else "")
        found.append(Intent(text, witness, decided))
    return found


def intent_text(intents: list[Intent]) -> str:
    import json

    if not intents:
        return "Cases handled against the policy text's intent: none found."
    lines = [f"Cases handled against the policy text's intent ({len(intents)}), each with a witness decide confirms:"]
    for n, item in enumerate(intents, 1):
        lines.append(f"  {n}. {item.text}")
        lines.append(f"      decide: {item.decided}")
        lines.append("      witness: " + json.dumps(item.witness, ensure_ascii=False))
    return "\n".join(lines)


def as_text(checks: Checks) -> str:
    if not checks.findings:
        return "Policy checks: nothing found."
    lines = [f"Policy checks ({len(checks.findings)} found):"]
    import json

    for finding in checks.findings:
        lines.append(f"  {finding}")
        if finding.witness is not None:
            lines.append("      witness: " + json.dumps(finding.witness, ensure_ascii=False))
    return "\n".join(lines)
