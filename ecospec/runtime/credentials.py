"""Making credentials from the command line: API keys (stored hashed) and short-lived dev tokens."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

import jwt
from sqlalchemy import Engine, select, update

from ecospec.generator.errors import EcospecError, UsageError
from ecospec.generator.model import Spec
from ecospec.runtime.auth import KEY_PREFIX, hash_secret, jwt_secret
from ecospec.runtime.system import api_keys
from ecospec.runtime.writes import now


@dataclass(frozen=True)
class KeyInfo:
    id: str
    name: str | None
    role: str
    claims: dict[str, Any]
    created_at: str
    revoked_at: str | None
    last_used_at: str | None


def parse_claims(pairs: list[str]) -> dict[str, str]:
    claims: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"--claim {pair}: expected NAME=VALUE")
        claims[name] = value
    return claims


def _known(spec: Spec, role: str, claims: dict[str, str]) -> None:
    if role not in spec.roles:
        raise UsageError(f"unknown role '{role}' (roles: {', '.join(spec.roles)})")
    unknown = [c for c in claims if c not in spec.auth.jwt.claims]
    if unknown:
        known = ", ".join(spec.auth.jwt.claims) or "none"
        raise UsageError(
            f"unknown session variable '{unknown[0]}' (auth.jwt.claims defines: {known})"
        )


def create_key(
    engine: Engine, spec: Spec, role: str, claims: dict[str, str], name: str | None
) -> str:
    """A new API key; only its hash is stored, so the key is shown once."""
    _known(spec, role, claims)
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32).replace("_", "-")
    with engine.begin() as conn:
        conn.execute(
            api_keys.insert().values(
                id=key_id,
                name=name,
                role=role,
                claims=claims,
                secret_hash=hash_secret(secret),
                created_at=now(),
            )
        )
    return f"{KEY_PREFIX}{key_id}_{secret}"


def list_keys(engine: Engine) -> list[KeyInfo]:
    with engine.connect() as conn:
        rows = conn.execute(select(api_keys).order_by(api_keys.c.created_at)).mappings().all()
    return [
        KeyInfo(
            r["id"],
            r["name"],
            r["role"],
            dict(r["claims"] or {}),
            r["created_at"],
            r["revoked_at"],
            r["last_used_at"],
        )
        for r in rows
    ]


def revoke_key(engine: Engine, key_id: str) -> None:
    with engine.begin() as conn:
        result = conn.execute(
            update(api_keys)
            .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=now())
        )
    if result.rowcount == 0:
        raise EcospecError(f"no active API key '{key_id}'")


def mint_token(spec: Spec, role: str, claims: dict[str, str], ttl: int, production: bool) -> str:
    """A short-lived HS256 token for development; never in production."""
    if production:
        raise UsageError(
            "token mints development tokens and refuses to run with ECOSPEC_ENV=production"
        )
    _known(spec, role, claims)
    settings = spec.auth.jwt
    if settings.algorithm != "HS256":
        raise UsageError(f"tokens are signed by the identity provider here ({settings.algorithm})")
    secret = jwt_secret(spec)
    if secret is None:
        raise UsageError(f"set ${settings.secret_env} to sign tokens")
    moment = dt.datetime.now(dt.UTC)
    payload: dict[str, Any] = {
        settings.role_claim: role,
        "iat": moment,
        "exp": moment + dt.timedelta(seconds=ttl),
    }
    for name, value in claims.items():
        payload[settings.claims[name]] = value
    if settings.audience:
        payload["aud"] = settings.audience
    if settings.issuer:
        payload["iss"] = settings.issuer
    return jwt.encode(payload, secret, algorithm="HS256")
