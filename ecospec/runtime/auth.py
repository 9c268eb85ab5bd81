"""Who is asking: anonymous, a JWT bearer token, or an API key, turned into a Session."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
from collections.abc import Mapping
from typing import Any

import jwt
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from ecospec.generator.errors import EcospecError
from ecospec.generator.model import Spec
from ecospec.runtime.database import read_only
from ecospec.runtime.system import api_keys
from ecospec.runtime.types import Session
from ecospec.runtime.writes import now

ROLE_HEADER = "x-ecospec-role"
KEY_HEADER = "x-api-key"
KEY_PREFIX = "ek_"
MIN_SECRET_BYTES = 32


class AuthError(EcospecError):
    """Credentials that do not hold: the request is refused, never downgraded to anonymous."""

    def __init__(self, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.status = status


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def jwt_secret(spec: Spec) -> str | None:
    return os.environ.get(spec.auth.jwt.secret_env) or None


def weak_secret_problem(spec: Spec) -> str | None:
    """Why the configured JWT secret is unfit for production, or None when it is fine."""
    settings = spec.auth.jwt
    if settings.algorithm != "HS256":
        if settings.jwks_url:
            return None
        if settings.public_key_env is None:
            return (
                f"{settings.algorithm} needs auth.jwt.jwks_url or auth.jwt.public_key_env "
                "(the environment variable holding the public key)"
            )
        if not os.environ.get(settings.public_key_env):
            return (
                f"{settings.algorithm} needs auth.jwt.jwks_url or a public key "
                f"in ${settings.public_key_env}"
            )
        return None
    secret = jwt_secret(spec)
    if secret is None:
        return f"${settings.secret_env} is not set"
    if len(secret.encode()) < MIN_SECRET_BYTES:
        return f"${settings.secret_env} is shorter than {MIN_SECRET_BYTES} bytes"
    return None


class Authenticator:
    def __init__(self, spec: Spec, engine: AsyncEngine) -> None:
        self.spec = spec
        self.engine = engine
        self.settings = spec.auth.jwt
        self._jwks: jwt.PyJWKClient | None = (
            jwt.PyJWKClient(self.settings.jwks_url) if self.settings.jwks_url else None
        )

    async def session(self, headers: Mapping[str, str]) -> Session:
        authorization = headers.get("authorization", "")
        key = headers.get(KEY_HEADER)
        chosen = headers.get(ROLE_HEADER)
        if authorization.lower().startswith("bearer "):
            token = authorization[7:].strip()
            if token.startswith(KEY_PREFIX):
                return await self.api_key(token, chosen)
            return await self.bearer(token, chosen)
        if authorization:
            raise AuthError("Authorization: only 'Bearer <token>' is understood")
        if key:
            return await self.api_key(key, chosen)
        anonymous = self.spec.auth.anonymous_role
        if chosen and chosen != anonymous:
            raise AuthError(
                f"{ROLE_HEADER}: a request without credentials runs as '{anonymous}'", 403
            )
        return Session(anonymous)

    async def bearer(self, token: str, chosen: str | None) -> Session:
        claims = await self.decode(token)
        role_claim = claims.get(self.settings.role_claim)
        allowed: list[str] = []
        if self.settings.roles_claim and isinstance(claims.get(self.settings.roles_claim), list):
            allowed = [str(r) for r in claims[self.settings.roles_claim]]
        if isinstance(role_claim, str):
            allowed.append(role_claim)
        if not allowed:
            raise AuthError(f"the token names no role (claim '{self.settings.role_claim}')", 403)
        role = chosen or (role_claim if isinstance(role_claim, str) else allowed[0])
        if role not in allowed:
            raise AuthError(f"{ROLE_HEADER}: the token does not allow the role '{role}'", 403)
        if role not in self.spec.roles:
            raise AuthError(f"the token's role '{role}' is not a role of this ecosystem", 403)
        variables = {
            name: claims[claim]
            for name, claim in self.settings.claims.items()
            if claims.get(claim) is not None
        }
        return Session(role, variables)

    async def decode(self, token: str) -> dict[str, Any]:
        settings = self.settings
        options: jwt.types.Options = {"require": ["exp"]}
        try:
            if settings.algorithm == "HS256":
                secret = jwt_secret(self.spec)
                if secret is None:
                    raise AuthError("bearer tokens are not accepted: no JWT secret is configured")
                key: Any = secret
            elif self._jwks is not None:
                client = self._jwks
                signing = await asyncio.to_thread(client.get_signing_key_from_jwt, token)
                key = signing.key
            else:
                pem = os.environ.get(settings.public_key_env or "")
                if not pem:
                    raise AuthError("bearer tokens are not accepted: no public key is configured")
                key = pem
            decoded: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[settings.algorithm],
                audience=settings.audience,
                issuer=settings.issuer,
                options=options,
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("the token has expired") from None
        except jwt.PyJWTError as exc:
            raise AuthError(f"the token is not valid: {exc}") from None
        return decoded

    async def api_key(self, key: str, chosen: str | None) -> Session:
        parts = key.split("_")
        if len(parts) != 3 or f"{parts[0]}_" != KEY_PREFIX:
            raise AuthError("the API key is not valid")
        key_id, secret = parts[1], parts[2]
        async with self.engine.connect() as conn:
            await read_only(conn)
            row = (
                (await conn.execute(select(api_keys).where(api_keys.c.id == key_id)))
                .mappings()
                .first()
            )
        if row is None or row["revoked_at"] is not None:
            raise AuthError("the API key is not valid")
        if not hmac.compare_digest(row["secret_hash"], hash_secret(secret)):
            raise AuthError("the API key is not valid")
        if chosen and chosen != row["role"]:
            raise AuthError(f"{ROLE_HEADER}: this API key is for the role '{row['role']}'", 403)
        if row["role"] not in self.spec.roles:
            raise AuthError(
                f"the API key's role '{row['role']}' is not a role of this ecosystem", 403
            )
        async with self.engine.begin() as conn:
            await conn.execute(
                update(api_keys).where(api_keys.c.id == key_id).values(last_used_at=now())
            )
        return Session(str(row["role"]), dict(row["claims"] or {}), key_id=key_id)
