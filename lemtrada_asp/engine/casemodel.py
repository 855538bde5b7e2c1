"""What the engine needs of a policy's case model, and how a KB names its own.

The engine decides cases of any policy; what a case *is* (its fields, its
validation, its facts, how its evidence reads) belongs to the policy. A KB's
``policy.toml`` names its case model as ``module:attribute`` -- an importable
module, or a ``.py`` file beside the manifest, so a second policy is new files,
not changed ones.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from clingo import Symbol

from .errors import KnowledgeBaseError
from .record import Evidence

__all__ = ["CaseModel", "Name", "load_case_model"]


class Name(str):
    """A constant in a plain fact (a clingo Function without arguments), as opposed to a string.

    A case model may offer ``facts(case)``: the case's input facts without their key,
    as tuples ``(predicate, value, ...)`` of int, str and Name, the same facts
    ``symbols`` gives. The decision cache keys on them without calling into clingo;
    a case model without it is keyed through its symbols, only slower.
    """

    __slots__ = ()


@runtime_checkable
class CaseModel(Protocol):
    """A policy's cases: validated from parsed data, turned into facts, their evidence worded."""

    def validate(self, data: Any, source: str) -> Any:
        """The case, or an InputError naming the source, the field and what was expected."""

    def case_id(self, case: Any) -> str: ...

    def symbols(self, key: int, case: Any) -> list[Symbol]:
        """The input facts of the case, every one keyed by ``key`` (through clingo's API only)."""

    def evidence(self, symbol: Symbol, case: Any) -> Evidence:
        """An evidence term of the KB, worded from the case it points at."""


def load_case_model(reference: str, kb_dir: Path) -> CaseModel:
    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute:
        raise KnowledgeBaseError(f"{kb_dir / 'policy.toml'}: case_model must be module:attribute, got {reference!r}")
    try:
        if module_name.endswith(".py"):
            path = (kb_dir / module_name).resolve()
            unique = f"_lemtrada_casemodel_{abs(hash(str(path)))}"
            module = sys.modules.get(unique)
            if module is None:
                spec = importlib.util.spec_from_file_location(unique, path)
                if spec is None or spec.loader is None or not path.is_file():
                    raise ImportError(f"no file {path}")
                module = importlib.util.module_from_spec(spec)
                sys.modules[unique] = module
                spec.loader.exec_module(module)
        else:
            module = importlib.import_module(module_name)
        model = getattr(module, attribute)
    except (ImportError, AttributeError) as exc:
        raise KnowledgeBaseError(f"{kb_dir / 'policy.toml'}: case model {reference!r} does not load: {exc}") from None
    if not isinstance(model, CaseModel):
        raise KnowledgeBaseError(f"{kb_dir / 'policy.toml'}: {reference!r} is not a case model (validate, case_id, symbols, evidence)")
    return model
