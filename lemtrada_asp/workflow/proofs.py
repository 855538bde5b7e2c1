"""``check-kb --workflow``: CRD, DTR and the adaptive form agree with PAS, over every case.

Every property is a search by clingo over the whole abstract input space (the
same space as ``check-kb --properties`` and ``diff --exhaustive``), on the
two-copy program of pair.py, ground once. A property is *proven* when the
search for a case breaking it finds none; else it is *refuted* and the case
found is written out as a case-format file (a witness) that ``decide``
confirms. The derived artefacts under test -- CRD's ``coverage_answer``, the
``enableWhen`` rules, the questions' ownership of inputs -- are parameters, so a
test can plant a wrong one (or prove stale rules against an edited KB).

(a) CRD covered, no documentation => PAS approves. CRD answers from the
    decision on the facts known at order time; PAS decides the same facts. For
    each decision class the KB can reach (decision, pend reason, failed and
    missing ids: every answer PAS can give), a case of that class is decided by
    ``decide`` and its CRD answer computed; the property fails on a class whose
    CRD answer is ``covered`` without documentation but which PAS does not approve.
(b) CRD doc-needed => DTR asks for what PAS would list as missing. In every case
    whose CRD answer needs documentation:
    (b1) no hidden question: no question the form disables (and so leaves
         unanswered) could, answered, change PAS's answer (decision, pend
         reason, failed or missing ids);
    (b2) no question out of place: every enabled question settles (the
         Questionnaire's ``settles`` extension) a criterion or exclusion the
         case's review evaluates, or decides the review;
    (b3) every missing criterion is asked: each criterion PAS lists as missing
         has an undocumented leaf that an enabled question settles, unless no
         question settles any of them (it reads only the order: reported).
(c) The adaptive form never stops before the decision is fixed. It stops when
    no two completions of the partial case decide differently, where the
    completions range over every input the open questions own (adaptive.py);
    so it is sound iff every input that can change a decision is owned by the
    question whose field gives it or given by the order. Checked here from the
    case schema (which field gives which input) against the ownership the form
    uses, and any input that neither the order nor its question gives, and that
    can change a decision, is refuted with two cases the form cannot tell apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from clingo import Function, String

from ..analysis.space import Space
from ..case.schema import FIELDS
from ..engine.policy import Policy
from ..engine.record import Decision
from .adaptive import Workflow, workflow
from .coverage import CoverageAnswer, coverage_answer
from .enable import derive, holds
from .pair import Pair, dim_predicates
from .questions import Ownership

__all__ = ["Verdict", "Witness", "prove", "report"]

from .questions import ORDER_FIELDS


@dataclass
class Witness:
    case: dict[str, Any]
    says: str  # what the case shows, in words
    decision: str = ""  # decide's decision on it, "decision/pend_reason"
    other: dict[str, Any] | None = None  # the second case of a pair


@dataclass
class Verdict:
    key: str  # "a", "b1", ...
    title: str
    proven: bool
    notes: list[str] = field(default_factory=list)
    witnesses: list[Witness] = field(default_factory=list)


def _label(decision: Decision) -> str:
    return decision.decision + (f"/{decision.pend_reason}" if decision.pend_reason else "")


class _Prover:
    def __init__(self, policy: Policy, flow: Workflow, rules: dict[str, dict], coverage: Callable[[Decision], CoverageAnswer],
                 ownership: Ownership):
        self.policy = policy
        self.flow = flow
        self.pair: Pair = flow.pair
        self.space: Space = flow.space
        self.rules = rules
        self.coverage = coverage
        self.ownership = ownership
        self.count = 0

    def witness(self, model: set, copy: str, prefix: str) -> dict[str, Any]:
        self.count += 1
        return self.space.witness(Pair.pick(model, copy), f"WORKFLOW-{prefix}-{self.count:03d}")

    def decide(self, case: dict) -> Decision:
        return self.policy.decide(case)

    def lit(self, name: str, *args: Any) -> int | None:
        return self.pair.literal(Function(name, list(args)))

    # --- (a) ---------------------------------------------------------------------
    def classes(self) -> list[tuple[set, set]]:
        """Every decision the KB can reach (decision, pend reason, grants): its wf_out atoms and a model of it.

        CRD's codes are a function of the decision and pend reason (coverage.py; the ids
        only fill ``missing`` and ``failing``), so one case per class decides (a) for all.
        Classes by failed and missing ids too would be thousands of solves, each a decide.
        """
        pair = self.pair
        found = []
        seen_blocks: list[int] = []
        full = sorted(a.symbol for a in pair.ctl.symbolic_atoms.by_signature("wf_out", 2) if a.symbol.arguments[0].name == "a")
        lits = {s: pair.literal(s) for s in full}
        while True:
            model = pair.model(seen_blocks)
            if model is None:
                break
            outcome = {a for a in model if a.name == "wf_out" and a.arguments[0].name == "a"}
            found.append((outcome, model))
            with pair.ctl.backend() as backend:  # block this class while its switch is assumed
                switch = backend.add_atom()
                backend.add_rule([switch], [], choice=True)
                body = [switch] + [lits[s] if s in outcome else -lits[s] for s in full if lits[s] is not None]
                backend.add_rule([], body)
            seen_blocks.append(switch)
        return found

    def prove_a(self, classes) -> Verdict:
        verdict = Verdict("a", "CRD covered with no documentation needed => PAS approves on the same facts", True)
        doc_classes = set()
        for outcome, model in classes:
            case = self.witness(model, "a", "A")
            decision = self.decide(case)
            answer = self.coverage(decision)
            key = next(a.arguments[1] for a in outcome if a.arguments[1].name == "decision")
            if answer.doc_needed:
                doc_classes.add(key)
            if answer.covered == "covered" and answer.doc_needed is None and decision.decision != "approve":
                verdict.proven = False
                verdict.witnesses.append(Witness(case, f"CRD answers covered, no documentation, yet PAS decides {_label(decision)}",
                                                 _label(decision)))
        verdict.notes.append(f"{len(classes)} classes of decision (decision, pend reason, grants), one case each decided by decide")
        self.doc_classes = doc_classes
        return verdict

    # --- (b) ---------------------------------------------------------------------
    def _encode(self) -> None:
        """enabled/disabled per question for copy a, the doc-needed classes, each criterion's undocumented leaves."""
        pair = self.pair
        from ..case.pas.schema import items_by_link_id

        items = items_by_link_id()
        self.enabled: dict[str, int] = {}
        self.disabled: dict[str, int] = {}
        with pair.ctl.backend() as backend:
            self.doc = backend.add_atom()
            for key in self.doc_classes:
                literal = pair.literal(Function("wf_out", [Function("a"), key]))
                if literal is not None:
                    backend.add_rule([self.doc], [literal])
            for question in self.ownership.questions:
                on = backend.add_atom()
                rule = self.rules.get(question)
                if rule is None:
                    backend.add_rule([on])
                else:
                    conds = [self._condition(backend, c, items) for c in rule["enableWhen"]]
                    if rule.get("enableBehavior", "all") == "all":
                        backend.add_rule([on], conds)
                    else:
                        for c in conds:
                            backend.add_rule([on], [c])
                off = backend.add_atom()
                backend.add_rule([off], [-on])
                self.enabled[question], self.disabled[question] = on, off

    def _condition(self, backend, condition: dict, items) -> int:
        question = condition["question"]
        atom = backend.add_atom()
        if condition["operator"] == "exists":
            name = "wf_ans" if condition["answerBoolean"] else "wf_unans"
            literal = self.lit(name, Function("a"), String(question))
            if literal is not None:
                backend.add_rule([atom], [literal])
            elif not condition["answerBoolean"]:
                backend.add_rule([atom])
            return atom
        for name in self.ownership.dims[question]:
            for value in self.space.dim(name).values:
                scratch: dict = {"id": "x", "request": {}}
                try:
                    value.fragment(scratch)
                except (KeyError, IndexError, TypeError):
                    continue
                if holds(condition, scratch):
                    backend.add_rule([atom], [self.pair.value("a", name, value.key)])
        return atom

    def prove_b(self) -> list[Verdict]:
        self._encode()
        pair, flow = self.pair, self.flow
        from ..service.questionnaire import settled_criteria

        settles = settled_criteria(flow.kb.root)
        catalogue = flow.kb.catalogue
        pdiff = pair.flag("wf_pdiff")
        review_questions = self._review_deciders()

        b1 = Verdict("b1", "no hidden question: a question the form disables could never change PAS's answer", True)
        for question in self.ownership.questions:
            mine = set(self.ownership.dims[question])
            others = [d.name for d in self.space.dims if d.name not in mine]
            unanswered = self.lit("wf_unans", Function("a"), String(question))
            assumptions = [self.doc, self.disabled[question], pdiff, *pair.tied(others)] + ([unanswered] if unanswered else [])
            model = pair.model(assumptions)
            if model is not None:
                b1.proven = False
                a, b = self.witness(model, "a", "B1"), self.witness(model, "b", "B1")
                da, db = self.decide(a), self.decide(b)
                b1.witnesses.append(Witness(a, f"{question} is disabled here, yet answering it as in {b['id']} changes PAS's answer "
                                               f"({_label(da)} {[c.id for c in da.missing]} -> {_label(db)} {[c.id for c in db.missing]})",
                                            _label(da), b))
        b2 = Verdict("b2", "no question out of place: every enabled question settles a criterion the case's review evaluates", True)
        with pair.ctl.backend() as backend:
            placed: dict[str, int] = {}
            for question in self.ownership.questions:
                atom = backend.add_atom()
                placed[question] = atom
                if question in review_questions:
                    backend.add_rule([atom])
                for ident in settles.get(question, ()):
                    for status in ("met", "not_met", "undocumented", "applies", "does_not_apply"):
                        literal = self.lit("wf_st", Function("a"), String(ident), Function(status))
                        if literal is not None:
                            backend.add_rule([atom], [literal])
        for question in self.ownership.questions:
            model = pair.model([self.doc, self.enabled[question], -placed[question]])
            if model is not None:
                b2.proven = False
                case = self.witness(model, "a", "B2")
                decision = self.decide(case)
                b2.witnesses.append(Witness(case, f"{question} is enabled, but the {decision.review_type} review evaluates none of "
                                                  f"{', '.join(settles.get(question, ())) or 'the criteria it settles'}", _label(decision)))
        b3 = Verdict("b3", "every criterion PAS lists as missing is asked by an enabled question settling one of its undocumented leaves", True)
        leaves_of: dict[str, list[str]] = {}
        for ident in catalogue.criteria:
            leaves_of.setdefault(catalogue.top_of(ident), []).append(ident)
        settled_by: dict[str, list[str]] = {}
        for question, idents in settles.items():
            for ident in idents:
                settled_by.setdefault(ident, []).append(question)
        order_only = []
        for top, nodes in leaves_of.items():
            missing = self.lit("wf_full", Function("a"), Function("missing", [String(top)]))
            if missing is None:
                continue
            with pair.ctl.backend() as backend:
                askable, asked = backend.add_atom(), backend.add_atom()
                for node in nodes:
                    undocumented = self.lit("wf_st", Function("a"), String(node), Function("undocumented"))
                    if undocumented is None or node not in settled_by:
                        continue
                    backend.add_rule([askable], [undocumented])
                    for question in settled_by[node]:
                        if question in self.enabled:
                            backend.add_rule([asked], [undocumented, self.enabled[question]])
            model = pair.model([self.doc, missing, askable, -asked])
            if model is not None:
                b3.proven = False
                case = self.witness(model, "a", "B3")
                b3.witnesses.append(Witness(case, f"PAS lists {top} as missing, but no enabled question settles its undocumented leaves",
                                            _label(self.decide(case))))
            if pair.model([self.doc, missing, -askable]) is not None:
                order_only.append(top)
        if order_only:
            b3.notes.append("missing criteria no question settles (read only from the order: the Claim's codes, the member's "
                            f"birth date, ...), so DTR cannot ask for them: {', '.join(order_only)}")
        return [b1, b2, b3]

    def _review_deciders(self) -> set[str]:
        """Questions whose answer alone can change the review type (found by the solver)."""
        pair = self.pair
        rdiff = pair.flag("wf_rdiff")
        out = set()
        for question in self.ownership.questions:
            mine = set(self.ownership.dims[question])
            others = [d.name for d in self.space.dims if d.name not in mine]
            if rdiff is not None and pair.model([rdiff, *pair.tied(others)]) is not None:
                out.add(question)
        return out

    # --- (c) ---------------------------------------------------------------------
    def prove_c(self) -> Verdict:
        from ..service.questionnaire import field_predicates

        verdict = Verdict("c", "the adaptive form never stops before the decision is fixed", True)
        gives = field_predicates()  # from the case schema: the predicates each question's field gives
        order = frozenset(p for path, spec in FIELDS.items() if path.split(".")[0].split("[")[0] in ORDER_FIELDS for p in spec.facts)
        differ = self.pair.flag("wf_differ")
        for dim in self.space.dims:
            preds = dim_predicates(dim)
            should = {q for q in self.ownership.questions if gives.get(q, frozenset()) & preds}
            owned = set(self.ownership.owners.get(dim.name, ()))
            lost = should - owned
            if not lost and (owned or preds <= order):
                continue
            others = [d.name for d in self.space.dims if d.name != dim.name]
            model = self.pair.model([differ, *self.pair.tied(others)]) if differ is not None else None
            if model is None:
                verdict.notes.append(f"{dim.name}: not owned by {', '.join(sorted(lost)) or 'any question'}, but it never changes a decision")
                continue
            verdict.proven = False
            a, b = self.witness(model, "a", "C"), self.witness(model, "b", "C")
            da, db = self.decide(a), self.decide(b)
            who = ", ".join(sorted(lost)) or "no question and not the order"
            verdict.witnesses.append(Witness(a, f"the form treats {dim.name} as known ({who} should own it): this case and "
                                                f"{b['id']} differ only there, and are decided {_label(da)} and {_label(db)}",
                                             _label(da), b))
        if self.space.incomplete:
            verdict.proven = False
            verdict.notes += [f"the space cannot follow: {reason}" for reason in self.space.incomplete]
        verdict.notes.append("stops only when no two completions decide differently (adaptive.py); with every input owned, "
                             "that is exactly a fixed decision")
        return verdict


def prove(policy: Policy | None = None, *, rules: dict[str, dict] | None = None,
          coverage: Callable[[Decision], CoverageAnswer] = coverage_answer, ownership: Ownership | None = None,
          flow: Workflow | None = None) -> list[Verdict]:
    """Prove (a), (b1)-(b3) and (c) for a policy; rules, coverage and ownership default to what it derives."""
    policy = policy or Policy.load()
    flow = flow or workflow(policy)
    rules = derive(flow) if rules is None else rules
    prover = _Prover(policy, flow, rules, coverage, ownership or flow.ownership)
    with flow.lock:
        classes = prover.classes()
        verdicts = [prover.prove_a(classes)]
        verdicts += prover.prove_b()
        verdicts.append(prover.prove_c())
    return verdicts


def report(verdicts: list[Verdict], witness_dir: Path | None = None) -> tuple[str, int]:
    """The text check-kb prints, and the number of properties refuted; witnesses go to witness_dir as YAML."""
    import json

    lines = ["Workflow agreement over every possible case (CRD, DTR and the adaptive form against PAS):"]
    refuted = 0
    for v in verdicts:
        lines.append(f"  ({v.key}) {v.title}: {'proven' if v.proven else 'REFUTED'}")
        lines += [f"      note: {n}" for n in v.notes]
        refuted += not v.proven
        for w in v.witnesses:
            lines.append(f"      witness {w.case['id']} (decide: {w.decision}): {w.says}")
            for case in (w.case, w.other):
                if case is None:
                    continue
                if witness_dir is not None:
                    path = _write(witness_dir, case)
                    lines.append(f"        {path}")
                else:
                    lines.append("        " + json.dumps(case, ensure_ascii=False))
    lines.append("All proven." if not refuted else f"{refuted} propert{'y' if refuted == 1 else 'ies'} refuted.")
    return "\n".join(lines), refuted


def _write(directory: Path, case: dict) -> Path:
    import yaml

    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{case['id']}.yaml"
    path.write_text(yaml.safe_dump(case, sort_keys=False, default_flow_style=None), encoding="utf-8")
    return path
