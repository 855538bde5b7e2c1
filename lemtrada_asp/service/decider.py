"""The loaded policy behind the service: case dict in, decision object out.

The only module of the service that calls the engine (through the public
Policy API); everything else works on the case and decision formats. One
Decider per worker process, made once at start, so no request loads the KB
or derives the decision cache.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from ..engine.cache import cache_for
from ..engine.errors import InputError
from ..engine.policy import Policy
from .app import CaseInvalid, not_a_case

__all__ = ["Decider", "tool_version"]


def tool_version() -> str:
    try:
        return version("lemtrada-asp")
    except PackageNotFoundError:  # run from a checkout that was never installed
        from .. import __version__

        return __version__


class BeforeEffectiveDate(CaseInvalid):
    """A request dated before the policy in force (criteria.md, "Policy in force"): refused, never silently decided.

    ``/v1/decide`` answers it 400 at ``request.date``; ``$submit`` as a business error
    with this X12 901 code (56, Inappropriate Date).
    """

    x12 = "56"


def case_invalid(exc: InputError) -> CaseInvalid:
    """The service's CaseInvalid of an engine InputError: its problems as (field, message) pairs."""
    return CaseInvalid([(p.field, p.message) for p in exc.problems], exc.case_id)


class Decider:
    """One loaded policy, or with ``versions_dir`` every policy version (as ``decide --versions``)."""

    def __init__(self, kb_dir: str | Path | None = None, versions_dir: str | Path | None = None):
        self.versions = None
        if versions_dir is not None:
            from ..engine.versions import Versions

            self.versions = Versions(versions_dir)
            self.policies = {v.name: Policy(self.versions.engine(v)) for v in self.versions.versions}
            self.policy = self.policies[self.versions.versions[-1].name]  # the newest reads every case
        else:
            self.policy = Policy.load(kb_dir)
        # Derived now, not on the second request: the decision cache's derivation takes
        # about a second, which no request should wait for.
        for policy in (self.policies.values() if self.versions else [self.policy]):
            cache_for(policy.engine)
        self.kb_version = self.policy.version
        self.kb_root = self.policy.kb.root
        self.effective = self.policy.effective_date
        self.tool_version = tool_version()

    def _in_force(self, case: Any) -> tuple[Policy, Any]:
        """The policy that decides the case, and the version it is; BeforeEffectiveDate when none is in force."""
        day = self.policy.engine.case_model.request_date(case)
        if self.versions is None:
            if not self.policy.in_force(case):
                raise BeforeEffectiveDate([("request.date", f"{day} is before this policy's effective date {self.effective} "
                                                            f"(revised {self.policy.kb.manifest.revised}); the server decides "
                                                            f"such a request only when started with --versions")],
                                          getattr(case, "id", None))
            return self.policy, None
        version = self.versions.in_force(day)
        if version is None:
            first = self.versions.versions[0]
            raise BeforeEffectiveDate([("request.date", f"{day} is before the first policy version in force "
                                                        f"({first.name}, revised {first.revised}, effective {first.effective})")],
                                      getattr(case, "id", None))
        return self.policies[version.name], version

    def explain(self, case: dict) -> Any:
        """The Decision of a stored case, with details and corrections: what the review desk draws and
        drafts letters from (a Decision, not its JSON; it pickles, so a decider process can send it)."""
        return self.policy.decide(self.validate(case), corrections=True, details=True)

    def questionnaire(self) -> dict:
        """The DTR Questionnaire of the loaded KB: its enableWhen comes from an analysis of the KB
        (workflow/enable.py), so it is made where a deadline can end it, once, on first request."""
        from .questionnaire import questionnaire

        return questionnaire(self.kb_root)

    def next_question(self, case: dict, asked: list[str]) -> str | None:
        """The adaptive form's next question (workflow/adaptive.py), chosen by the solver; CaseInvalid
        for a case the answers so far make invalid."""
        from ..workflow.adaptive import next_question

        try:
            return next_question(self.policy, case, asked)
        except InputError as exc:
            raise case_invalid(exc) from None

    def validate(self, case: Any, source: str = "request") -> Any:
        """The validated case; CaseInvalid (field, message) problems otherwise."""
        try:
            return self.policy.validate(case, source)
        except InputError as exc:
            raise case_invalid(exc) from None

    def decide(self, case: dict, source: str = "request", corrections: bool = False) -> dict:
        """The decision object of one parsed case (a JSON object), without ``source``.

        The service's narrow entry to the engine: it takes a dict and nothing else.
        ``Policy.decide`` also takes a path (and reads that file), which is right for
        an embedding program and wrong for a network input, so anything but a dict is
        CaseInvalid here and the case reaches the Policy only once validated.

        With corrections it is what ``decide --format json`` prints by default (its
        corrections computed by clingo); without, the decision format's fields only.
        """
        if not isinstance(case, dict):
            raise CaseInvalid([("", not_a_case(case))], None)
        validated = self.validate(case, source)
        policy, version = self._in_force(validated)
        decided = policy.decide(validated, source=source, corrections=corrections)
        if version is not None:
            from dataclasses import replace

            decided = replace(decided, policy_version=tuple(version.as_json().items()))
        decision = decided.to_json()
        decision.pop("source", None)
        return decision
