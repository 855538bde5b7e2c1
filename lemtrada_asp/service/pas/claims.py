"""What the lifecycle reads off a PAS Claim: its key, the request it updates, its cancelled lines.

These are not case fields (the case model never sees them): they say which
stored request a Claim is, which one it replaces (PAS Claim-update:
``Claim.related.claim`` names the prior Claim, included in the Bundle, or carries
its identifier) and which items it cancels (PAS's ``infoCancelled``
modifierExtension on ``Claim.item``).
"""

from __future__ import annotations

from typing import Any

from ...case.pas.lines import INFO_CANCELLED, is_cancelled
from ...case.pas.refs import BundleIndex, Located

__all__ = ["INFO_CANCELLED", "identifier_key", "identifier_keys", "related_keys", "cancelled_sequences", "provider_ids",
           "claim_of"]


def claim_of(bundle: dict) -> Located:
    entry = bundle["entry"][0]
    return Located(entry["resource"], "Bundle.entry[0].resource", entry)


def _key(identifier: Any) -> str | None:
    if isinstance(identifier, dict) and isinstance(identifier.get("value"), str) and identifier["value"]:
        return f"{identifier.get('system') or ''}|{identifier['value']}"
    return None


def identifier_keys(resource: dict) -> list[str]:
    """Every ``identifier`` of a resource as "system|value" (system empty when absent)."""
    return [k for i in resource.get("identifier") or [] if (k := _key(i))]


def identifier_key(claim: dict) -> str | None:
    """The idempotency key: the Claim's first identifier (PAS: its trace number); None without one."""
    keys = identifier_keys(claim)
    return keys[0] if keys else None


def related_keys(bundle: dict) -> list[str]:
    """The identifiers of the prior requests ``Claim.related[].claim`` names (a reference into the Bundle, or an identifier)."""
    claim = claim_of(bundle)
    index = BundleIndex(bundle)
    keys: list[str] = []
    for related in claim.resource.get("related") or []:
        ref = (related or {}).get("claim") or {}
        if (key := _key(ref.get("identifier"))):
            keys.append(key)
        elif isinstance(ref.get("reference"), str):
            found = index.find(ref["reference"], claim)
            if found is not None and found.resource.get("resourceType") == "Claim":
                keys += identifier_keys(found.resource)[:1]
    return keys


def cancelled_sequences(claim: dict) -> list[int]:
    """The ``sequence`` of every item flagged ``infoCancelled`` true."""
    return [item.get("sequence") for item in claim.get("item") or [] if is_cancelled(item)]


def cancelled_path(claim: dict) -> str | None:
    """Where the first cancelled item says so (its modifierExtension), for a business error's errorPath."""
    return next((f"Bundle.entry[0].resource.item[{i}].modifierExtension"
                 for i, item in enumerate(claim.get("item") or []) if is_cancelled(item)), None)


def provider_ids(bundle: dict) -> list[str]:
    """The identifiers of ``Claim.provider`` ("system|value"): what a Subscription's org-identifier filter matches."""
    claim = claim_of(bundle)
    ref = claim.resource.get("provider") or {}
    keys = [k for k in [_key(ref.get("identifier"))] if k]
    if isinstance(ref.get("reference"), str):
        found = BundleIndex(bundle).find(ref["reference"], claim)
        if found is not None:
            keys += identifier_keys(found.resource)
    return keys
