"""What `test --coverage` and `test --mutate` add to a test run (kept apart from cli/test.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def suite_analyses(paths: list[str], kb_dir: Path | None, coverage: bool, mutate: bool, threshold: float | None) -> dict[str, Any]:
    """{"text": [sections], "rules": json, "mutation": json, "fail": bool} for the cases at paths."""
    from ..engine.knowledge import KnowledgeBase
    from .suiteprog import load_suite

    kb = KnowledgeBase(kb_dir)
    cases = load_suite(paths, kb)
    out: dict[str, Any] = {"text": [], "fail": False}
    if coverage:
        from .rulecov import as_text, rule_coverage, whole_space

        possible, firable, incomplete = whole_space(kb)
        report = rule_coverage(kb, cases, possible, None if incomplete else firable)
        out["rules"] = report.as_json()
        text = as_text(report)
        if threshold is not None and report.percent < threshold:
            out["fail"] = True
            text += f"\nFAIL: {report.percent:.1f}% of rules fired, below the threshold of {threshold:g}%"
        out["text"].append(text)
    if mutate:
        from .mutation import as_text as mutation_text, equivalence, run_mutation

        report = run_mutation(kb, cases)
        equivalence(kb, report)
        out["mutation"] = {
            "mutants": len(report.mutants), "killed": len(report.mutants) - len(report.survivors),
            "seconds": round(report.seconds, 1), "score": round(report.score, 1),
            "survivors": [m.as_json() for m in report.survivors],
        }
        out["text"].append(mutation_text(report))
        if any(not m.equivalent for m in report.survivors):
            out["fail"] = True
    return out


def policy_checks(analysis, property_file: str | None, kb_dir: Path | None, props=None) -> tuple[str, int]:
    """The text of `check-kb --properties`' policy checks (and an analyst's file), and how many are problems.

    Findings about the policy (a criterion duplicating an exclusion, ...) are
    reported, not counted: the spec fixes those semantics. Data facts that can
    never take effect and refuted analyst properties are problems. Last, the
    cases the KB handles against the policy text's intent (props: the
    Properties, for the gaps), each with a witness decided by decide.
    """
    from .checks import against_intent, as_text, intent_text, run_checks

    checks = run_checks(analysis)
    texts = [as_text(checks), intent_text(against_intent(analysis, checks, props))]
    problems = len(checks.of("data"))
    if property_file:
        from .userprops import as_text as props_text, check_properties

        results = check_properties(Path(property_file), kb_dir)
        texts.append(props_text(results))
        problems += sum(not r.holds for r in results)
    return "\n\n".join(texts), problems
