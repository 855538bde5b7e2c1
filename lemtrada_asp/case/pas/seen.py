"""fhir.resources' check of a Bundle, each resource and element checked once per text.

``validate_bundle(data)`` passes or raises exactly as ``Bundle.model_validate(data)`` does,
with less work when parts of the Bundle were seen before: reading a request Bundle
(fhir_in.py) and checking a response Bundle, which repeats the request's Patient,
insurer and provider, both use it.

"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from typing import Any

from fhir.resources.R4B.bundle import Bundle

__all__ = ["SEEN_RESOURCE_CHARS", "SEEN_RESOURCES", "validate_bundle"]


# Resources the fhir.resources model accepted, by their JSON text, with the model it made
# (the last SEEN_RESOURCES, each at most SEEN_RESOURCE_CHARS of JSON). A Patient, a
# Coverage, a Practitioner or an Organization recur from request to request; each is
# checked once, and a later Bundle holding the same text is checked with that model in
# its place (pydantic takes a model instance as it is), the rest of the Bundle as always.
# Of a resource not seen whole (a new Claim), each element seen before under the same
# resource type and name (its insurance, its diagnosis, a line) is put in place the same
# way. Only a Bundle that passes takes this path: one that fails is checked again whole,
# so its problems are worded exactly as before.
SEEN_RESOURCES = 1024  # resources and elements
SEEN_RESOURCE_CHARS = 16_384  # so the memory kept is bounded: at most ~16 MB of keys
_seen: OrderedDict[str, Any] = OrderedDict()
_seen_lock = threading.Lock()


def _with_seen_resources(data: dict) -> tuple[dict, list[str | None]]:
    """data with each entry resource seen before replaced by its model; and each entry's key (None: not kept)."""
    entries = data.get("entry")
    if not isinstance(entries, list):
        return data, []
    keys: list[str | None] = []
    shelled = []
    for entry in entries:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        key = None
        if isinstance(resource, dict):
            try:
                key = json.dumps(resource, ensure_ascii=False, separators=(",", ":"))
            except (TypeError, ValueError):  # not plain JSON data (a caller's own objects): checked whole
                key = None
            if key is not None and len(key) > SEEN_RESOURCE_CHARS:
                key = None
            with _seen_lock:
                model = _seen.get(key) if key is not None else None
                if model is not None:
                    _seen.move_to_end(key)
            if model is not None:
                entry = {**entry, "resource": model}
            elif key is not None:
                entry = {**entry, "resource": _with_seen_elements(resource)}
        keys.append(key)
        shelled.append(entry)
    return {**data, "entry": shelled}, keys


def _element_key(kind: Any, name: str, value: Any) -> str | None:
    if name in ("resourceType", "contained") or not isinstance(value, (dict, list)) or not isinstance(kind, str):
        return None
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return f"{kind}\x00{name}\x00{text}" if len(text) <= SEEN_RESOURCE_CHARS else None


def _with_seen_elements(resource: dict) -> dict:
    """A resource's JSON with each element seen before (same resource type, same name, same text) as its model."""
    kind = resource.get("resourceType")
    shelled = dict(resource)
    for name, value in resource.items():
        key = _element_key(kind, name, value)
        with _seen_lock:
            found = _seen.get(key, _MISSING) if key is not None else _MISSING
            if found is not _MISSING:
                _seen.move_to_end(key)
        if found is not _MISSING:
            shelled[name] = found
    return shelled


_MISSING = object()


def _attribute_names(model_class: type) -> dict[str, str]:
    """A fhir.resources model's JSON names (``_birthDate``) and the attributes they are (``birthDate__ext``)."""
    names = _ATTRIBUTES.get(model_class)
    if names is None:
        names = {info.alias or name: name for name, info in model_class.model_fields.items()}
        _ATTRIBUTES[model_class] = names
    return names


_ATTRIBUTES: dict[type, dict[str, str]] = {}


def _remember(bundle: Any, keys: list[str | None], data: dict) -> None:
    entries = data.get("entry") if isinstance(data.get("entry"), list) else []
    for entry, key, given in zip(bundle.entry or [], keys, entries):
        if key is None or entry.resource is None:
            continue
        found = {key: entry.resource}
        resource = given["resource"]
        names = _attribute_names(type(entry.resource))
        for name, value in resource.items():
            element = _element_key(resource.get("resourceType"), name, value)
            if element is not None and name in names:
                found[element] = getattr(entry.resource, names[name])
        with _seen_lock:
            for k, v in found.items():
                _seen[k] = v
                _seen.move_to_end(k)
            while len(_seen) > SEEN_RESOURCES:
                _seen.popitem(last=False)


def validate_bundle(data: Any) -> None:
    """Pass, or raise what ``Bundle.model_validate(data)`` raises."""
    if not isinstance(data, dict):
        Bundle.model_validate(data)
        return
    shell, keys = _with_seen_resources(data)
    try:
        _remember(Bundle.model_validate(shell), keys, data)
        return
    except Exception:  # noqa: BLE001, S110 - checked again whole below: its own error, worded as always
        pass
    Bundle.model_validate(data)
