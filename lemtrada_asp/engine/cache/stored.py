"""The derivation and the proven parts, kept on disk per KB version: loaded, never trusted.

Deriving the cache's layers from a KB (derive.py, about 0.35 s CPU for the shipped
KB) and proving its parts for each value of the hooks (parts.py) give the same
answer every time for the same KB and the same engine code. Every process paid for
them again: each run, each worker, each ``diff``. So they are written here, once,
and read back by the next process.

What is read back is only what those steps compute, so a file that is stale or
broken must never be used:

* the file is named by the KB version and the engine's code (``KnowledgeBase.version``: a hash of every
  file of the KB, its overlays, the encodings and the case model's source), and its
  header must name that version, this package's version, this module's FORMAT and a
  hash of the engine's own source (CODE), so an engine edited in place does
  not read what an older engine derived;
* its body is checked against the SHA-256 in its header before it is decoded;
* it is decoded from tagged JSON into nothing but tuples, lists, dicts, sets, ints,
  strings, clingo symbols (through ``clingo.parse_term``) and the dataclasses named
  in ``_CLASSES``: no pickle, no code;
* any mismatch or error (a missing, truncated, edited or foreign file, an unreadable
  directory) is ignored: the caller derives again and writes a fresh file.

Files are written 0600 (the directory 0700) to a temporary name and renamed into
place, so a reader sees a whole file or none. The directory is ``$<PACKAGE>_CACHE_DIR``
(the package's name in capitals: LEMTRADA_ASP_CACHE_DIR), else
``$XDG_CACHE_HOME/<package>`` (its name with dashes), else ``~/.cache/<package>``;
the variable set to ``off`` (or empty) keeps nothing on disk.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

import clingo

from ... import __version__
from ..casemodel import Name
from .derive import Derivation, Group
from .parts import Parts

__all__ = ["CACHE_DIR_ENV", "FORMAT", "Stored", "cache_dir", "load", "save"]

_PACKAGE = __name__.split(".")[0]  # the installed package: its folder and its variable are named after it
CACHE_DIR_ENV = _PACKAGE.upper() + "_CACHE_DIR"
FORMAT = 1
OFF = ("", "off", "none", "0")
_CLASSES = {cls.__name__: cls for cls in (Derivation, Group, Parts)}
_SKIPPED = {"statements"}  # Derivation.statements: clingo's AST, parsed again on load (a few ms)


def _code_hash() -> str:
    """The engine's own source (engine/*.py and engine/cache/*.py): what derives and proves."""
    digest = hashlib.sha256()
    here = Path(__file__).parent
    for path in sorted([*here.parent.glob("*.py"), *here.glob("*.py")]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


CODE = _code_hash()


def cache_dir() -> Path | None:
    """Where derivations are kept; None when keeping them is switched off."""
    chosen = os.environ.get(CACHE_DIR_ENV)
    if chosen is not None:
        return None if chosen.strip().lower() in OFF else Path(chosen).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / _PACKAGE.replace("_", "-")


class Stored:
    """What a file holds: the derivation and the parts proven so far, (details, hooks) -> Parts or None."""

    def __init__(self, derivation: Derivation, structures: dict | None = None):
        self.derivation = derivation
        self.structures = dict(structures or {})


def _path(directory: Path, kb_version: str) -> Path:
    # Named by the code too, not by the KB version alone: two installs (or checkouts) of another
    # engine on one KB would otherwise each find the other's file foreign and derive again.
    return directory / f"derivation-{kb_version.replace(':', '-')}-{CODE}.json"


def _header(kb_version: str) -> dict:
    return {"format": FORMAT, "kb_version": kb_version, "package": __version__, "code": CODE}


def load(kb_version: str) -> Stored | None:
    """The stored derivation for this KB version, or None (absent, stale, broken, switched off)."""
    directory = cache_dir()
    if directory is None:
        return None
    try:
        raw = _path(directory, kb_version).read_bytes()
        head, _, body = raw.partition(b"\n")
        header = json.loads(head)
        if header.get("sha256") != hashlib.sha256(body).hexdigest():
            return None
        del header["sha256"]
        if header != _header(kb_version):
            return None
        data = _decode(json.loads(body))
        derivation, structures = data["derivation"], data["structures"]
        if not isinstance(derivation, Derivation) or not isinstance(structures, dict):
            return None
        if not all(isinstance(v, (Parts, type(None))) for v in structures.values()):
            return None
        return Stored(derivation, structures)
    except Exception:  # noqa: BLE001 - whatever is wrong with the file, it is derived again
        return None


def save(kb_version: str, stored: Stored) -> bool:
    """Write the file (0600, atomically); False if it could not be written (nothing else changes)."""
    directory = cache_dir()
    if directory is None:
        return False
    try:
        body = json.dumps(
            _encode({"derivation": stored.derivation, "structures": stored.structures}),
            separators=(",", ":"), ensure_ascii=True,
        ).encode()
        header = {**_header(kb_version), "sha256": hashlib.sha256(body).hexdigest()}
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=".derivation-", dir=directory)  # created 0600
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(json.dumps(header, sort_keys=True).encode() + b"\n" + body)
            os.replace(temporary, _path(directory, kb_version))
        except BaseException:
            os.unlink(temporary)
            raise
        return True
    except (OSError, TypeError, ValueError):
        return False


# --- tagged JSON: exact values back, and nothing but data ------------------------------------


def _encode(value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, Name):
        return {"n": str(value)}
    if isinstance(value, (int, str)):
        return value
    if isinstance(value, clingo.Symbol):
        return {"y": str(value)}
    if isinstance(value, tuple):
        return {"t": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, frozenset):
        return {"f": [_encode(v) for v in value]}
    if isinstance(value, set):
        return {"s": [_encode(v) for v in value]}
    if isinstance(value, dict):
        return {"d": [[_encode(k), _encode(v)] for k, v in value.items()]}
    if is_dataclass(value) and type(value).__name__ in _CLASSES:
        return {"c": type(value).__name__,
                "v": {f.name: _encode(getattr(value, f.name)) for f in fields(value) if f.name not in _SKIPPED}}
    raise TypeError(f"cannot store a {type(value).__name__}")


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "c" in value:  # a dataclass: {"c": its name, "v": its fields}
        cls = _CLASSES[value["c"]]
        return cls(**{name: _decode(v) for name, v in value["v"].items()})
    ((tag, inner),) = value.items()
    if tag == "n":
        return Name(inner)
    if tag == "y":
        return clingo.parse_term(inner)
    if tag == "t":
        return tuple(_decode(v) for v in inner)
    if tag == "f":
        return frozenset(_decode(v) for v in inner)
    if tag == "s":
        return {_decode(v) for v in inner}
    if tag == "d":
        return {_decode(k): _decode(v) for k, v in inner}
    raise ValueError(f"unknown tag {tag!r}")
