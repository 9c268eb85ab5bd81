"""The webhooks' API: `webhookDeliveries` (every event on its way to a webhook, with each attempt)
and `redeliverWebhook`, for roles with `audit: true` when the spec has webhooks. Its run-time half
is ecospec.runtime.capabilities.webhooks."""

from __future__ import annotations

from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLEnumValue,
    GraphQLField,
    GraphQLID,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLString,
)

from ecospec.generator.apitypes import DATETIME
from ecospec.generator.capabilities.audit import AUDIT_ENTRY, by_name
from ecospec.generator.types import ApiFields, ApiPart, SchemaParts

DELIVERY_STATUS = GraphQLEnumType(
    "DeliveryStatus",
    {
        "pending": GraphQLEnumValue("pending", description="Waiting for its next attempt."),
        "done": GraphQLEnumValue("done", description="The receiver answered 2xx."),
        "dead": GraphQLEnumValue("dead", description="Every attempt of the schedule failed."),
    },
)
WEBHOOK_ATTEMPT = GraphQLObjectType(
    "WebhookAttempt",
    lambda: {
        name: GraphQLField(type_, resolve=by_name)
        for name, type_ in (
            ("at", GraphQLNonNull(DATETIME)),
            ("statusCode", GraphQLInt),
            ("latencyMs", GraphQLNonNull(GraphQLInt)),
            ("error", GraphQLString),
        )
    },
    description="One attempt to deliver an event: when, the answer, how long, what went wrong.",
)
WEBHOOK_DELIVERY = GraphQLObjectType(
    "WebhookDelivery",
    lambda: {
        name: GraphQLField(type_, resolve=by_name)
        for name, type_ in (
            ("id", GraphQLNonNull(GraphQLID)),
            ("webhook", GraphQLNonNull(GraphQLString)),
            ("status", GraphQLNonNull(DELIVERY_STATUS)),
            ("attempts", GraphQLNonNull(GraphQLInt)),
            ("nextAttemptAt", DATETIME),
            ("lastError", GraphQLString),
            ("event", GraphQLNonNull(AUDIT_ENTRY)),
            ("log", GraphQLNonNull(GraphQLList(GraphQLNonNull(WEBHOOK_ATTEMPT)))),
        )
    },
    description="An event on its way to a webhook.",
)
DELIVERY_ARGS = {
    "webhook": GraphQLArgument(GraphQLString, description="Only this webhook's deliveries."),
    "status": GraphQLArgument(DELIVERY_STATUS),
    "limit": GraphQLArgument(GraphQLInt, description="At most this many (default 100)."),
    "offset": GraphQLArgument(GraphQLInt),
}


def _fields(parts: SchemaParts) -> ApiFields:
    if not (parts.access.audit and parts.spec.webhooks):
        return ApiFields()
    deliveries = GraphQLField(
        GraphQLNonNull(GraphQLList(GraphQLNonNull(WEBHOOK_DELIVERY))),
        args=DELIVERY_ARGS,
        description="Webhook deliveries, newest first, with every attempt.",
    )
    redeliver = GraphQLField(
        GraphQLNonNull(WEBHOOK_DELIVERY),
        args={"id": GraphQLArgument(GraphQLNonNull(GraphQLID))},
        description="Send a delivered or dead-lettered event to its webhook again.",
    )
    return ApiFields(
        query={"webhookDeliveries": deliveries}, mutation={"redeliverWebhook": redeliver}
    )


API = ApiPart("webhooks", _fields)
