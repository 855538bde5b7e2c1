"""Resolving references inside a request Bundle (fhir-pas.md, "Reading", rule 3).

A reference resolves to the entry whose ``fullUrl`` equals it, a relative
``Type/id`` to the entry whose resource has that type and id, and ``#id`` to a
resource contained in the referring one. Nothing is fetched from elsewhere: a
request is decided on what it carries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .problems import Problems, child

RELATIVE = re.compile(r"([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(/_history/[A-Za-z0-9\-.]{1,64})?")


@dataclass(frozen=True)
class Located:
    """A resource of the Bundle and its FHIRPath (an entry's, or a contained one's)."""

    resource: dict
    path: str
    entry: dict | None = None  # the Bundle entry, None for a contained resource

    @property
    def type(self) -> str:
        return self.resource.get("resourceType", "")


class BundleIndex:
    """The entries of one Bundle, by fullUrl and by type and id."""

    def __init__(self, bundle: dict):
        self.by_url: dict[str, Located] = {}
        self.by_type_id: dict[tuple[str, str], Located] = {}
        for i, entry in enumerate(bundle.get("entry") or []):
            resource = entry.get("resource")
            if not isinstance(resource, dict):
                continue
            found = Located(resource, f"Bundle.entry[{i}].resource", entry)
            if entry.get("fullUrl"):
                self.by_url.setdefault(entry["fullUrl"], found)
            if resource.get("id"):
                self.by_type_id.setdefault((resource.get("resourceType"), resource["id"]), found)

    def find(self, reference: str, referrer: Located) -> Located | None:
        """The resource a reference string names, or None."""
        if reference.startswith("#"):
            for j, contained in enumerate(referrer.resource.get("contained") or []):
                if contained.get("id") == reference[1:]:
                    return Located(contained, child(referrer.path, "contained", j))
            return None
        if reference in self.by_url:
            return self.by_url[reference]
        relative = RELATIVE.fullmatch(reference)
        if relative:
            return self.by_type_id.get((relative.group(1), relative.group(2)))
        return None

    def follow(self, ref: Any, path: str, referrer: Located, types: set[str], problems: Problems,
               what: str) -> Located | None:
        """Resolve the Reference at ``path`` to one of ``types``; else a problem there."""
        target = ref.get("reference") if isinstance(ref, dict) else None
        if not target:
            problems.add(path, "required", f"{what}: expected a reference to a {' or '.join(sorted(types))} in the Bundle")
            return None
        found = self.find(target, referrer)
        if found is None:
            problems.add(path, "invalid", f"{what}: reference {target!r} resolves to no resource of the Bundle")
            return None
        if found.type not in types:
            problems.add(path, "invalid", f"{what}: expected a {' or '.join(sorted(types))}, "
                                          f"but {target!r} is a {found.type}")
            return None
        return found


def named_type(ref: Any) -> str | None:
    """The resource type a reference states without being resolved (``type``, or ``Type/id``)."""
    if not isinstance(ref, dict):
        return None
    if ref.get("type"):
        return ref["type"]
    relative = RELATIVE.fullmatch(ref.get("reference") or "")
    return relative.group(1) if relative else None
