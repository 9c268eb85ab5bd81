"""Request limits checked before any SQL runs: depth, aliases, estimated cost (tokens are limited
by the parser). Introspection fields are exempt; production turns introspection off instead."""

from __future__ import annotations

import re
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
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    get_named_type,
)

from generator.model import Limits


def _is_list(type_: GraphQLOutputType) -> bool:
    inner = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
    return isinstance(inner, GraphQLList)


def _int_arg(node: FieldNode, *names: str) -> int | None:
    for arg in node.arguments or ():
        if arg.name.value in names and isinstance(arg.value, IntValueNode):
            return max(0, int(arg.value.value))
    return None


def limit_rules(limits: Limits) -> list[type[ValidationRule]]:
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
            schema = self.context.schema
            root = (
                schema.query_type
                if node.operation.value == "query"
                else schema.mutation_type
                if node.operation.value == "mutation"
                else schema.subscription_type
            )
            if root is None:
                return
            depth, cost = self.measure(node.selection_set, root, 1, 1, set())
            if depth > limits.depth:
                self.report_error(
                    GraphQLError(
                        f"the query is {depth} levels deep; the limit is {limits.depth}", node
                    )
                )
            if cost > limits.cost:
                self.report_error(
                    GraphQLError(
                        f"the query's estimated cost is {cost}; the limit is {limits.cost} "
                        "(give lists a smaller limit or first)",
                        node,
                    )
                )

        def measure(
            self,
            selections: SelectionSetNode,
            parent: GraphQLObjectType,
            level: int,
            many: int,
            seen: set[str],
        ) -> tuple[int, int]:
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
                    size = many
                    if _is_list(field.type):
                        size = many * (_int_arg(selection, "limit") or limits.page_size)
                    elif _int_arg(selection, "first") is not None or name.endswith("Connection"):
                        size = many * (_int_arg(selection, "first") or 20)
                    d, c = self.measure(selection.selection_set, inner, level + 1, size, seen)
                    depth, cost = max(depth, d), cost + c
                elif isinstance(selection, InlineFragmentNode):
                    target = parent
                    if selection.type_condition is not None:
                        named = self.context.schema.get_type(selection.type_condition.name.value)
                        target = named if isinstance(named, GraphQLObjectType) else parent
                    d, c = self.measure(selection.selection_set, target, level, many, seen)
                    depth, cost = max(depth, d), cost + c
                elif isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    fragment = self.fragments.get(name)
                    if fragment is None or name in seen:
                        continue
                    named = self.context.schema.get_type(fragment.type_condition.name.value)
                    target = named if isinstance(named, GraphQLObjectType) else parent
                    d, c = self.measure(fragment.selection_set, target, level, many, seen | {name})
                    depth, cost = max(depth, d), cost + c
            return depth, cost

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
