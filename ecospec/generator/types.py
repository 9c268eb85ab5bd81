"""The contracts compile time shares with whatever calls it, named once.

`DataSource` is the one door between the site builder and the data: the runtime supplies it (in
process, or over HTTP from a running runtime), always as the anonymous role. `SchemaParts` is what
a capability's API half is given to add its root fields to the GraphQL schema; `ApiFields` is what
it gives back. `RECORD_OPERATIONS` are the writes every entity has; a capability may add its own
(a transition), declared in its module."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from graphql import GraphQLField, GraphQLInputObjectType, GraphQLObjectType

from ecospec.generator.access import Access
from ecospec.generator.model import Spec

RecordOperation = Literal["create", "update", "delete"]
RECORD_OPERATIONS: tuple[RecordOperation, ...] = ("create", "update", "delete")


class DataSource(Protocol):
    """Runs a GraphQL query as the anonymous role and returns its `data`."""

    async def execute(self, query: str, variables: dict[str, Any]) -> dict[str, Any]: ...


class SchemaParts(Protocol):
    """The schema being built for one role, as a capability sees it: the spec, what the role may
    do, and the types already made for each entity."""

    spec: Spec
    access: Access

    def object(self, entity: str) -> GraphQLObjectType:
        """The entity's record type (`Apartment`)."""
        ...

    def where(self, entity: str) -> GraphQLInputObjectType:
        """The entity's filter input (`ApartmentWhere`)."""
        ...


@dataclass(frozen=True)
class ApiFields:
    """Root fields a capability adds for one role: none when the role may use none of them."""

    query: dict[str, GraphQLField] = field(default_factory=dict)
    mutation: dict[str, GraphQLField] = field(default_factory=dict)


@dataclass(frozen=True)
class ApiPart:
    """A capability's compile-time half: the root fields it adds to a role's API. Its run-time
    half (ecospec.runtime.capability) answers them, under the same field names."""

    name: str
    fields: Callable[[SchemaParts], ApiFields]
