"""``lemtrada-asp check-kb``: is a knowledge base sound, and what holds of it over every possible case."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..engine import guard
from .options import KB_OPTION, kb_header, run_guarded, resource_options


@click.command("check-kb")
@KB_OPTION
@click.option(
    "--properties",
    "with_properties",
    is_flag=False,
    flag_value="",
    default=None,
    metavar="[FILE]",
    help="Also report, over every possible case: the statuses each criterion can take, approvals while an exclusion applies, "
         "criteria that can never be met or never fail, gaps between an exclusion and the approvable range of a numeric input, "
         "and the policy checks (criteria that duplicate an exclusion, exclusions a review cannot enforce, code tables against "
         "the form of MS in both reviews, data facts naming unknown criteria, states or codes), and every case the KB handles against "
         "the policy text's intent, each with a witness decide confirms. With FILE, also prove or refute the analyst's "
         "properties in FILE (ASP constraints; see README).",
)
@click.option("--workflow", "with_workflow", is_flag=True,
              help="Also prove, over every possible case, that CRD, DTR and the adaptive form agree with PAS: (a) CRD covered "
                   "without documentation => PAS approves; (b) CRD doc-needed => the form's enabled questions are exactly those that "
                   "can settle what PAS lists as missing; (c) the adaptive form never stops before the decision is fixed. Each is "
                   "proven or refuted with a witness case (lemtrada_asp/workflow/README.md).")
@click.option("--questionnaire", "questionnaire_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="With --workflow: prove the enableWhen of this Questionnaire (JSON, e.g. the one published) instead of the "
                   "ones derived from the KB.")
@click.option("--witnesses", "witness_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="With --workflow: write each witness case to DIR/WORKFLOW-*.yaml.")
@click.option("--verbose", "-v", is_flag=True,
              help="Also list the decision cache's derivation: which leaves read which inputs, or why the KB gets the plain path.")
@resource_options
def check_kb(kb_dir: Path | None, with_properties: str | None, with_workflow: bool, questionnaire_file: Path | None,
             witness_dir: Path | None, verbose: bool) -> None:
    """Check that a knowledge base is sound; list each problem with file:line.

    Checked: every criterion id has a title and section (criterion/3); every
    node a known kind, inner nodes children, children are declared nodes, no
    cycle; every top-level criterion and exclusion a policy_order; every leaf a
    rule deriving its finding; and, searching every possible case, that each
    gets exactly one decision, every evaluated node one status, and an answer.
    Then a probe corpus of generated cases is decided. Last, the decision
    cache's derivation (which leaves read which inputs, what the decision reads
    besides) is checked by deciding generated cases both ways; -v lists it, or
    why the KB gets the plain path.
    Every quoted policy sentence (quotes/2, not_formalised/3) must be in the
    KB's policy text, and every sentence of the text that states a criterion
    must be quoted or declared not formalised (see `criteria`). A rule that
    reads a parameter at a value its quoted sentence does not state (I2 at 17
    under "18 years of age or older") is a warning, unless the KB records the
    departure: departs_from(Subject, Param, Reason).

    Exit status: 0 sound (warnings may be listed); 1 unsound, or with
    --properties a property violated (a case approved while an exclusion
    applies, a criterion that can never be met, an exclusion that can never or
    always applies, a data fact that can never take effect, an analyst's
    property refuted); 2 the property file is invalid; 3 the knowledge base
    does not load, or time or memory ran out (during the exhaustive analysis,
    say). With --workflow, 1 also when a workflow property is refuted; 2 an
    unreadable --questionnaire.
    """
    from ..analysis.properties import KbAnalysis
    from ..analysis.soundness import check_kb as check
    from ..analysis.departures import findings as departure_findings
    from ..analysis.trace import findings as trace_findings

    outcome = {"problems": 0}
    if (questionnaire_file or witness_dir) and not with_workflow:
        raise click.UsageError("--questionnaire and --witnesses go with --workflow")
    rules = _read_enable_when(questionnaire_file) if questionnaire_file else None

    def body() -> None:
        _say_if_code(kb_dir)
        with guard.running("the exhaustive analysis (check-kb, every possible case)"):
            analysis = KbAnalysis(kb_dir)
            findings = check(kb_dir, analysis)
            findings += trace_findings(analysis.kb)  # quotes against the policy text (analysis/trace.py)
            findings += departure_findings(analysis.kb, analysis.source)  # rules against their quotes (analysis/departures.py)
        problems = [f for f in findings if f.severity == "problem"]
        warnings = [f for f in findings if f.severity != "problem"]
        click.echo("Checking " + kb_header(analysis.kb))  # the base and every overlay
        click.echo(f"  catalogue: {len(analysis.kb.catalogue.criteria)} criteria and exclusions")
        click.echo(f"  every possible case: {len(analysis.space.dims)} inputs, {analysis.space.size():.3g} abstract cases searched for faults")
        for finding in problems + warnings:
            click.echo(str(finding))
        if problems:
            click.echo(f"Unsound: {len(problems)} problem{'s' if len(problems) != 1 else ''}" + (f", {len(warnings)} warning{'s' if len(warnings) != 1 else ''}." if warnings else "."))
        else:
            click.echo("Sound" + (f", with {len(warnings)} warning{'s' if len(warnings) != 1 else ''}." if warnings else ": no problems found."))
        outcome["problems"] = len(problems)
        outcome["problems"] += _cache_report(analysis.kb, verbose)
        if with_properties is not None:
            with guard.running("the exhaustive analysis (check-kb --properties)"):
                props = analysis.properties()
            click.echo("")
            click.echo(_properties_text(analysis, props))
            outcome["problems"] += props.problems
            from ..analysis.workbench_cli import policy_checks

            with guard.running("the policy checks (check-kb --properties)"):
                text, problems = policy_checks(analysis, with_properties or None, kb_dir, props)
            click.echo("")
            click.echo(text)
            outcome["problems"] += problems
        if with_workflow:
            from ..engine.policy import Policy
            from ..workflow.proofs import prove, report

            with guard.running("the workflow proofs (check-kb --workflow)"):
                verdicts = prove(Policy.load(kb_dir), rules=rules)
            text, refuted = report(verdicts, witness_dir)
            click.echo("")
            click.echo(text)
            outcome["problems"] += refuted

    run_guarded(body)
    sys.exit(1 if outcome["problems"] else 0)


def _read_enable_when(path: Path) -> dict[str, dict]:
    """linkId -> its enableWhen and enableBehavior, from a Questionnaire file; a bad file is exit 2."""
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        click.echo(f"error: {path}: cannot read a Questionnaire (JSON): {exc}", err=True)
        sys.exit(2)
    if not isinstance(data, dict) or data.get("resourceType") != "Questionnaire":
        click.echo(f"error: {path}: resourceType: expected a Questionnaire", err=True)
        sys.exit(2)
    rules = {}
    for n, item in enumerate(data.get("item") or []):
        if not isinstance(item, dict) or not isinstance(item.get("linkId"), str):
            click.echo(f"error: {path}: item[{n}].linkId: expected a string", err=True)
            sys.exit(2)
        if item.get("enableWhen"):
            rules[item["linkId"]] = {"enableWhen": item["enableWhen"], "enableBehavior": item.get("enableBehavior", "all")}
    return rules


def _say_if_code(kb_dir) -> None:
    """A KB whose case model is a .py file of its own is code: say so before that code runs."""
    from ..engine.casemodel import case_model_file
    from ..engine.knowledge import KnowledgeBase

    kb = KnowledgeBase(kb_dir)
    own = case_model_file(kb.manifest.case_model, kb.directory)  # refuses one outside the KB or the package (exit 3)
    if own is not None:
        click.echo(f"note: this knowledge base is code: its case model {own} is a Python file of the KB, run by every "
                   "command that opens it (this one included); review and trust it as you would a program")


def _cache_report(kb, verbose: bool = False) -> int:
    """The decision cache's derivation for this KB, verified on generated cases: 1 if they differ.

    Quiet unless asked (-v) or wrong: an analyst checking a rule needs the verdict, not
    the cache's internals; a difference prints everything, since it is a bug to report.
    """
    from ..analysis.generate import PARAMETERS, generate_cases
    from ..engine.cache import verify
    from ..engine.engine import Engine
    from ..engine.errors import InputError, KnowledgeBaseError

    engine = Engine(kb)
    params = engine.catalogue.params
    cases = []
    if all(name in params for name in PARAMETERS):  # the generator's case format; another policy: the derivation only
        for data in generate_cases(300, 1, params=params):
            try:
                cases.append((data["id"], engine.case_model.validate(data, data["id"])))
            except InputError:
                break
    try:
        lines, differ = verify(engine, cases)
    except KnowledgeBaseError:  # an unsound KB: reported above, nothing to compare
        click.echo("decision cache: not verified (the knowledge base does not decide the generated cases)")
        return 0
    if verbose or differ:
        shown = lines
    else:
        state = lines[0].split(";")[0] if lines else "decision cache"
        shown = [f"{state} (-v: how it is derived)"] + [line for line in lines if line.startswith("decision cache verified")]
    for line in shown:
        click.echo(line)
    return 1 if differ else 0


def _properties_text(analysis, props) -> str:
    from ..analysis.coverage import ALL_STATUSES, Coverage
    from ..engine.catalogue import criterion_sort_key

    info = analysis.kb.catalogue.info
    lines = ["Properties over every possible case", "", "Statuses each criterion can take:"]
    order = Coverage(analysis.kb.catalogue).nodes()
    for ident in sorted(props.reachable, key=lambda i: (order.index(i) if i in order else len(order), criterion_sort_key(i))):
        statuses = [s for s in ALL_STATUSES if s in props.reachable[ident]]
        lines.append(f"  {ident:<9} {', '.join(statuses)}")
    lines.append("")
    if props.approved_excluded:
        lines.append(f"PROBLEM: approved while an exclusion applies ({len(props.approved_excluded)} kinds of case), e.g.:")
        lines += [f"  {ex.summary}" for ex in props.approved_excluded]
    else:
        lines.append("Approved while an exclusion applies: no case.")
    never_met = [(i, s) for i, s, severity in props.never if severity == "problem"]
    never_fail = [i for i, s, severity in props.never if severity == "note"]
    if never_met:
        wording = {"met": "can never be met", "applies": "can never apply", "does_not_apply": "always applies"}
        lines += [f"PROBLEM: {i} ({info(i).title}) {wording[s]}" for i, s in never_met]
    else:
        lines.append("Criteria that can never be met: none.")
    lines.append("Criteria that can never fail (never not_met): " + (", ".join(never_fail) or "none") + ".")
    lines.append("")
    lines.append("Thresholds on numeric inputs (an exclusion against what a review can approve):")
    if not props.gaps:
        lines.append("  none: no exclusion depends on a numeric input.")
    for gap in props.gaps:
        lines.append(f"  {gap.dimension}, {gap.exclusion} ({info(gap.exclusion).title}), {gap.review} review:")
        lines.append(f"    excluded: {gap.excluded}; approvable: {gap.approvable}")
        if gap.neither:
            failing = ", ".join(f"{t} ({info(t).title})" for t in gap.failing) or "no single criterion"
            lines.append(f"    GAP: {gap.neither} is neither excluded nor approvable: it always fails {failing}")
    return "\n".join(lines)
