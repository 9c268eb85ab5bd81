"""What one role may do, read off the spec: the base of its schema and of its SQL filters."""

from __future__ import annotations

from dataclasses import dataclass

from ecospec.generator.model import CreateRule, DeleteRule, EntityGrant, ReadRule, Spec, UpdateRule


@dataclass(frozen=True)
class Access:
    """A role's grants with inheritance resolved; `role=None` is full access (the whole API)."""

    spec: Spec
    role: str | None
    grants: dict[str, EntityGrant]

    @classmethod
    def full(cls, spec: Spec) -> Access:
        return cls(spec, None, {})

    @classmethod
    def of(cls, spec: Spec, role: str) -> Access:
        return cls(spec, role, spec.grants(role))

    @property
    def unrestricted(self) -> bool:
        return self.role is None

    @property
    def audit(self) -> bool:
        if self.role is None:
            return True
        return self._role_audit(self.role, set())

    def _role_audit(self, role: str, seen: set[str]) -> bool:
        spec_role = self.spec.roles.get(role)
        if spec_role is None or role in seen:
            return False
        seen.add(role)
        return spec_role.audit or any(self._role_audit(p, seen) for p in spec_role.inherits)

    # reading ----------------------------------------------------------------------------------

    def read(self, entity: str) -> ReadRule | None:
        if self.unrestricted:
            return ReadRule()
        rule = self.grants.get(entity, EntityGrant()).read
        if rule is True:
            return ReadRule()
        return rule or None

    def readable(self, entity: str) -> bool:
        return self.read(entity) is not None

    def sees(self, entity: str, field: str) -> bool:
        """Whether a field (spec name) of a readable entity is visible; id always is."""
        rule = self.read(entity)
        if rule is None:
            return False
        return rule.fields is None or field in rule.fields or field == "id"

    def aggregates(self, entity: str) -> bool:
        rule = self.read(entity)
        return rule is not None and rule.aggregate

    # writing ----------------------------------------------------------------------------------

    def create(self, entity: str) -> CreateRule | None:
        if self.unrestricted:
            return CreateRule()
        rule = self.grants.get(entity, EntityGrant()).create
        if rule is True:
            return CreateRule()
        return rule or None

    def update(self, entity: str) -> UpdateRule | None:
        if self.unrestricted:
            return UpdateRule()
        rule = self.grants.get(entity, EntityGrant()).update
        if rule is True:
            return UpdateRule()
        return rule or None

    def delete(self, entity: str) -> DeleteRule | None:
        if self.unrestricted:
            return DeleteRule()
        rule = self.grants.get(entity, EntityGrant()).delete
        if rule is True:
            return DeleteRule()
        return rule or None

    def writable(self, entity: str, rule: CreateRule | UpdateRule) -> list[str]:
        """The fields (spec names) a role may give in an input: allowed, minus presets."""
        fields = self.spec.entities[entity].fields
        allowed = rule.fields if rule.fields is not None else list(fields)
        return [
            name
            for name in fields
            if name in allowed and name not in rule.set and fields[name].type != "list"
        ]
