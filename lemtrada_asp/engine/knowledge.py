"""A knowledge base on disk: its manifest, its files, its version, its catalogue.

A KB is a directory with a ``policy.toml`` manifest naming its root file (the one
include list of the policy), its source text and its case model. The engine's own
generic encodings (``encodings/``) are loaded beside the root; which ones depends on
the program: a decision, or the what-if of corrections. Loading goes through clingo
with a logger, so a broken rule is reported with clingo's own message, which names
the .lp file and line.
"""

from __future__ import annotations

import hashlib
import os
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import clingo

from . import guard
from .catalogue import Catalogue, read_catalogue
from .errors import KnowledgeBaseError
from .includes import included_files
from .manifest import MANIFEST, Manifest, read_manifest

if TYPE_CHECKING:
    from .overlay import Overlay

__all__ = ["KbRef", "KnowledgeBase", "Manifest", "PROGRAMS", "ENCODINGS", "MANIFEST"]

ENCODINGS = Path(__file__).resolve().parent / "encodings"

# Which engine encodings each kind of program loads beside the policy's root.
PROGRAMS: dict[str, tuple[str, ...]] = {
    "decide": ("evaluate.lp", "decide.lp", "explain.lp", "integrity.lp", "show.lp"),
    "whatif": ("evaluate.lp", "decide.lp", "whatif.lp"),
}


def default_kb_dir() -> Path:
    """The KB shipped with the package (inside the wheel), or kb/ of a checkout."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "kb", here.parent / "kb"):
        if (candidate / MANIFEST).is_file():
            return candidate
    raise KnowledgeBaseError(f"knowledge base not found: no {MANIFEST} in {here / 'kb'} or {here.parent / 'kb'}")


class KbRef(os.PathLike):
    """A KB directory with overlays on top: what ``--kb DIR --overlay CHANGE`` names.

    It passes for the base directory's path wherever a KB directory is taken, and
    ``KnowledgeBase(ref)`` opens the base with its overlays.
    """

    def __init__(self, directory: str | Path | None, overlays: Sequence[str | Path] = ()):
        self.directory = Path(directory) if directory is not None else None
        self.overlays = tuple(Path(o) for o in overlays)

    def __fspath__(self) -> str:
        return str(self.directory if self.directory is not None else default_kb_dir())

    def __str__(self) -> str:
        base = str(self.directory) if self.directory is not None else "the shipped KB"
        return " + ".join([base, *map(str, self.overlays)])

    def __repr__(self) -> str:
        return f"KbRef({str(self)!r})"

    def __reduce__(self):
        return (KbRef, (self.directory, self.overlays))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, KbRef) and (self.directory, self.overlays) == (other.directory, other.overlays)

    def __hash__(self) -> int:
        return hash((self.directory, self.overlays))

    def absolute(self) -> "KbRef":
        """The same KB named by absolute paths: what a worker started elsewhere can open."""
        return KbRef(self.directory.resolve() if self.directory is not None else None, [o.resolve() for o in self.overlays])


class KnowledgeBase:
    """One KB directory (the policy's files), any overlays on it, and the engine's encodings.

    ``directory`` may also be an overlay directory whose overlay.toml names its
    ``base``: a policy version written as a change of another.
    """

    def __init__(self, directory: str | Path | KbRef | None = None, overlays: Sequence[str | Path] = ()):
        extra = _read_overlays(overlays)
        if isinstance(directory, KbRef):
            extra = _read_overlays(directory.overlays) + extra
            directory = directory.directory
        directory = Path(directory) if directory is not None else default_kb_dir()
        stacked: list[Overlay] = []
        while not (directory / MANIFEST).is_file() and _holds_overlay(directory):
            [overlay] = _read_overlays([directory])
            if overlay.base is None:
                raise KnowledgeBaseError(f"{overlay.manifest}: an overlay opened as a knowledge base must name its base (overlay.base)")
            stacked.insert(0, overlay)
            directory = overlay.base
            if len(stacked) > 20:
                raise KnowledgeBaseError(f"{overlay.manifest}: overlay bases form a cycle")
        self.directory = directory
        self.overlays: tuple[Overlay, ...] = (*stacked, *extra)
        if not self.directory.is_dir():
            raise KnowledgeBaseError(f"knowledge base not found: {self.directory} is not a directory")
        self.manifest = _overlaid(read_manifest(self.directory), self.overlays)
        self._statements: list | None = None
        self.root = self.directory / self.manifest.root
        if not self.root.is_file():
            raise KnowledgeBaseError(f"knowledge base {self.directory}: its root {self.root} does not exist")
        # Before anything is loaded: every #include stays inside this KB or its overlays (engine/includes.py).
        self.loaded = included_files(
            [self.root, *(p for o in self.overlays for p in o.files() if p.suffix == ".lp")],
            [self.directory, *(o.directory for o in self.overlays)],
        )

    @property
    def ref(self) -> KbRef:
        """What reopens this KB (in a worker process, say): the base directory and its overlays."""
        return KbRef(self.directory, [o.directory for o in self.overlays])

    @property
    def name(self) -> str:
        return str(self.ref) if self.overlays else str(self.directory)

    def files(self) -> list[Path]:
        """The base policy's rule files (every .lp below the KB directory; overlays: overlay_files())."""
        return sorted(p for p in self.directory.rglob("*.lp") if p.is_file())

    def program_files(self, program: str = "decide") -> list[Path]:
        """The files a program of this kind loads: the policy's root, then the engine's encodings.

        With overlays the policy's part is composed (statements()), not loaded from the root alone.
        """
        return [self.root, *(ENCODINGS / name for name in PROGRAMS[program])]

    def parse(self, callback, program: str = "decide") -> None:
        """Every statement of the program, as clingo AST (following #include), with overlays applied."""
        from clingo import ast

        if self.overlays:
            for statement in self.statements():
                callback(statement)
            ast.parse_files([str(ENCODINGS / name) for name in PROGRAMS[program]], callback)
        else:
            ast.parse_files([str(p) for p in self.program_files(program)], callback)

    def statements(self, logger=None) -> list:
        """The policy's statements with the overlays applied (composed once, then reused)."""
        if self._statements is None:
            from .overlay import compose

            self._statements = compose(self.root, self.directory, self.overlays, logger or (lambda code, text: None))
        return self._statements

    @property
    def source_text(self) -> Path | None:
        """The policy's own text, shipped with the KB (or a changed text shipped with an overlay)."""
        if not self.manifest.source:
            return None
        for overlay in reversed(self.overlays):
            if (overlay.directory / self.manifest.source).is_file():
                return overlay.directory / self.manifest.source
        return self.directory / self.manifest.source

    @cached_property
    def version(self) -> str:
        """A hash of every file that can change a decision.

        The policy's rules (every .lp below the KB) and every file its programs
        load by #include, whatever its suffix; its manifest; its overlays; the
        engine's encodings; and the source of its case model (a .py file of the
        KB, or the module's package: casemodel.case_model_sources).
        """
        from .casemodel import case_model_sources

        digest = hashlib.sha256()
        places = [("", self.directory.resolve())]
        places += [(f"overlay{n}/", o.directory.resolve()) for n, o in enumerate(self.overlays, 1)]

        def name_of(path: Path) -> str:
            resolved = path.resolve()
            for prefix, place in places:
                if resolved == place or place in resolved.parents:
                    return prefix + resolved.relative_to(place).as_posix()
            return resolved.as_posix()  # pragma: no cover - includes are checked to stay inside

        files = {name_of(p): p for p in [*self.files(), self.directory / MANIFEST, *self.loaded]}
        for overlay in self.overlays:
            files.update({name_of(p): p for p in overlay.files()})
        named = sorted(files.items())
        named += [(f"engine/{p.name}", p) for p in sorted(ENCODINGS.glob("*.lp"))]
        named += case_model_sources(self.manifest.case_model, self.directory)
        for name, path in named:
            digest.update(name.encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
        return "sha256:" + digest.hexdigest()

    def control(self, arguments: Sequence[str] = (), program: str = "decide") -> tuple[clingo.Control, list[str]]:
        """A Control with the program loaded; the list collects clingo's messages."""
        messages: list[str] = []

        def log(code: clingo.MessageCode, text: str) -> None:
            messages.append(text.strip())

        ctl = clingo.Control(list(arguments), logger=log, message_limit=50)
        files = self.program_files(program)
        if self.overlays:
            from clingo import ast

            statements = self.statements(log)
            try:
                with ast.ProgramBuilder(ctl) as builder:
                    for statement in statements:
                        builder.add(statement)
            except RuntimeError as exc:
                raise KnowledgeBaseError(f"knowledge base {self.name} does not load: {exc}", relevant(messages)) from None
            files = files[1:]
        for path in files:
            try:
                ctl.load(str(path))
            except RuntimeError as exc:
                raise KnowledgeBaseError(f"knowledge base {path} does not load: {exc}", relevant(messages)) from None
        return ctl, messages

    def ground(
        self, ctl: clingo.Control, messages: list[str], parts: Sequence[tuple[str, Sequence[clingo.Symbol]]],
        part: str = "grounding the decision program",
    ) -> None:
        """Ground parts; `part` names this program part if time or memory runs out (guard.py)."""
        with guard.running(part):
            try:
                ctl.ground(list(parts))
            except MemoryError:
                raise guard.memory_error(part) from None
            except RuntimeError as exc:
                if guard.is_memory_message(str(exc)):
                    raise guard.memory_error(part) from None
                raise KnowledgeBaseError(f"knowledge base {self.root} does not ground: {exc}", relevant(messages)) from None

    @cached_property
    def catalogue(self) -> Catalogue:
        """The KB's facts about itself, read once from the ground base program."""
        ctl, messages = self.control()
        self.ground(ctl, messages, [("base", [])], "grounding the decision program (reading its catalogue)")
        with guard.running("solving the decision program (reading its catalogue)"):
            return read_catalogue(ctl, self.manifest)


def _read_overlays(directories: Sequence[str | Path]) -> list[Overlay]:
    """The overlays in directories. The overlay module (and clingo's AST with it) is
    imported only for a KB that has some: a plain KB's one-case run does without."""
    if not directories:
        return []
    from .overlay import read_overlay

    return [read_overlay(d) for d in directories]


def _holds_overlay(directory: Path) -> bool:
    from .overlay import OVERLAY_MANIFEST

    return (directory / OVERLAY_MANIFEST).is_file()


def _overlaid(manifest: Manifest, overlays: Sequence[Overlay]) -> Manifest:
    """The manifest of a base with overlays: the last overlay that says so revises and dates it."""
    from dataclasses import replace

    for overlay in overlays:
        changes = {k: v for k, v in (("revised", overlay.revised), ("effective", overlay.effective)) if v is not None}
        manifest = replace(manifest, **changes)
    return manifest


def relevant(messages: list[str]) -> list[str]:
    """clingo's messages without its "info" lines (e.g. atoms in no head), which are never the cause."""
    return [m for m in messages if "info:" not in m.split("\n", 1)[0]] or messages
