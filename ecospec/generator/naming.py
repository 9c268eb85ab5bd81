"""Names an entity takes in the API: types, root fields, inputs, enums."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from ecospec.generator.model import Entity


@functools.cache  # the names of one spec, asked for again for every record
def camel(name: str) -> str:
    """'utm_source' -> 'utmSource'."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def pascal(name: str) -> str:
    """'utm_source' -> 'UtmSource'; 'Apartment' stays."""
    c = camel(name)
    return c[:1].upper() + c[1:]


def lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


def pluralize(word: str) -> str:
    """English plural of a PascalCase word's last part: Complex -> Complexes, Amenity -> Amenities."""
    if re.search(r"[^aeiou]y$", word):
        return word[:-1] + "ies"
    if re.search(r"(s|x|z|ch|sh)$", word):
        return word + "es"
    return word + "s"


@dataclass(frozen=True)
class EntityNames:
    type: str  # Apartment
    one: str  # apartment
    many: str  # apartments

    @property
    def connection(self) -> str:
        return f"{self.many}Connection"

    @property
    def aggregate(self) -> str:
        return f"{self.many}Aggregate"

    @property
    def changed(self) -> str:
        """The subscription root field: apartmentChanged."""
        return f"{self.one}Changed"

    def input(self, kind: str) -> str:
        """Where, OrderBy, CreateInput, UpdateInput, Aggregate, Connection, Edge … of this type."""
        return f"{self.type}{kind}"

    def mutation(self, verb: str) -> str:
        return f"{verb}{self.type}"


def entity_names(name: str, entity: Entity) -> EntityNames:
    plural = entity.plural or pluralize(name)
    return EntityNames(type=name, one=lower_first(name), many=lower_first(plural))


def enum_type_name(entity: str, field: str) -> str:
    return f"{entity}{pascal(field)}"
