"""``lemtrada-asp test``: run case files against their expected outcomes; rule coverage."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..engine.errors import InputError
from ..render.text import error_text, printable
from .options import (
    IO_ERROR, JOBS_OPTION, KB_OPTION, executor_options, format_option, kb_header, make_run, resource_options, run_guarded,
)


@click.command()
@click.argument("paths", nargs=-1)
@KB_OPTION
@click.option("--coverage", is_flag=True, help="Also report, per criterion, sub-criterion and exclusion, which statuses the cases exercised and which never.")
@click.option("--threshold", type=click.FloatRange(0, 100), default=None, metavar="PCT",
              help="With --coverage: exit 1 when fewer than PCT percent of the policy's rules fired on the cases.")
@click.option("--mutate", is_flag=True, help="Mutation testing: mutate each leaf rule and parameter, run the cases against every mutant, report each mutant no case kills (file:line, what changed), with a case that would kill it or why none can.")
@click.option("--accept", is_flag=True, help="Rewrite the expected file of each case that fails to what was decided (its keys and leading comments kept), "
              "after showing the change as a diff: an intended change of the KB is one command.")
@format_option(["text", "json"], "text: a PASS/FAIL line per case and a summary; json: one object per case, then a summary object (with the coverage).")
@JOBS_OPTION
@executor_options
@resource_options
def test(paths: tuple[str, ...], kb_dir: Path | None, coverage: bool, threshold: float | None, mutate: bool, accept: bool, output_format: str,
         jobs: int | None, executor: str, scheduler: str | None, shard: str | None) -> None:
    """Decide test cases and compare each with its expected outcome.

    A test case is a case file NAME.yaml (or .json) with NAME.expected.yaml
    beside it, giving any field of the decision format: decision, pend_reason,
    review_type, course, failed, missing (ids), authorized, advisories,
    corrections (each alternative a list of ids), kb_version; or the short
    forms authorized_mg and because (per criterion id, its because lines).
    PATHS are case files or directories (default: the example suite cases/ of
    the source checkout). A failure lists each key that differs; for failed
    and missing ids, -ID was expected but not decided, +ID was decided but not
    expected. With --accept, each failing case's expected file is rewritten
    to what was decided (the diff is shown first) and the case counts as
    accepted.

    With --coverage, also which rules of the policy's files fired on the cases
    (per file and line; those that never did are listed) and which decisions
    the cases reach; --threshold PCT fails below PCT percent of rules fired.
    With --mutate, the cases run against every mutant of the leaf rules.

    Exit status: 0 every case passed; 1 some case failed (or has no expected
    outcome), the rule coverage is below --threshold, or with --mutate a mutant
    that some possible case would kill survives; 2 some case or expectation
    file is invalid; 4 a case file or directory could not be read (I/O); 3 the
    knowledge base does not load.
    """
    if threshold is not None and not coverage:
        raise click.UsageError("--threshold goes with --coverage")
    from ..analysis.suite import (
        default_suite_dir,
        expectation_for,
        load_expectation,
        mismatches,
        needs_corrections,
    )
    from ..engine.policy import Policy
    from .progress import with_progress

    totals = {"passed": 0, "failed": 0, "invalid": 0, "accepted": 0}
    unreadable: list[bool] = []  # per invalid input: whether it could not be read (I/O, exit 4)
    tracker = None

    def emit(record: dict, text: str) -> None:
        click.echo(json.dumps(record, ensure_ascii=False) if output_format == "json" else text)

    def body() -> None:
        nonlocal tracker
        targets = list(paths) or [_shown(default_suite_dir())]
        policy = Policy.load(kb_dir)
        if output_format == "text":
            click.echo(kb_header(policy.kb))
        results = policy.decide_paths(targets, jobs=jobs, details=coverage, run=make_run(executor, scheduler, shard))
        if coverage:
            tracker = _coverage(kb_dir)
        for result in with_progress(results, paths=None if shard else targets):
            if not result.ok:
                totals["invalid"] += 1
                unreadable.append(result.exit_status == IO_ERROR)
                emit({"source": result.source, "result": "invalid", "problems": result.error["problems"]}, f"INVALID {error_text(result.error)}")
                continue
            decision = result.decision
            if tracker is not None:
                tracker.add(result.statuses or {})
            label = f"{printable(result.source)} ({printable(decision['case_id'])})"
            expected_at = expectation_for(result.source)
            if expected_at is None:
                totals["failed"] += 1
                emit({"source": result.source, "case_id": decision["case_id"], "result": "fail", "differences": ["no expected outcome beside the case (NAME.expected.yaml)"]},
                     f"FAIL {label}\n     no expected outcome beside the case (NAME.expected.yaml)")
                continue
            try:
                expected = load_expectation(expected_at)
            except InputError as exc:
                totals["invalid"] += 1
                emit({"source": str(expected_at), "result": "invalid", "problems": [{"field": p.field, "message": p.message} for p in exc.problems]}, f"INVALID {error_text(exc.as_json())}")
                continue
            if needs_corrections(expected) and "corrections" not in decision:
                decision = policy.decide(result.record.case, corrections=True, source=result.source).to_json()
            lines = mismatches(expected, decision)
            if lines and accept:
                shown = _accept(expected_at, expected, decision)
                totals["accepted"] += 1
                emit({"source": result.source, "case_id": decision["case_id"], "result": "accepted", "differences": lines,
                      "rewritten": str(expected_at), "diff": shown}, f"ACCEPTED {label}\n{shown}")
                continue
            totals["failed" if lines else "passed"] += 1
            emit({"source": result.source, "case_id": decision["case_id"], "result": "fail" if lines else "pass", "differences": lines},
                 f"{'FAIL' if lines else 'PASS'} {label}" + "".join(f"\n     {line}" for line in lines))

    extra: dict = {}

    def workbench() -> None:
        from ..analysis.suite import default_suite_dir
        from ..analysis.workbench_cli import suite_analyses

        extra.update(suite_analyses(list(paths) or [_shown(default_suite_dir())], kb_dir, coverage, mutate, threshold))

    run_guarded(body)
    if coverage or mutate:
        run_guarded(workbench)
    count = sum(totals.values())
    summary = f"{count} case{'s' if count != 1 else ''}: {totals['passed']} passed, {totals['failed']} failed" + (
        f", {totals['invalid']} invalid" if totals["invalid"] else "") + (
        f", {totals['accepted']} accepted (expected files rewritten)" if totals["accepted"] else "")
    report = tracker.report() if tracker is not None else None
    if output_format == "json":
        if report is not None and "rules" in extra:
            report = {**report, "rules": extra["rules"]}
        summed = totals if accept else {k: v for k, v in totals.items() if k != "accepted"}
        click.echo(json.dumps({"summary": {"cases": count, **summed}, **({"coverage": report} if report else {}),
                               **({"mutation": extra["mutation"]} if "mutation" in extra else {})}))
    else:
        click.echo(summary)
        if report is not None:
            from ..analysis.coverage import as_text

            click.echo("\n" + as_text(report))
        for text in extra.get("text", []):
            click.echo("\n" + text)
    if any(unreadable):
        sys.exit(IO_ERROR)
    if totals["invalid"]:
        sys.exit(InputError.exit_status)
    if totals["failed"] or extra.get("fail"):
        sys.exit(1)


def _accept(path: Path, expected: dict, decision: dict) -> str:
    """Rewrite an expected file to what was decided; the change, as a unified diff."""
    import difflib

    from ..analysis.suite import accepted, expectation_text

    old = path.read_text(encoding="utf-8")
    new = expectation_text(accepted(expected, decision), old)
    path.write_text(new, encoding="utf-8")
    shown = _shown(path)
    return "".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True), f"a/{shown}", f"b/{shown}")).rstrip("\n")


def _shown(path: Path) -> str:
    """A path relative to the working directory when it is below it: shorter PASS lines."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _coverage(kb_dir: Path | None):
    from ..analysis.coverage import Coverage
    from ..analysis.properties import KbAnalysis
    from ..engine.knowledge import KnowledgeBase

    analysis = KbAnalysis(kb=KnowledgeBase(kb_dir))
    return Coverage(analysis.kb.catalogue, analysis.reachable())
