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
import tomllib
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any, Sequence

import clingo

from . import guard
from .catalogue import Catalogue, read_catalogue
from .errors import KnowledgeBaseError

__all__ = ["KnowledgeBase", "Manifest", "PROGRAMS", "ENCODINGS", "MANIFEST"]

MANIFEST = "policy.toml"
ENCODINGS = Path(__file__).resolve().parent / "encodings"

# Which engine encodings each kind of program loads beside the policy's root.
PROGRAMS: dict[str, tuple[str, ...]] = {
    "decide": ("evaluate.lp", "decide.lp", "explain.lp", "integrity.lp", "show.lp"),
    "whatif": ("evaluate.lp", "decide.lp", "whatif.lp"),
}


@dataclass(frozen=True)
class Manifest:
    """What ``policy.toml`` says about the policy a KB encodes."""

    name: str
    revised: str
    effective: date | None
    root: str
    source: str | None
    case_model: str


def read_manifest(directory: Path) -> Manifest:
    path = directory / MANIFEST
    if not path.is_file():
        raise KnowledgeBaseError(f"knowledge base not found: {path} does not exist")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise KnowledgeBaseError(f"{path}: not a valid manifest: {exc}") from None
    policy = data.get("policy")
    if not isinstance(policy, dict):
        raise KnowledgeBaseError(f"{path}: expected a [policy] table")

    def text(key: str, default: Any = ...) -> Any:
        value = policy.get(key, default)
        if value is ...:
            raise KnowledgeBaseError(f"{path}: policy.{key} is required")
        if value is not None and not isinstance(value, str):
            raise KnowledgeBaseError(f"{path}: policy.{key} must be text, got {value!r}")
        return value

    effective = policy.get("effective")
    if effective is not None and not isinstance(effective, date):
        raise KnowledgeBaseError(f"{path}: policy.effective must be a date (YYYY-MM-DD), got {effective!r}")
    return Manifest(
        name=text("name"),
        revised=text("revised", ""),
        effective=effective,
        root=text("root"),
        source=text("source", None),
        case_model=text("case_model"),
    )


def default_kb_dir() -> Path:
    """The KB shipped with the package (inside the wheel), or kb/ of a checkout."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "kb", here.parent / "kb"):
        if (candidate / MANIFEST).is_file():
            return candidate
    raise KnowledgeBaseError(f"knowledge base not found: no {MANIFEST} in {here / 'kb'} or {here.parent / 'kb'}")


class KnowledgeBase:
    """One KB directory: the policy's files plus the engine's encodings."""

    def __init__(self, directory: str | Path | None = None):
        self.directory = Path(directory) if directory is not None else default_kb_dir()
        if not self.directory.is_dir():
            raise KnowledgeBaseError(f"knowledge base not found: {self.directory} is not a directory")
        self.manifest = read_manifest(self.directory)
        self.root = self.directory / self.manifest.root
        if not self.root.is_file():
            raise KnowledgeBaseError(f"knowledge base {self.directory}: its root {self.root} does not exist")

    def files(self) -> list[Path]:
        """The policy's rule files (every .lp below the KB directory)."""
        return sorted(p for p in self.directory.rglob("*.lp") if p.is_file())

    def program_files(self, program: str = "decide") -> list[Path]:
        """The files a program of this kind loads: the policy's root, then the engine's encodings."""
        return [self.root, *(ENCODINGS / name for name in PROGRAMS[program])]

    @property
    def source_text(self) -> Path | None:
        """The policy's own text, shipped with the KB."""
        return self.directory / self.manifest.source if self.manifest.source else None

    @cached_property
    def version(self) -> str:
        """A hash of every file that decides: the policy's rules, its manifest and the encodings."""
        digest = hashlib.sha256()
        named = [(p.relative_to(self.directory).as_posix(), p) for p in [*self.files(), self.directory / MANIFEST]]
        named += [(f"engine/{p.name}", p) for p in sorted(ENCODINGS.glob("*.lp"))]
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
        for path in self.program_files(program):
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


def relevant(messages: list[str]) -> list[str]:
    """clingo's messages without its "info" lines (e.g. atoms in no head), which are never the cause."""
    return [m for m in messages if "info:" not in m.split("\n", 1)[0]] or messages
