"""The audit log's API: `auditLog`, every write newest first, for roles with `audit: true`.
Its run-time half is ecospec.runtime.capabilities.audit."""

from __future__ import annotations

from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLField,
    GraphQLID,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLString,
)

from ecospec.generator.apitypes import AUDIT_OPERATION, DATETIME, JSON
from ecospec.generator.types import ApiFields, ApiPart, SchemaParts


def by_name(source: Any, info: Any, **_args: Any) -> Any:
    return source.get(info.field_name) if isinstance(source, dict) else None


AUDIT_ENTRY = GraphQLObjectType(
    "AuditEntry",
    lambda: {
        name: GraphQLField(f.type, description=f.description, resolve=by_name)
        for name, f in _AUDIT_FIELDS.items()
    },
    description="One write: who, what and when.",
)
_AUDIT_FIELDS: dict[str, GraphQLField] = {
    "id": GraphQLField(GraphQLNonNull(GraphQLID)),
    "at": GraphQLField(GraphQLNonNull(DATETIME), description="When the write committed."),
    "role": GraphQLField(
        GraphQLString, description="The role that wrote (null: a seed or process)."
    ),
    "userId": GraphQLField(GraphQLString, description="The session's $user.id, when there is one."),
    "keyId": GraphQLField(GraphQLString, description="The API key used, when one was."),
    "entity": GraphQLField(GraphQLNonNull(GraphQLString)),
    "recordId": GraphQLField(GraphQLNonNull(GraphQLID)),
    "operation": GraphQLField(GraphQLNonNull(AUDIT_OPERATION)),
    "changes": GraphQLField(
        GraphQLNonNull(JSON), description="Changed fields: {field: [old, new]}."
    ),
}
AUDIT_ARGS = {
    "entity": GraphQLArgument(GraphQLString, description="Only writes to this entity."),
    "recordId": GraphQLArgument(GraphQLID, description="Only writes to this record."),
    "operation": GraphQLArgument(AUDIT_OPERATION),
    "limit": GraphQLArgument(GraphQLInt, description="At most this many entries (default 100)."),
    "offset": GraphQLArgument(GraphQLInt),
}


def _fields(parts: SchemaParts) -> ApiFields:
    if not parts.access.audit:
        return ApiFields()
    log = GraphQLField(
        GraphQLNonNull(GraphQLList(GraphQLNonNull(AUDIT_ENTRY))),
        args=AUDIT_ARGS,
        description="Every write, newest first: who, what and when.",
    )
    return ApiFields(query={"auditLog": log})


API = ApiPart("audit", _fields)
