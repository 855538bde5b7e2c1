"""What the engine needs of a policy's case model, and how a KB names its own.

The engine decides cases of any policy; what a case *is* (its fields, its
validation, its facts, how its evidence reads) belongs to the policy. A KB's
``policy.toml`` names its case model as ``module:attribute`` -- an importable
module, or a ``.py`` file beside the manifest, so a second policy is new files,
not changed ones.

A case model is code that runs when the KB is opened. So a ``.py`` case model
must be a file inside the KB directory (``check-kb`` says the KB is code), and
a module case model must be one of this package's (``lemtrada_asp.…``): any
other path or module is refused before it is imported. Its source is part of
the KB's version (``case_model_sources``).
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

__all__ = ["CaseModel", "Name", "PACKAGE", "case_model_file", "case_model_sources", "load_case_model"]

PACKAGE = __name__.split(".")[0]  # the installed package a module case model must belong to


class Name(str):
    """A constant in a plain fact (a clingo Function without arguments), as opposed to a string.

    A case model may offer ``facts(case)``: the case's input facts without their key,
    as tuples ``(predicate, value, ...)`` of int, str and Name, the same facts
    ``symbols`` gives. The decision cache keys on them without calling into clingo;
    a case model without it is keyed through its symbols, only slower.

    It may also offer ``input_fields(predicate)``: the case fields (dotted paths) an
    input predicate is made from, which ``--jobs N`` reads off a case's JSON to send
    cases alike to one worker (engine/batch.py); without it cases are dealt by load.
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


def _split(reference: str, kb_dir: Path) -> tuple[str, str]:
    """module and attribute of a case_model reference, refused unless inside the KB or this package."""
    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute:
        raise KnowledgeBaseError(f"{kb_dir / 'policy.toml'}: case_model must be module:attribute, got {reference!r}")
    if module_name.endswith(".py"):
        path = (kb_dir / module_name).resolve()
        directory = kb_dir.resolve()
        if directory not in path.parents:
            raise KnowledgeBaseError(f"{kb_dir / 'policy.toml'}: case_model {reference!r}: {path} is outside the knowledge "
                                     f"base {directory}; a case model file must be inside it")
    elif module_name != PACKAGE and not module_name.startswith(PACKAGE + "."):
        raise KnowledgeBaseError(f"{kb_dir / 'policy.toml'}: case_model {reference!r}: module {module_name} is not part of "
                                 f"the installed {PACKAGE} package; name a .py file inside the KB or a {PACKAGE} module")
    return module_name, attribute


def case_model_file(reference: str, kb_dir: Path) -> Path | None:
    """The KB's own .py file the case model is (code shipped inside the KB), or None for a package module."""
    module_name, _ = _split(reference, kb_dir)
    return (kb_dir / module_name).resolve() if module_name.endswith(".py") else None


def case_model_sources(reference: str, kb_dir: Path) -> list[tuple[str, Path]]:
    """The case model's source files, named for the KB's version: a KB file and every .py of the KB
    (it may load them), or every .py of the module's package."""
    own = case_model_file(reference, kb_dir)
    if own is not None:
        directory = kb_dir.resolve()
        files = {own, *(p.resolve() for p in directory.rglob("*.py") if p.is_file())}
        return [(f"case_model/{p.relative_to(directory).as_posix()}", p) for p in sorted(files) if p.is_file()]
    module_name, _ = _split(reference, kb_dir)
    try:
        spec = importlib.util.find_spec(module_name)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        return []  # load_case_model says why
    if spec.submodule_search_locations:
        roots = [Path(p) for p in spec.submodule_search_locations]
        files = sorted({p for root in roots for p in root.rglob("*.py") if p.is_file()})
        return [(f"case_model/{module_name}/{p.relative_to(root).as_posix()}", p)
                for root in roots for p in files if root in p.parents]
    if spec.origin and Path(spec.origin).is_file():
        return [(f"case_model/{module_name}.py", Path(spec.origin))]
    return []


def load_case_model(reference: str, kb_dir: Path) -> CaseModel:
    module_name, attribute = _split(reference, kb_dir)
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
