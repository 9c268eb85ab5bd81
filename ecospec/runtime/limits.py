"""Request limits checked before any SQL runs: depth and aliases with the document, estimated
cost once the variables' values are known (tokens are limited by the parser). Introspection
fields are exempt; production turns introspection off instead."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
    get_named_type,
)

from ecospec.generator.model import Limits


def _is_list(type_: GraphQLOutputType) -> bool:
    inner = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
    return isinstance(inner, GraphQLList)


def _int_arg(node: FieldNode, name: str, variables: dict[str, Any] | None) -> int | None:
    """An argument's whole number, written in the query or given in a variable."""
    for arg in node.arguments or ():
        if arg.name.value != name:
            continue
        if isinstance(arg.value, IntValueNode):
            return max(0, int(arg.value.value))
        if isinstance(arg.value, VariableNode) and variables is not None:
            value = variables.get(arg.value.name.value)
            if isinstance(value, int) and not isinstance(value, bool):
                return max(0, value)
    return None


def _root(schema: GraphQLSchema, operation: OperationDefinitionNode) -> GraphQLObjectType | None:
    if operation.operation is OperationType.QUERY:
        return schema.query_type
    if operation.operation is OperationType.MUTATION:
        return schema.mutation_type
    return schema.subscription_type


@dataclass
class Measure:
    """A request's depth and estimated cost: each field counts once per record the lists above
    it may return. A list counts as its `limit` (or `page_size`), a connection's page (its
    `edges`) as its `first` (or 20); with variables, as the values they were given."""

    schema: GraphQLSchema
    fragments: dict[str, FragmentDefinitionNode]
    limits: Limits
    variables: dict[str, Any] | None = None

    def operation(self, operation: OperationDefinitionNode) -> tuple[int, int]:
        root = _root(self.schema, operation)
        if root is None:
            return 0, 0
        return self.selections(operation.selection_set, root, 1, 1, None, frozenset())

    def selections(
        self,
        selections: SelectionSetNode,
        parent: GraphQLObjectType,
        level: int,
        many: int,
        page: int | None,
        seen: frozenset[str],
    ) -> tuple[int, int]:
        """`many`: how many records these fields are read for; `page`: the records of the
        connection whose fields these are."""
        depth, cost = level, 0
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                name = selection.name.value
                if name.startswith("__"):
                    continue
                field = parent.fields.get(name)
                if field is None:
                    continue
                cost += many
                inner = get_named_type(field.type)
                if selection.selection_set is None or not isinstance(inner, GraphQLObjectType):
                    continue
                size, inner_page = many, None
                if page is not None and _is_list(field.type):
                    size = many * page  # a connection's edges: one per record of its page
                elif _is_list(field.type):
                    limit = _int_arg(selection, "limit", self.variables)
                    size = many * (self.limits.page_size if limit is None else limit)
                elif "first" in field.args:
                    first = _int_arg(selection, "first", self.variables)
                    inner_page = 20 if first is None else first
                d, c = self.selections(
                    selection.selection_set, inner, level + 1, size, inner_page, seen
                )
                depth, cost = max(depth, d), cost + c
            elif isinstance(selection, InlineFragmentNode):
                target = parent
                if selection.type_condition is not None:
                    named = self.schema.get_type(selection.type_condition.name.value)
                    target = named if isinstance(named, GraphQLObjectType) else parent
                d, c = self.selections(selection.selection_set, target, level, many, page, seen)
                depth, cost = max(depth, d), cost + c
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in seen:
                    continue
                named = self.schema.get_type(fragment.type_condition.name.value)
                target = named if isinstance(named, GraphQLObjectType) else parent
                d, c = self.selections(
                    fragment.selection_set, target, level, many, page, seen | {name}
                )
                depth, cost = max(depth, d), cost + c
        return depth, cost


def cost_error(
    schema: GraphQLSchema,
    fragments: dict[str, FragmentDefinitionNode],
    operation: OperationDefinitionNode,
    limits: Limits,
    variables: dict[str, Any],
) -> GraphQLError | None:
    """The error of an operation over the cost limit, counted with the values of its variables."""
    _, cost = Measure(schema, fragments, limits, variables).operation(operation)
    if cost <= limits.cost:
        return None
    return GraphQLError(
        f"the query's estimated cost is {cost}; the limit is {limits.cost} "
        "(give lists a smaller limit or first)",
        operation,
    )


def limit_rules(limits: Limits) -> list[type[ValidationRule]]:
    """Depth and aliases, checked with the document (the cost needs the variables' values:
    cost_error, once they are known)."""

    class RequestLimits(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.fragments: dict[str, FragmentDefinitionNode] = {}
            self.aliases = 0

        def enter_document(self, node: Any, *_args: Any) -> None:
            self.fragments = {
                d.name.value: d for d in node.definitions if isinstance(d, FragmentDefinitionNode)
            }

        def enter_field(self, node: FieldNode, *_args: Any) -> None:
            if node.alias is not None:
                self.aliases += 1
                if self.aliases == limits.aliases + 1:
                    self.report_error(
                        GraphQLError(f"the query uses more than {limits.aliases} aliases", node)
                    )

        def enter_operation_definition(self, node: OperationDefinitionNode, *_args: Any) -> None:
            depth, _ = Measure(self.context.schema, self.fragments, limits).operation(node)
            if depth > limits.depth:
                self.report_error(
                    GraphQLError(
                        f"the query is {depth} levels deep; the limit is {limits.depth}", node
                    )
                )

    return [RequestLimits]


_SUGGESTION = re.compile(r"\s*Did you mean .*\?$")


def without_suggestions(error: GraphQLError) -> GraphQLError:
    """The same error without 'Did you mean …?', which would name fields to a stranger."""
    message = _SUGGESTION.sub("", error.message)
    if message == error.message:
        return error
    return GraphQLError(
        message, error.nodes, error.source, error.positions, error.path, extensions=error.extensions
    )
