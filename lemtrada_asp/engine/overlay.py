"""Overlays: a policy change as a small directory on top of a base knowledge base.

In the spirit of OpenFisca's reforms, an analyst writes only what changes. An
overlay directory may hold any of:

``overlay.toml``
    ``[overlay]``: ``name`` (what the change is), ``revised`` and ``effective`` (when
    the overlay is a policy version of its own), ``base`` (the KB directory it
    changes, relative to the overlay; only needed when the overlay is opened on its
    own, e.g. as a version in a versions directory), ``remove`` (a list of facts of
    the base to drop, written as clingo facts without the final dot; ``_`` matches
    any argument, e.g. ``'child("A", "A.1")'`` or ``'criterion("A.2", _, _)'``).
    ``[parameters]``: ``name = integer``, replacing the base's ``param(name, _)``
    facts. A name the base does not define is an error (a new parameter is a
    ``param/2`` fact in ``overlay.lp``).
``overlay.lp``
    rules and facts added to the policy, loaded after the base's root.
any other ``.lp`` file at the same relative path as one the base loads (e.g.
``criteria/age.lp``)
    replaces that file: the base's statements from it are left out and the
    overlay's are loaded instead. ``.lp`` files at new paths are loaded only if
    ``overlay.lp`` includes them.
``source/...`` (the base manifest's ``source`` path)
    a changed policy text, for ``criteria`` and ``check-kb``.

The composed program is built with clingo's AST: the base's statements (its root,
following ``#include``) without those of replaced files, without the removed facts
and the overridden parameters, then the overlay's own. Case input is never part of
it: cases still enter as facts through the backend (engine.py).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Callable, Sequence

import clingo
from clingo import ast

from .errors import KnowledgeBaseError

__all__ = ["OVERLAY_MANIFEST", "OVERLAY_ROOT", "Overlay", "compose", "read_overlay"]

OVERLAY_MANIFEST = "overlay.toml"
OVERLAY_ROOT = "overlay.lp"
PARAMETER = "param"  # the catalogue's parameter predicate, param(Name, Value)
_NAME = re.compile(r"[a-z][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Overlay:
    """What one overlay directory says (overlay.toml) and holds (its .lp files)."""

    directory: Path
    name: str | None = None
    revised: str | None = None
    effective: date | None = None
    base: Path | None = None
    remove: tuple[str, ...] = ()
    parameters: tuple[tuple[str, int], ...] = ()
    lines: dict[str, int] = field(default_factory=dict, compare=False)  # key -> line in overlay.toml

    @property
    def manifest(self) -> Path:
        return self.directory / OVERLAY_MANIFEST

    @property
    def root(self) -> Path | None:
        path = self.directory / OVERLAY_ROOT
        return path if path.is_file() else None

    def files(self) -> list[Path]:
        """Every file of the overlay that decides (for its version hash)."""
        return sorted(p for p in self.directory.rglob("*") if p.is_file() and (p.suffix == ".lp" or p.name == OVERLAY_MANIFEST))

    def where(self, key: str) -> str:
        return f"{self.manifest}:{self.lines.get(key, 1)}"


def read_overlay(directory: str | Path) -> Overlay:
    directory = Path(directory)
    if not directory.is_dir():
        raise KnowledgeBaseError(f"overlay not found: {directory} is not a directory")
    path = directory / OVERLAY_MANIFEST
    if not path.is_file():
        return Overlay(directory)
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise KnowledgeBaseError(f"{path}: not a valid overlay manifest: {exc}") from None
    lines = _key_lines(text)
    head = data.get("overlay", {})
    params = data.get("parameters", {})
    if not isinstance(head, dict) or not isinstance(params, dict):
        raise KnowledgeBaseError(f"{path}: [overlay] and [parameters] must be tables")
    unknown = set(data) - {"overlay", "parameters"} or set(head) - {"name", "revised", "effective", "base", "remove"}
    if unknown:
        raise KnowledgeBaseError(f"{path}: unknown key(s) {', '.join(sorted(unknown))} (expected [overlay] name, revised, effective, base, remove and [parameters])")
    for key in ("name", "revised", "base"):
        if key in head and not isinstance(head[key], str):
            raise KnowledgeBaseError(f"{path}:{lines.get(key, 1)}: overlay.{key} must be text")
    effective = head.get("effective")
    if effective is not None and not isinstance(effective, date):
        raise KnowledgeBaseError(f"{path}:{lines.get('effective', 1)}: overlay.effective must be a date (YYYY-MM-DD), got {effective!r}")
    remove = head.get("remove", [])
    if not isinstance(remove, list) or not all(isinstance(r, str) for r in remove):
        raise KnowledgeBaseError(f"{path}:{lines.get('remove', 1)}: overlay.remove must be a list of facts (text)")
    for name, value in params.items():
        if not _NAME.fullmatch(name) or isinstance(value, bool) or not isinstance(value, int):
            raise KnowledgeBaseError(f"{path}:{lines.get(name, 1)}: parameter {name} = {value!r}: a parameter is a lower-case name and an integer")
    return Overlay(
        directory=directory,
        name=head.get("name"),
        revised=head.get("revised"),
        effective=effective,
        base=(directory / head["base"]) if "base" in head else None,
        remove=tuple(remove),
        parameters=tuple(params.items()),
        lines=lines,
    )


def _key_lines(text: str) -> dict[str, int]:
    found: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        key = re.match(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=", line)
        if key:
            found.setdefault(key.group(1), number)
        for fact in re.findall(r"'([^']*)'|\"((?:[^\"\\\\]|\\\\.)*)\"", line):
            found.setdefault(fact[0] or fact[1], number)
    return found


# --- composing the program -----------------------------------------------------------


def compose(root: Path, base_dir: Path, overlays: Sequence[Overlay], logger: Callable[[clingo.MessageCode, str], None]) -> list[ast.AST]:
    """The statements of the base's root with the overlays applied, in order."""
    statements = _parse([root], logger)
    layers: list[tuple[str, list[ast.AST]]] = [("base", statements)]
    base_dir = base_dir.resolve()
    for overlay in overlays:
        present = {_file(s) for _, layer in layers for s in layer}
        replaced = {base: own for base, own in _replacements(base_dir, overlay).items() if base in present}
        kept = []
        for origin, layer in layers:
            kept.append((origin, [s for s in layer if _file(s) not in replaced]))
        layers = kept
        own: list[ast.AST] = []
        if replaced:
            own += _parse(sorted(replaced.values()), logger)
        if overlay.root is not None:
            own += _parse([overlay.root.resolve()], logger)
        removed: list[ast.AST] = []
        layers = [(origin, _filter(layer, overlay, removed)) for origin, layer in layers]
        _check_removals(removed, overlay)
        own = [*_parameters(overlay), *own]
        layers.append((str(overlay.directory), own))
    return [s for _, layer in layers for s in layer]


def _replacements(base_dir: Path, overlay: Overlay) -> dict[Path, Path]:
    """Base file -> the overlay file that replaces it (same relative path)."""
    found = {}
    for path in overlay.directory.rglob("*.lp"):
        relative = path.relative_to(overlay.directory)
        if relative.as_posix() == OVERLAY_ROOT:
            continue
        target = (base_dir / relative).resolve()
        if target.is_file():
            found[target] = path.resolve()
    return found


def _parse(paths: Sequence[Path], logger) -> list[ast.AST]:
    statements: list[ast.AST] = []
    try:
        ast.parse_files([str(p.resolve()) for p in paths], statements.append, logger=logger)
    except RuntimeError as exc:
        raise KnowledgeBaseError(f"knowledge base {', '.join(map(str, paths))} does not parse: {exc}") from None
    return statements


def _file(statement: ast.AST) -> Path:
    return Path(statement.location.begin.filename).resolve()


def _fact_atom(statement: ast.AST) -> ast.AST | None:
    """The head atom of a fact (a rule without a body whose head is an atom), else None."""
    if statement.ast_type != ast.ASTType.Rule or len(statement.body) != 0:
        return None
    head = statement.head
    if head.ast_type != ast.ASTType.Literal or head.sign != ast.Sign.NoSign:
        return None
    if head.atom.ast_type != ast.ASTType.SymbolicAtom:
        return None
    term = head.atom.symbol
    return term if term.ast_type == ast.ASTType.Function else None


def _patterns(overlay: Overlay) -> list[tuple[str, ast.AST]]:
    patterns = []
    for text in overlay.remove:
        parsed: list[ast.AST] = []
        try:
            ast.parse_string(text.strip().rstrip(".") + ".", parsed.append)
        except RuntimeError:
            raise KnowledgeBaseError(f"{overlay.where(text)}: remove {text!r} is not a fact") from None
        rules = [s for s in parsed if s.ast_type == ast.ASTType.Rule]
        atom = _fact_atom(rules[0]) if len(rules) == 1 else None
        if atom is None:
            raise KnowledgeBaseError(f"{overlay.where(text)}: remove {text!r} is not one fact such as child(\"A\", \"A.1\")")
        patterns.append((text, atom))
    return patterns


def _matches(pattern: ast.AST, term: ast.AST) -> bool:
    if term.ast_type != ast.ASTType.Function or pattern.name != term.name or len(pattern.arguments) != len(term.arguments):
        return False
    return all(p.ast_type == ast.ASTType.Variable or str(p) == str(t) for p, t in zip(pattern.arguments, term.arguments))


def _overridden(term: ast.AST, names: set[str]) -> bool:
    if term.name != PARAMETER or len(term.arguments) != 2:
        return False
    first = term.arguments[0]
    return first.ast_type == ast.ASTType.SymbolicTerm and str(first.symbol) in names


def _filter(statements: list[ast.AST], overlay: Overlay, removed: list[ast.AST]) -> list[ast.AST]:
    """The statements without the facts the overlay removes or whose parameter it overrides (added to removed)."""
    patterns = _patterns(overlay)
    names = {name for name, _ in overlay.parameters}
    if not patterns and not names:
        return statements
    kept: list[ast.AST] = []
    for statement in statements:
        if _fact_atom(statement) is None:
            kept.append(statement)
            continue
        parts = statement.unpool()
        left = [
            p for p in parts
            if not _overridden(_fact_atom(p), names) and not any(_matches(pat, _fact_atom(p)) for _, pat in patterns)
        ]
        if len(left) == len(parts):
            kept.append(statement)
        else:
            kept.extend(left)
            removed.extend(p for p in parts if p not in left)
    return kept


def _check_removals(removed: list[ast.AST], overlay: Overlay) -> None:
    """Every removal and every overridden parameter names something the base has."""
    for text, pattern in _patterns(overlay):
        if not any(_matches(pattern, _fact_atom(r)) for r in removed):
            raise KnowledgeBaseError(f"{overlay.where(text)}: remove {text!r} matches no fact of the base")
    for name, _ in overlay.parameters:
        if not any(_overridden(_fact_atom(r), {name}) for r in removed):
            raise KnowledgeBaseError(
                f"{overlay.where(name)}: parameter {name} is not a param/2 fact of the base (a new parameter goes in {OVERLAY_ROOT})"
            )


def _parameters(overlay: Overlay) -> list[ast.AST]:
    """param(Name, Value) facts for [parameters], built as AST, located in overlay.toml."""
    out: list[ast.AST] = []
    for name, value in overlay.parameters:
        line = overlay.lines.get(name, 1)
        position = ast.Position(str(overlay.manifest.resolve()), line, 1)
        loc = ast.Location(position, position)
        if not out:
            out.append(ast.Program(loc, "base", []))
        term = ast.Function(loc, PARAMETER, [ast.SymbolicTerm(loc, clingo.Function(name)), ast.SymbolicTerm(loc, clingo.Number(value))], False)
        out.append(ast.Rule(loc, ast.Literal(loc, ast.Sign.NoSign, ast.SymbolicAtom(term)), []))
    return out
