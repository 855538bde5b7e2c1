"""A KB's manifest, ``policy.toml``: what it says about the policy a KB encodes.

Its own module so that the catalogue (which reads the manifest's name and dates)
and the KB on disk (knowledge.py, which reads the catalogue) do not import each other.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from .errors import KnowledgeBaseError

__all__ = ["MANIFEST", "Manifest", "read_manifest"]

MANIFEST = "policy.toml"


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
