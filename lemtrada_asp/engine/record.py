"""The decision record: one case's decision, frozen, with everything its outputs need.

Built once per case from what clingo derived (``engine.py``) and the KB's catalogue,
then only read: every renderer (text, JSON, explain, letters, FHIR) and every
analysis takes a ``Decision`` and nothing else. It holds no clingo object, so it
pickles across processes and means the same wherever it is read.

``to_json`` is the decision format (version 1) of the spec.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Advisory", "Change", "CriterionResult", "Decision", "Evidence", "Node", "Reason"]


@dataclass(frozen=True)
class Evidence:
    """A case fact behind a status, as the case model words it.

    ``kind`` is the KB's name for the fact (the input predicate, or ``absent``,
    ``no_entry``, ``no_record``, ``none_listed``); ``text`` the reviewer's line,
    starting with the case field; ``values`` the plain facts a letter words for a
    member (name, value pairs, so the record stays frozen).
    """

    kind: str
    text: str
    values: tuple[tuple[str, Any], ...] = ()

    def value(self, name: str, default: Any = None) -> Any:
        return dict(self.values).get(name, default)


@dataclass(frozen=True)
class Reason:
    """One node on the minimal failing (or missing) branch under a top-level criterion."""

    id: str
    title: str
    status: str
    because: tuple[Evidence, ...]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "status": self.status, "because": [e.text for e in self.because]}


@dataclass(frozen=True)
class CriterionResult:
    """A failed or missing top-level criterion, or an applied exclusion."""

    id: str
    title: str
    section: str
    kind: str
    status: str
    reasons: tuple[Reason, ...]
    needed: str | None = None  # missing criteria: what documentation would settle them

    def leaves(self) -> list[Reason]:
        """The reasons with evidence of their own: the leaves of the branch."""
        return [r for r in self.reasons if r.because or r.id == self.id]


@dataclass(frozen=True)
class Change:
    """One leaf or exclusion that would have to change, in a minimal correction."""

    id: str
    title: str
    change: str
    actionable: bool

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "change": self.change, "actionable": self.actionable}


@dataclass(frozen=True)
class Advisory:
    id: str
    text: str


@dataclass(frozen=True)
class Node:
    """One evaluated criterion of the whole tree (records built with details)."""

    id: str
    title: str
    kind: str
    section: str
    status: str
    facts: tuple[Evidence, ...] = ()
    needed: str | None = None
    children: tuple["Node", ...] = ()


@dataclass(frozen=True)
class Decision:
    """One case, decided."""

    case_id: str
    source: str
    decision: str  # approve | deny | pend
    pend_reason: str | None
    review_type: str | None
    attributes: tuple[tuple[str, Any], ...]  # the policy's extra output fields, e.g. ("course", 2)
    failed: tuple[CriterionResult, ...]
    missing: tuple[CriterionResult, ...]
    authorized: tuple[tuple[str, Any], ...] | None  # granted fields in the policy's order; None unless approved
    advisories: tuple[Advisory, ...]
    kb_version: str
    guideline: tuple[str, str]  # the policy's name and revision
    parameters: tuple[tuple[str, int], ...]
    case: Any = None  # the validated case (the policy's case model)
    corrections: tuple[tuple[Change, ...], ...] | None = None  # computed on request
    tree: tuple[Node, ...] | None = None  # every evaluated criterion, on request (details)
    policy_version: tuple[tuple[str, Any], ...] | None = None  # the version in force (name, revised, effective), under a versions directory

    def attribute(self, name: str, default: Any = None) -> Any:
        return dict(self.attributes).get(name, default)

    @property
    def course(self) -> Any:
        return self.attribute("course")

    @property
    def params(self) -> dict[str, int]:
        return dict(self.parameters)

    def statuses(self) -> dict[str, str]:
        """Every evaluated node's status (records built with details)."""
        found: dict[str, str] = {}

        def walk(node: Node) -> None:
            found[node.id] = node.status
            for child in node.children:
                walk(child)

        for node in self.tree or ():
            walk(node)
        return found

    def node(self, ident: str) -> Node | None:
        stack = list(self.tree or ())
        while stack:
            node = stack.pop()
            if node.id == ident:
                return node
            stack.extend(node.children)
        return None

    def to_json(self) -> dict[str, Any]:
        """The decision format (version 1), plus ``corrections`` when they were computed."""
        data: dict[str, Any] = {
            "case_id": self.case_id,
            "decision": self.decision,
            "pend_reason": self.pend_reason,
            "review_type": self.review_type,
            **dict(self.attributes),
            "failed": [
                {"id": c.id, "title": c.title, "status": c.status, "section": c.section,
                 "reasons": [r.to_json() for r in c.reasons]}
                for c in self.failed
            ],
            "missing": [
                {"id": c.id, "title": c.title, "section": c.section,
                 "reasons": [r.to_json() for r in c.reasons], "needed": c.needed}
                for c in self.missing
            ],
            "authorized": _authorized(self.authorized),
            "advisories": [a.text for a in self.advisories],
            "kb_version": self.kb_version,
            "source": self.source,
        }
        if self.policy_version is not None:
            data["policy_version"] = dict(self.policy_version)
        if self.corrections is not None:
            data["corrections"] = [[c.to_json() for c in changes] for changes in self.corrections]
        return data


def _authorized(granted: tuple[tuple[str, Any], ...] | None) -> dict[str, Any] | None:
    """Scalar grants as fields; a grant of f(Code) as an entry {code, units} of list f."""
    if granted is None:
        return None
    out: dict[str, Any] = {}
    for name, value in granted:
        if isinstance(value, tuple):
            out.setdefault(name, []).append({"code": value[0], "units": value[1]})
        else:
            out[name] = value
    return out
