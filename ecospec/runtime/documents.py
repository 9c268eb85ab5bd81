"""GraphQL documents: parsed, validated against a role's schema and the limits (cached), their
operation picked and variables coerced; the mistakes GraphQL itself catches in an input get the
same codes and field paths as those the write path catches."""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    ArgumentNode,
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    GraphQLSyntaxError,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    Visitor,
    parse,
    specified_rules,
    validate,
    visit,
)
from graphql.execution.values import get_variable_values
from graphql.language.visitor import BREAK
from graphql.utilities import get_operation_ast
from graphql.validation import NoSchemaIntrospectionCustomRule

from ecospec.generator.model import Limits
from ecospec.runtime.limits import cost_error, limit_rules, without_suggestions


@dataclass
class Prepared:
    """A parsed, validated document with its fragments."""

    document: DocumentNode
    errors: list[GraphQLError]
    fragments: dict[str, FragmentDefinitionNode] = field(default_factory=dict)


class LRU(OrderedDict[Any, Any]):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def remember(self, key: Any, value: Any) -> Any:
        self[key] = value
        self.move_to_end(key)
        if len(self) > self.size:
            self.popitem(last=False)
        return value


_MISSING = re.compile(r"^Field '(\w+)\.(\w+)' of required type '[^']+' was not provided")
_ENUM = re.compile(
    r"(?:Value '[^']*' does not exist in '(\w+)' enum|Enum '(\w+)' cannot represent)"
)
_AT = re.compile(r" at '([\w.\[\]]+)'")


def _input_path(document: DocumentNode | None, target: Any) -> str | None:
    """Where a literal value sits in an argument: input.status."""
    if document is None or target is None:
        return None
    found: list[str] = []

    def search(node: Any, path: list[str]) -> bool:
        if node is target:
            found.extend(path)
            return True
        if isinstance(node, ObjectValueNode):
            return any(search(f.value, [*path, f.name.value]) for f in node.fields)
        if isinstance(node, ListValueNode):
            return any(search(v, path) for v in node.values)
        return False

    class Finder(Visitor):
        def enter_argument(self, node: ArgumentNode, *_args: Any) -> Any:
            if search(node.value, [node.name.value]):
                return BREAK
            return None

    visit(document, Finder())
    return ".".join(found) if found else None


def refine(error: GraphQLError, document: DocumentNode | None = None) -> None:
    """Input mistakes GraphQL itself catches (a required field left out, a value outside an enum)
    get the same code and field path as the ones the write path catches."""
    message = error.message
    at = _AT.search(message)
    missing = _MISSING.search(message)
    if missing and missing.group(1).endswith(("CreateInput", "UpdateInput")):
        field = (at.group(1) + "." if at else "input.") + missing.group(2)
        error.extensions = {**(error.extensions or {}), "code": "REQUIRED", "field": field}
    elif _ENUM.search(message):
        extensions: dict[str, Any] = {**(error.extensions or {}), "code": "NOT_IN_ENUM"}
        field = (
            at.group(1) if at else _input_path(document, error.nodes[0] if error.nodes else None)
        )
        if field:
            extensions["field"] = field
        error.extensions = extensions


def with_code(error: GraphQLError, code: str) -> None:
    if not (error.extensions or {}).get("code"):
        error.extensions = {**(error.extensions or {}), "code": code}


class Documents:
    """The documents one schema has been asked, parsed and validated once each."""

    def __init__(self, schema: GraphQLSchema, limits: Limits, *, production: bool) -> None:
        self.schema = schema
        self.limits = limits
        self.production = production
        self.cache = LRU(512)

    def prepare(self, query: str) -> Prepared:
        cached = self.cache.get(query)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        try:
            document = parse(query, max_tokens=self.limits.tokens)
        except GraphQLError as error:
            return Prepared(DocumentNode(definitions=()), [error])
        rules = [*specified_rules, *limit_rules(self.limits)]
        if self.production:
            rules.append(NoSchemaIntrospectionCustomRule)
        errors = validate(self.schema, document, rules)
        if self.production:
            errors = [without_suggestions(e) for e in errors]
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        return self.cache.remember(query, Prepared(document, list(errors), fragments))  # type: ignore[no-any-return]

    def operation(
        self, query: str, variables: dict[str, Any] | None, operation_name: str | None
    ) -> tuple[Prepared, OperationDefinitionNode, dict[str, Any]] | list[GraphQLError]:
        prepared = self.prepare(query)
        if prepared.errors:
            for error in prepared.errors:
                refine(error, prepared.document)
                code = (
                    "GRAPHQL_PARSE_FAILED"
                    if isinstance(error, GraphQLSyntaxError)
                    else "GRAPHQL_VALIDATION_FAILED"
                )
                with_code(error, code)
            return prepared.errors
        op = get_operation_ast(prepared.document, operation_name)
        if op is None:
            if operation_name:
                return [GraphQLError(f"the document has no operation '{operation_name}'")]
            return [
                GraphQLError("the document has several operations: name one with operationName")
            ]
        coerced = get_variable_values(self.schema, op.variable_definitions or [], variables or {})
        if isinstance(coerced, list):
            errors = [without_suggestions(e) for e in coerced] if self.production else coerced
            for error in errors:
                refine(error)
                with_code(error, "BAD_USER_INPUT")
            return errors
        too_costly = cost_error(self.schema, prepared.fragments, op, self.limits, coerced)
        if too_costly is not None:
            with_code(too_costly, "GRAPHQL_VALIDATION_FAILED")
            return [too_costly]
        return prepared, op, coerced
