"""Who may ask: bearer JWTs signed by a key of a JWKS file, as SMART Backend Services clients sign them.

A client signs a JWT with its private key; the server holds the public keys
(``serve --jwks FILE``). A token is accepted when its signature checks against
the key its ``kid`` names (or the only key), with an asymmetric algorithm; ``exp``
is in the future (``LEEWAY`` seconds of clock skew allowed); ``aud`` is this
service's URL (``--audience``); ``iss`` and ``sub`` are both the client id; and
its ``scope`` (space-separated, SMART v1 ``system/Claim.write`` or v2
``system/Claim.c`` forms, ``*`` for any resource) grants what the request does.
A request without a good token is 401; a good token without the scope is 403.
The client id is what the decision log records.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

__all__ = ["ALGORITHMS", "LEEWAY", "TEST_ALGORITHM", "AuthError", "Authenticator", "Forbidden", "Unauthorized",
           "grants", "make_keys", "mint"]

ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")  # never none or HS*
LEEWAY = 60  # seconds of clock skew allowed on exp, nbf and iat
_SCOPE = re.compile(r"system/(?P<resource>\*|[A-Za-z]+)\.(?P<permission>read|write|\*|[cruds]+)")
_V2 = {"read": "r", "write": "c"}  # a decision is a create of a Claim; a read is r


class AuthError(Exception):
    """A request that is not let in: ``status`` 401 or 403, ``error`` as RFC 6750 names it."""

    status = 401
    error = "invalid_token"


class Unauthorized(AuthError):
    """No token, or a token that does not check: 401."""


class Forbidden(AuthError):
    """A good token whose scopes do not grant the request: 403."""

    status = 403
    error = "insufficient_scope"


def grants(scopes: set[str], resource: str, action: str) -> bool:
    """Whether any scope grants ``action`` (read or write) on ``resource`` (SMART v1 or v2 syntax)."""
    for scope in scopes:
        match = _SCOPE.fullmatch(scope)
        if not match or match["resource"] not in (resource, "*"):
            continue
        permission = match["permission"]
        if permission in (action, "*") or (permission not in ("read", "write") and _V2[action] in permission):
            return True
    return False


class Authenticator:
    """The keys of a JWKS file and the audience tokens must name."""

    def __init__(self, jwks_path: str, audience: str):
        import jwt

        self.audience = audience
        try:
            data = json.loads(Path(jwks_path).read_text(encoding="utf-8"))
            keys = jwt.PyJWKSet.from_dict(data).keys
        except (OSError, ValueError, jwt.exceptions.PyJWTError) as exc:
            raise ValueError(f"--jwks {jwks_path}: cannot be read as a JWKS (a JSON object with 'keys'): {exc}") from None
        usable = [k for k in keys if k.algorithm_name in ALGORITHMS or (k.algorithm_name is None)]
        if not usable:
            raise ValueError(f"--jwks {jwks_path}: no public key for {', '.join(ALGORITHMS)}")
        self._keys = usable

    def client(self, authorization: str | None, resource: str, action: str) -> str:
        """The client id of a request's Authorization header; Unauthorized or Forbidden otherwise."""
        import jwt

        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("a bearer token is required (Authorization: Bearer JWT)")
        token = token.strip()
        try:
            header = jwt.get_unverified_header(token)
        except jwt.exceptions.PyJWTError as exc:
            raise Unauthorized(f"the token is not a JWT: {exc}") from None
        algorithm = header.get("alg")
        if algorithm not in ALGORITHMS:
            raise Unauthorized(f"the token's algorithm {str(algorithm)[:20]!r} is not accepted (one of {', '.join(ALGORITHMS)})")
        key = self._key(header.get("kid"))
        if key.algorithm_name and key.algorithm_name[:2].replace("PS", "RS") != algorithm[:2].replace("PS", "RS"):
            raise Unauthorized(f"the token's algorithm {algorithm} does not fit its key ({key.algorithm_name})")
        try:
            claims = jwt.decode(token, key.key, algorithms=[algorithm], audience=self.audience, leeway=LEEWAY,
                                options={"require": ["exp", "iss", "sub", "aud"]})
        except (jwt.exceptions.PyJWTError, TypeError, ValueError) as exc:  # TypeError: a key of another kind
            raise Unauthorized(f"the token was refused: {exc}") from None
        client = claims["iss"]
        if not isinstance(client, str) or not client or claims["sub"] != client:
            raise Unauthorized("the token's iss and sub must both be the client id")
        scope = claims.get("scope", "")
        scopes = set(scope.split()) if isinstance(scope, str) else set()
        if not grants(scopes, resource, action):
            raise Forbidden(f"the token's scopes do not grant {action} on {resource} "
                            f"(system/{resource}.{action} or system/*.{action} is needed)")
        return client

    def _key(self, kid):
        if kid is None:
            if len(self._keys) == 1:
                return self._keys[0]
            raise Unauthorized("the token names no key (kid) and the JWKS holds several")
        for key in self._keys:
            if key.key_id == kid:
                return key
        raise Unauthorized(f"no key {str(kid)[:40]!r} in the JWKS")


# --- test keys and tokens (``lemtrada-asp token``) -----------------------------------------

TEST_ALGORITHM = "ES384"  # one of the two SMART Backend Services requires servers to support
PRIVATE_KEY = "private.pem"
JWKS_FILE = "jwks.json"


def make_keys(directory: Path) -> bool:
    """A P-384 key pair in directory (private.pem, 0600; jwks.json, the public key); False if there already."""
    import base64
    import hashlib
    import os

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from jwt.algorithms import ECAlgorithm

    private_path = directory / PRIVATE_KEY
    if private_path.exists():
        return False
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP384R1())
    public = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    members = json.dumps({k: public[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"), sort_keys=True)
    kid = base64.urlsafe_b64encode(hashlib.sha256(members.encode()).digest()).rstrip(b"=").decode()  # RFC 7638
    public.update(kid=kid, alg=TEST_ALGORITHM, use="sig")
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    (directory / JWKS_FILE).write_text(json.dumps({"keys": [public]}, indent=2) + "\n", encoding="utf-8")
    return True


def mint(directory: Path, client: str, scope: str, audience: str, lifetime: int) -> str:
    """A token signed with directory's private key: iss = sub = client, aud, exp = now + lifetime, scope."""
    import time
    import uuid

    import jwt
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key((directory / PRIVATE_KEY).read_bytes(), password=None)
    [public] = json.loads((directory / JWKS_FILE).read_text(encoding="utf-8"))["keys"]
    now = int(time.time())
    claims = {"iss": client, "sub": client, "aud": audience, "iat": now, "exp": now + lifetime,
              "jti": str(uuid.uuid4()), "scope": scope}
    return jwt.encode(claims, key, algorithm=TEST_ALGORITHM, headers={"kid": public["kid"]})
