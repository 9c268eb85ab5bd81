"""The spec language as pydantic models: what a user may write in spec/*.yaml."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    GetCoreSchemaHandler,
    PrivateAttr,
    Strict,
    Tag,
    field_validator,
)
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from ecospec.generator.errors import Location, did_you_mean
from ecospec.generator.fieldtypes import FIELD_TYPES

Where = dict[str, Any]
Flag = Annotated[bool, Strict()]  # only true/false: `yes` stays text in specs
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
ENTITY_RE = re.compile(r"^[A-Z][A-Za-z0-9]*$")
# A session variable in a role's filter or preset: `$user.<claim name>`.
VARIABLE_RE = re.compile(r"^\$user\.([A-Za-z_][A-Za-z0-9_]*)$")
# The fields every entity has without writing them; `id` filters and sorts like a ref to the
# record itself.
SYSTEM_FIELDS = {"id": "ref", "created_at": "datetime", "updated_at": "datetime"}


class Node(BaseModel):
    """Base of every spec node: frozen, and told where it was written once the spec is loaded."""

    model_config = ConfigDict(
        frozen=True,
        extra="allow",
        populate_by_name=True,
        json_schema_extra={"additionalProperties": False},
    )
    # Models whose extra keys are typed members (a role's entity grants) set this to False.
    extra_keys_are_unknown: ClassVar[bool] = True
    _location: Location | None = PrivateAttr(default=None)

    @property
    def location(self) -> Location | None:
        """Where this node starts in the spec (set by the loader)."""
        return self._location


def _field_type(value: Any) -> str:
    if not isinstance(value, str):
        raise PydanticCustomError("field_type", "a field type is a name such as 'string'")
    if value not in FIELD_TYPES:
        raise PydanticCustomError(
            "unknown_type",
            "unknown type '{name}'{hint}",
            {"name": value, "hint": did_you_mean(value, FIELD_TYPES)},
        )
    return value


class FieldSpec(Node):
    type: Annotated[str, Field(json_schema_extra={"enum": list(FIELD_TYPES)})] = Field(
        description="The field's type: " + ", ".join(FIELD_TYPES) + "."
    )
    title: str | None = Field(None, description="A human name for the field, shown in forms.")
    description: str | None = Field(None, description="What the field holds; goes to the API docs.")
    required: Flag = Field(False, description="A record cannot be saved without a value.")
    unique: Flag = Field(False, description="No two records share a value.")
    index: Flag = Field(False, description="Keep a database index on the field for fast filters.")
    default: Any = Field(None, description="The value a new record gets when none is given.")
    min: int | float | None = Field(None, description="Smallest allowed value (numbers).")
    max: int | float | None = Field(None, description="Largest allowed value (numbers).")
    max_length: int | None = Field(None, gt=0, description="Longest allowed text, in characters.")
    scale: int | None = Field(
        None,
        ge=0,
        le=12,
        description="Digits kept after the decimal point (decimal fields; default 2).",
    )
    values: list[str] | None = Field(None, description="The allowed values of an enum field.")
    to: str | None = Field(None, description="The entity a ref field points to.")
    of: str | None = Field(None, description="The entity whose records a list field gathers.")
    via: str | None = Field(None, description="The ref field of `of` that points back here.")
    from_: str | None = Field(
        None, alias="from", description="The field a slug is transliterated from when left empty."
    )
    on_delete: Literal["restrict", "cascade", "set_null"] | None = Field(
        None,
        description="What deleting the referenced record does to this one (ref fields); "
        "default restrict for required refs, set_null otherwise.",
    )
    renamed_from: str | None = Field(
        None, description="The field's former name: the column is renamed and its data kept."
    )

    _check_type = field_validator("type", mode="before")(_field_type)

    @property
    def decimal_places(self) -> int:
        """How many digits after the point a money or decimal value keeps."""
        return 2 if self.type == "money" or self.scale is None else self.scale


class Entity(Node):
    title: str | None = Field(None, description="A human name for the entity.")
    description: str | None = Field(None, description="What the entity is; goes to the API docs.")
    plural: str | None = Field(
        None, description="The plural used in API names (default: English rules on the name)."
    )
    display: str | None = Field(
        None,
        description="The field that names a record in lists and pickers (default: the first string field).",
    )
    renamed_from: str | None = Field(
        None, description="The entity's former name: its table is renamed and its data kept."
    )
    fields: dict[str, FieldSpec] = Field(description="The entity's fields by name.")


def field_type_of(entity: Entity, name: str) -> str | None:
    """The type of a field of an entity, system fields (id, created_at, updated_at) included."""
    if name in entity.fields:
        return entity.fields[name].type
    return SYSTEM_FIELDS.get(name)


def unique_key(entity: Entity) -> str | None:
    """The first unique scalar field: what seed records and upserts match on."""
    for name, f in entity.fields.items():
        if f.unique and FIELD_TYPES[f.type].scalar:
            return name
    return None


class EntityQuery(Node):
    entity: str = Field(description="The entity to read.")
    where: Where | None = Field(None, description="A filter the records must pass.")
    order_by: list[str] = Field(
        default_factory=list, description="Fields to sort by; a leading '-' sorts descending."
    )
    limit: int | None = Field(None, gt=0, description="At most this many records.")


class ReadRule(Node):
    where: Where | None = Field(None, description="Only records passing this filter are visible.")
    fields: list[str] | None = Field(
        None, description="Only these fields are visible (default: all)."
    )
    aggregate: Flag = Field(
        True, description="Whether the role may run aggregates (count, sum, …)."
    )
    limit: int | None = Field(None, gt=0, description="At most this many records per request.")


class CreateRule(Node):
    fields: list[str] | None = Field(None, description="Fields the role may set (default: all).")
    set: dict[str, Any] = Field(
        default_factory=dict, description="Values set on every new record; hidden from the input."
    )
    check: Where | None = Field(None, description="A filter the new record must pass.")


class UpdateRule(Node):
    where: Where | None = Field(None, description="Only records passing this filter may change.")
    fields: list[str] | None = Field(None, description="Fields the role may change (default: all).")
    set: dict[str, Any] = Field(
        default_factory=dict, description="Values set on every update; hidden from the input."
    )
    check: Where | None = Field(None, description="A filter the changed record must still pass.")


class DeleteRule(Node):
    where: Where | None = Field(
        None, description="Only records passing this filter may be deleted."
    )


def _bool_or_rule(value: Any) -> str:
    return "rule" if isinstance(value, dict | BaseModel) else "bool"


ReadGrant = Annotated[
    Annotated[Flag, Tag("bool")] | Annotated[ReadRule, Tag("rule")],
    Discriminator(_bool_or_rule),
]
CreateGrant = Annotated[
    Annotated[Flag, Tag("bool")] | Annotated[CreateRule, Tag("rule")],
    Discriminator(_bool_or_rule),
]
UpdateGrant = Annotated[
    Annotated[Flag, Tag("bool")] | Annotated[UpdateRule, Tag("rule")],
    Discriminator(_bool_or_rule),
]
DeleteGrant = Annotated[
    Annotated[Flag, Tag("bool")] | Annotated[DeleteRule, Tag("rule")],
    Discriminator(_bool_or_rule),
]


OPERATIONS = ("read", "create", "update", "delete")


class EntityGrant(Node):
    read: ReadGrant = Field(
        False, description="`true`, or a rule with where/fields/aggregate/limit."
    )
    create: CreateGrant = Field(False, description="`true`, or a rule with fields/set/check.")
    update: UpdateGrant = Field(False, description="`true`, or a rule with where/fields/set/check.")
    delete: DeleteGrant = Field(False, description="`true`, or a rule with where.")


class Role(Node):
    """A role's options, plus one key per entity it is granted something on."""

    model_config = ConfigDict(json_schema_extra={})
    extra_keys_are_unknown: ClassVar[bool] = False
    __pydantic_extra__: dict[str, EntityGrant] = Field(init=False)

    description: str | None = Field(None, description="Who holds the role.")
    inherits: list[str] = Field(
        default_factory=list, description="Roles whose grants this role also has."
    )
    audit: Flag = Field(False, description="The role may read the audit log of every write.")

    @property
    def grants(self) -> dict[str, EntityGrant]:
        """The role's own grants by entity name (without inherited ones)."""
        return dict(self.__pydantic_extra__ or {})


class Seo(Node):
    title: str | None = Field(None, description="The page title (a template).")
    description: str | None = Field(None, description="The meta description (a template).")
    canonical: str | None = Field(None, description="The canonical URL, when not the page's own.")
    image: str | None = Field(None, description="The OpenGraph image.")
    noindex: Flag = Field(False, description="Ask search engines not to index the page.")


class Landing(Node):
    title: str | None = Field(None, description="A human name for the landing.")
    description: str | None = Field(None, description="What the landing is for.")
    path: str = Field(
        description="The page's URL path; `{field}` placeholders take the record's values."
    )
    for_each: EntityQuery | None = Field(
        None, description="Make one page per record of this query."
    )
    seo: Seo = Field(default_factory=Seo, description="Search-engine and sharing metadata.")
    theme: dict[str, str] = Field(
        default_factory=dict, description="Theme tokens (colours, font, radius) for this landing."
    )
    blocks: list[dict[str, dict[str, Any] | None]] = Field(
        default_factory=list, description="The page's blocks in order, each `block_name: {params}`."
    )


class JwtAuth(Node):
    secret_env: str = Field(
        "ECOSPEC_JWT_SECRET", description="The environment variable holding the HS256 secret."
    )
    algorithm: Literal["HS256", "RS256", "ES256"] = Field(
        "HS256", description="The signing algorithm."
    )
    public_key_env: str | None = Field(
        None, description="The environment variable holding the RS256/ES256 public key (PEM)."
    )
    jwks_url: str | None = Field(None, description="A JWKS URL of an external sign-on provider.")
    audience: str | None = Field(None, description="The audience a token must name.")
    issuer: str | None = Field(None, description="The issuer a token must name.")
    role_claim: str = Field("role", description="The claim naming the token's role.")
    roles_claim: str | None = Field(
        None, description="A claim listing every role the token may pick with a header."
    )
    claims: dict[str, str] = Field(
        default_factory=dict,
        description="Session variables from claims: `$user.<key>` takes the claim `<value>`.",
    )


class Auth(Node):
    anonymous_role: str = Field("public", description="The role of requests without credentials.")
    jwt: JwtAuth = Field(default_factory=JwtAuth, description="How bearer tokens are checked.")


class Site(Node):
    base_url: str = Field(
        "http://127.0.0.1:8000",
        description="The public address of the sites, for links and sitemaps.",
    )
    origins: list[str] = Field(
        default_factory=list, description="Other origins whose pages may post forms (CORS)."
    )
    runtime_url: str = Field(
        "",
        description="Where pages post forms when the sites are served apart from the runtime "
        "(default: the same origin).",
    )
    theme: dict[str, str] = Field(
        default_factory=dict, description="Default theme tokens (colours, font, radius)."
    )


class Limits(Node):
    depth: int = Field(12, gt=0, description="Deepest nesting of fields a query may have.")
    aliases: int = Field(30, gt=0, description="Most aliases a query may use.")
    tokens: int = Field(5000, gt=0, description="Most tokens a query document may have.")
    cost: int = Field(
        50000,
        gt=0,
        description="Highest estimated cost: each field counts once per record the lists above it may return.",
    )
    page_size: int = Field(
        100,
        gt=0,
        description="How many records a list without `limit` is counted as, for the cost.",
    )
    body_bytes: int = Field(100_000, gt=0, description="Largest request body, in bytes.")
    statement_timeout_ms: int = Field(
        5000, gt=0, description="Longest a query's SQL may run, in milliseconds."
    )


DURATION_RE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Duration:
    """A span of time as a spec writes it: '100ms', '5s', '5m', '2h', '1d'. The text is kept for
    messages and dumps; `seconds` and `timedelta` are what the runtime waits."""

    text: str
    seconds: float

    # The kind of a validation error made by text that is no duration.
    error_type: ClassVar[str] = "duration"

    @classmethod
    def parse(cls, text: str) -> Duration:
        """'5s' -> 5 seconds, '5m' -> 300, '2h' -> 7200, '1d' -> 86400; ValueError otherwise."""
        match = DURATION_RE.fullmatch(text)
        if match is None:
            raise ValueError(f"'{text}' is not a duration such as 30s, 5m or 2h")
        return cls(text, float(match.group(1)) * _UNIT_SECONDS[match.group(2)])

    @property
    def timedelta(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.seconds)

    def __str__(self) -> str:
        return self.text

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[Any], handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        """Text in the spec and in the JSON Schema (errors as for any text, then as a duration);
        dumped back as the text written."""
        return core_schema.no_info_before_validator_function(
            _text_of,
            core_schema.no_info_after_validator_function(
                _validate_duration, core_schema.str_schema()
            ),
            serialization=core_schema.to_string_ser_schema(when_used="always"),
        )


def _text_of(value: Any) -> Any:
    """A Duration given again (a default, a copy) validates as the text it was made from."""
    return value.text if isinstance(value, Duration) else value


def _validate_duration(text: str) -> Duration:
    try:
        return Duration.parse(text)
    except ValueError:
        raise PydanticCustomError(
            Duration.error_type,
            "'{text}' is not a duration such as 30s, 5m or 2h",
            {"text": text},
        ) from None


DEFAULT_SCHEDULE = ["5s", "5m", "30m", "2h", "5h", "10h", "10h"]


class Webhook(Node):
    description: str | None = Field(None, description="What the receiving system is.")
    url: str = Field(description="Where events are POSTed (http or https).")
    secret_env: str = Field(
        description="The environment variable holding the signing secret (HMAC-SHA256)."
    )
    events: dict[str, list[Literal["create", "update", "delete"]]] = Field(
        description="Which entities' writes are sent, and which operations: {Lead: [create, update]}."
    )
    timeout_ms: int = Field(10_000, gt=0, description="How long one attempt may take.")
    schedule: list[Duration] = Field(
        default_factory=lambda: [Duration.parse(wait) for wait in DEFAULT_SCHEDULE],
        description="Waits before each retry (5s, 5m, 2h, …); after the last, the event is dead-lettered.",
    )
    enabled: Flag = Field(
        True, description="Set false to stop sending (events are kept for later)."
    )


class Spec(Node):
    """A whole ecosystem, merged from every file under spec/."""

    ecosystem: str | None = Field(
        None, description="The ecosystem's name: lowercase latin letters, digits and dashes."
    )
    title: str | None = Field(None, description="The ecosystem's human name.")
    locale: str = Field("en", description="The language of the sites and messages (ru, en, …).")
    database: str | None = Field(
        None,
        description="The database URL (default sqlite:///var/<ecosystem>.db); "
        "ECOSPEC_DATABASE_URL overrides.",
    )
    auth: Auth = Field(
        default_factory=Auth, description="Who is asking: anonymous role and tokens."
    )
    site: Site = Field(default_factory=Site, description="Settings shared by every landing.")
    limits: Limits = Field(
        default_factory=Limits, description="Limits on GraphQL requests (OWASP's GraphQL advice)."
    )
    entities: dict[str, Entity] = Field(
        default_factory=dict, description="Catalog and CRM entities by name."
    )
    roles: dict[str, Role] = Field(
        default_factory=dict, description="Roles by name; deny by default."
    )
    landings: dict[str, Landing] = Field(default_factory=dict, description="Landings by name.")
    seed: dict[str, list[dict[str, Any]]] = Field(
        default_factory=dict, description="Seed records by entity name, loaded by `ecospec seed`."
    )
    webhooks: dict[str, Webhook] = Field(
        default_factory=dict, description="External systems that receive the ecosystem's writes."
    )

    def grants(self, role: str) -> dict[str, EntityGrant]:
        """A role's grants with its inherited ones: per entity and operation, the role's own
        rule wins; operations it does not name come from the roles it inherits."""
        merged: dict[str, dict[str, Any]] = {}
        seen: set[str] = set()

        def visit(name: str) -> None:
            if name in seen or name not in self.roles:
                return
            seen.add(name)
            for parent in self.roles[name].inherits:
                visit(parent)
            for entity, grant in self.roles[name].grants.items():
                ops = merged.setdefault(entity, {})
                for op in OPERATIONS:
                    rule = getattr(grant, op)
                    if rule is not False:
                        ops[op] = rule

        visit(role)
        return {entity: EntityGrant(**ops) for entity, ops in merged.items()}


class LandingFile(Landing):
    """A file holding one landing: `landing: name` and the landing's keys."""

    landing: str = Field(description="The landing's name (a file may hold one landing).")


# The top-level sections whose members are merged across files by name, and how.
# "named": each member defined once ("entities: {Complex: …}"); "append": lists joined (seed).
SECTIONS: dict[str, Literal["named", "append"]] = {
    "entities": "named",
    "roles": "named",
    "landings": "named",
    "seed": "append",
    "webhooks": "named",
}
