"""How many questions the adaptive form asks, against the static Questionnaire.

    python -m lemtrada_asp.workflow.measure --n 500 --seed 1 [--kb DIR]

On a generated corpus (analysis/generate.py: cases near the decision
boundaries), each case is played through the adaptive form: the form starts
with what the order gives (the Claim's request and member), each question it
asks is answered from the case (an answer the case leaves absent is left empty),
until ``next_question`` returns None. Printed: the mean and maximum number of
questions asked; the static Questionnaire's item count (its top-level items);
the mean and maximum number of items the static form with the derived
``enableWhen`` shows for the case's answers; and, as a check of property (c) on
concrete cases, how many cases the form ended with the decision the whole case
gets (every one must).
"""

from __future__ import annotations

import copy
import statistics
import sys
from dataclasses import dataclass, field
from typing import Any, Iterable

import click

from ..case.pas.schema import answer_items
from ..engine.policy import Policy
from .adaptive import workflow
from .enable import derive, enabled
from .questions import ORDER_FIELDS, get_path

__all__ = ["Measure", "measure", "play"]


def _put(case: dict, link_id: str, value: Any) -> None:
    *parents, name = link_id.split(".")
    node = case
    for part in parents:
        node = node.setdefault(part, {})
    node[name] = copy.deepcopy(value)


def play(policy: Policy, full: dict) -> tuple[list[str], dict]:
    """The adaptive form on one case: the questions asked, in order, and the case it ends with."""
    case = copy.deepcopy({k: full[k] for k in ORDER_FIELDS if k in full})
    asked: list[str] = []
    while (question := workflow(policy).next_question(case, asked)) is not None:
        if question in asked:  # never happens (an answered question is not open); guards the loop
            raise RuntimeError(f"the adaptive form asked {question} twice")
        asked.append(question)
        value = _answer(full, question)
        if value is not None:
            _put(case, question, value)
    return asked, case


def _answer(full: dict, question: str) -> Any:
    """The case's answer to a question, as a QuestionnaireResponse gives it back.

    A list field absent from an object the case has (``response: {}``) was an item
    with no answer: the empty list (fhir-pas.md, "QuestionnaireResponse"), which
    brings the object into being; anything else absent was skipped.
    """
    value = get_path(full, question)
    parent = question.rpartition(".")[0]
    if value is None and parent and isinstance(get_path(full, parent), dict) and question in _REPEATING:
        return []
    return value


_REPEATING = frozenset(item.link_id for item in answer_items() if item.repeats)


@dataclass
class Measure:
    cases: int = 0
    asked: list[int] = field(default_factory=list)
    shown: list[int] = field(default_factory=list)
    items: int = 0
    agree: int = 0
    disagreements: list[str] = field(default_factory=list)

    def text(self) -> str:
        def stats(values: list[int]) -> str:
            return f"mean {statistics.fmean(values):.2f}, max {max(values)}" if values else "no cases"

        return "\n".join([
            f"{self.cases} generated cases played through the adaptive form",
            f"  adaptive form, questions asked:          {stats(self.asked)}",
            f"  static Questionnaire, items:             {self.items}",
            f"  static form with enableWhen, items shown: {stats(self.shown)}",
            f"  ended with the whole case's decision:    {self.agree} of {self.cases}"
            + ("" if not self.disagreements else f" (differ: {', '.join(self.disagreements[:10])})"),
        ])


def measure(policy: Policy, cases: Iterable[dict]) -> Measure:
    questions = [item.link_id for item in answer_items()]
    rules = derive(workflow(policy))
    result = Measure(items=len(questions))
    for full in cases:
        asked, ended = play(policy, full)
        result.cases += 1
        result.asked.append(len(asked))
        result.shown.append(len(enabled(rules, full, questions)))
        whole, partial = policy.decide(full), policy.decide(ended)
        if (whole.decision, whole.pend_reason, whole.authorized) == (partial.decision, partial.pend_reason, partial.authorized):
            result.agree += 1
        else:
            result.disagreements.append(full["id"])
    return result


@click.command()
@click.option("--n", "n", type=click.IntRange(1, 100_000), default=200, show_default=True, help="Number of generated cases.")
@click.option("--seed", type=int, default=1, show_default=True, help="The generator's seed.")
@click.option("--kb", "kb_dir", type=click.Path(file_okay=False, exists=True), default=None, help="Knowledge base directory.")
def main(n: int, seed: int, kb_dir: str | None) -> None:
    """Mean questions of the adaptive form against the static Questionnaire, on a generated corpus."""
    from ..analysis.generate import generate_cases
    from ..engine.errors import KnowledgeBaseError

    try:
        policy = Policy.load(kb_dir)
        result = measure(policy, generate_cases(n, seed, params=policy.catalogue.params))
    except KnowledgeBaseError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(3)
    click.echo(f"python -m lemtrada_asp.workflow.measure --n {n} --seed {seed}" + (f" --kb {kb_dir}" if kb_dir else ""))
    click.echo(result.text())
    sys.exit(0 if result.agree == result.cases else 1)


if __name__ == "__main__":
    main()
