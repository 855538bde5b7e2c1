"""The plan's own facts for a notice (plan.yaml): its name, phone, appeal address, the
validity of an approval; selected for a case by ``coverage.plan_id``.

Why placeholders and not defaults: a notice that says "call us" without the number, or
an approval without its end date, must be seen and completed by the reviewer, not
smoothed over. A setting left null becomes a ``Missing`` value that prints as
"[missing: plan phone]", the same marker the letter uses for an absent case field.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from html import escape
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from ._data import package_file, read_yaml, validate

Setting = Annotated[str, Field(min_length=1, max_length=300)] | None


@dataclass(frozen=True)
class Missing:
    """A value the notice needs and nobody gave: printed plainly as a placeholder."""

    label: str

    def __str__(self) -> str:
        return f"[missing: {self.label}]"

    def __bool__(self) -> bool:  # so a template's {% if value %} treats it as absent
        return False

    def __html__(self) -> str:  # in HTML and PDF, highlighted so the reviewer cannot miss it
        return f'<mark class="missing">[missing: {escape(self.label)}]</mark>'


LABELS = {
    "plan_name": "plan name",
    "phone": "plan phone",
    "tty": "plan TTY",
    "appeal_address": "appeal address",
    "appeal_fax": "appeal fax",
    "civil_rights_coordinator": "civil rights coordinator contact",
    "consumer_assistance": "State consumer assistance office",
    "reviewer_line": "physician reviewer phone",
    "authorization_valid_days": "approval validity (days)",
}


class _Values(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    plan_name: Setting = None
    phone: Setting = None
    tty: Setting = None
    appeal_address: Setting = None
    appeal_fax: Setting = None
    civil_rights_coordinator: Setting = None
    consumer_assistance: Setting = None
    reviewer_line: Setting = None
    authorization_valid_days: Annotated[StrictInt, Field(gt=0, le=3650)] | None = None


class PlanFile(_Values):
    plans: dict[Annotated[str, Field(min_length=1, max_length=60)], _Values] = {}


@dataclass(frozen=True)
class PlanSettings:
    """The settings one letter uses: every field a value or a Missing placeholder."""

    values: dict[str, object]
    plan_id: str | None
    configured: bool  # False when the case names a plan_id the file does not list

    def __getattr__(self, name: str) -> object:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None


PLAN_ENV = "LEMTRADA_PLAN"  # the plan settings file, when --plan does not name one


def plan_file() -> Path:
    """The package's own settings (only the TTY relay number set): used when no file is given."""
    return package_file("notices", "plan.yaml")


def plan_source(path: str | Path | None = None) -> Path:
    """Which settings file a letter uses: ``--plan FILE``, else $LEMTRADA_PLAN, else the package's.

    Why outside the package: a plan's name, phone and appeal address belong to the plan,
    kept with its own files, not edited inside an installed package (where an upgrade
    would lose them).
    """
    if path:
        return Path(path)
    if os.environ.get(PLAN_ENV):
        return Path(os.environ[PLAN_ENV])
    return plan_file()


@lru_cache(maxsize=None)
def load(path: str | None = None) -> PlanFile:
    where = Path(path) if path else plan_file()
    return validate(PlanFile, read_yaml(where), str(where))


def for_plan(plan_id: str | None, path: str | Path | None = None) -> PlanSettings:
    """The settings for a case's ``coverage.plan_id`` (the top values when it has none),
    from the file ``plan_source(path)`` names."""
    data = load(str(plan_source(path)))
    base = data.model_dump(exclude={"plans"})
    chosen = data.plans.get(plan_id) if plan_id else None
    if chosen is not None:
        base.update({k: v for k, v in chosen.model_dump().items() if v is not None})
    values = {name: (Missing(LABELS[name]) if value is None else value) for name, value in base.items()}
    return PlanSettings(values, plan_id, configured=plan_id is None or chosen is not None)
