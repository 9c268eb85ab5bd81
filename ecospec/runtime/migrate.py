"""Bringing a database in line with the spec: Alembic compares, we classify and apply.

Additive changes apply at once. Changes that would lose data are refused, each listed with
the spec's file:line, unless the caller allows data loss (a SQLite file is then copied aside
first). Renames declared with `renamed_from` keep their data.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable, Sequence
from typing import Any

from alembic.autogenerate import produce_migrations
from alembic.migration import MigrationContext
from alembic.operations import Operations, ops
from sqlalchemy import (
    Column,
    Connection,
    MetaData,
    String,
    Table,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy import types as satypes
from sqlalchemy.engine import URL

from ecospec.generator.errors import Location, MigrationError
from ecospec.generator.model import Spec
from ecospec.generator.tables import build_metadata, column_name, table_name
from ecospec.runtime.capabilities import CAPABILITIES
from ecospec.runtime.database import READ_ONLY, sqlite_file, sync_engine
from ecospec.runtime.migrationplan import Change, MigrationPlan, op_change
from ecospec.runtime.system import CORE_TABLES, SYSTEM

__all__ = ["Change", "MigrationPlan", "migrate", "migrate_additive"]

REGISTRY = "ecospec_tables"
_registry_md = MetaData()
_registry = Table(REGISTRY, _registry_md, Column("name", String(128), primary_key=True))


Step = Callable[[Connection, Operations], None]
REQUIRED = ("column", "made required")
UNIQUE = ("column", "made unique")


class _Planner:
    def __init__(self, spec: Spec, conn: Connection) -> None:
        self.spec = spec
        self.conn = conn
        self.sqlite = conn.dialect.name == "sqlite"
        self.metadata, _ = build_metadata(spec)
        self.tables = {table_name(e): e for e in spec.entities}
        self.changes: list[Change] = []
        self.steps: list[Step] = []

    # where things are written ------------------------------------------------------------------

    def at_table(self, table: str) -> Location | None:
        entity = self.tables.get(table)
        return self.spec.entities[entity].location if entity else None

    def at_column(self, table: str, column: str) -> Location | None:
        entity = self.tables.get(table)
        if entity is None:
            return None
        for fname, f in self.spec.entities[entity].fields.items():
            if column_name(fname, f) == column:
                return f.location
        return self.at_table(table)

    def count(self, table: str, where: str | None = None) -> int:
        query = select(func.count()).select_from(text(_quote(self.conn, table)))
        if where:
            query = query.where(text(where))
        return int(self.conn.execute(query).scalar_one())

    # renames ----------------------------------------------------------------------------------

    def renames(self) -> None:
        """Apply declared renames now, so the comparison that follows sees them as done."""
        inspector = inspect(self.conn)
        existing = set(inspector.get_table_names())
        operations = Operations(MigrationContext.configure(self.conn))
        for ename, entity in self.spec.entities.items():
            new = table_name(ename)
            if entity.renamed_from:
                old = table_name(entity.renamed_from)
                if old in existing and new not in existing:
                    operations.rename_table(old, new)
                    self.conn.execute(_registry.delete().where(_registry.c.name == old))
                    self.conn.execute(_registry.insert().values(name=new))
                    existing = (existing - {old}) | {new}
                    self.changes.append(
                        Change(
                            f"rename table {old} to {new} (data kept)",
                            entity.location,
                            kind=("table", "renamed"),
                        )
                    )
            if new not in existing:
                continue
            columns = {c["name"] for c in inspect(self.conn).get_columns(new)}
            for fname, f in entity.fields.items():
                if not f.renamed_from or f.type == "list":
                    continue
                old_col = column_name(f.renamed_from, f)
                new_col = column_name(fname, f)
                if old_col in columns and new_col not in columns:
                    self._alter(
                        operations, new, [ops.AlterColumnOp(new, old_col, modify_name=new_col)]
                    )
                    self.changes.append(
                        Change(
                            f"rename column {new}.{old_col} to {new_col} (data kept)",
                            f.location,
                            kind=("column", "renamed"),
                        )
                    )

    def _alter(self, operations: Operations, table: str, items: list[Any]) -> None:
        if self.sqlite:
            with operations.batch_alter_table(table) as batch:
                for item in items:
                    batch.invoke(item)
        else:
            for item in items:
                operations.invoke(item)

    # the comparison ---------------------------------------------------------------------------

    def compare(self) -> None:
        _registry_md.create_all(self.conn)
        present = set(inspect(self.conn).get_table_names())
        own = {*CORE_TABLES, *(t for capability in CAPABILITIES for t in capability.tables)}
        missing = [t for t in SYSTEM.sorted_tables if t in own and t.name not in present]
        if missing:
            names = ", ".join(t.name for t in missing)
            self.changes.append(
                Change(
                    f"create Ecospec's own tables ({names})",
                    kind=("table", "created"),
                    count=len(missing),
                )
            )
            self.steps.append(lambda conn, _ops: SYSTEM.create_all(conn, tables=missing))
        known = set(self.conn.execute(select(_registry.c.name)).scalars())

        def include(
            obj: Any, name: str | None, kind: str, reflected: bool, compare_to: Any
        ) -> bool:
            if kind == "table":
                if name == REGISTRY or (name or "").startswith("ecospec_"):
                    return False
                if reflected and compare_to is None:
                    return name in known  # drop only tables Ecospec made
            return True

        context = MigrationContext.configure(
            self.conn, opts={"include_object": include, "compare_type": True}
        )
        script = produce_migrations(context, self.metadata)
        late: list[Step] = []
        for item in script.upgrade_ops.ops if script.upgrade_ops else []:
            if isinstance(item, ops.CreateTableOp):
                self.create_table(item)
            elif isinstance(item, ops.DropTableOp):
                rows = self.count(item.table_name)
                self.changes.append(
                    Change(
                        f"drop table {item.table_name} ({_rows(rows)})",
                        None,
                        data_loss=True,
                        kind=("table", "dropped"),
                    )
                )
                late.append(self._drop_table(item))  # after the refs to it are gone
            elif isinstance(item, ops.ModifyTableOps):
                self.modify_table(item)
            elif isinstance(item, ops.CreateIndexOp | ops.DropIndexOp):
                self.changes.append(op_change(item, self.at_table(item.table_name or "")))
                self.steps.append(self._invoke(item))
        self.check_constraints()
        self.steps.extend(late)

    @staticmethod
    def _invoke(item: Any) -> Step:
        def step(conn: Connection, operations: Operations) -> None:
            operations.invoke(item)

        return step

    @staticmethod
    def _drop_table(item: ops.DropTableOp) -> Step:
        def step(conn: Connection, operations: Operations) -> None:
            operations.invoke(item)
            _unregister(conn, item.table_name)

        return step

    def create_table(self, item: ops.CreateTableOp) -> None:
        self.changes.append(
            Change(
                f"create table {item.table_name}",
                self.at_table(item.table_name),
                kind=("table", "created"),
            )
        )

        def step(conn: Connection, operations: Operations) -> None:
            operations.invoke(item)
            conn.execute(_registry.insert().values(name=item.table_name))

        self.steps.append(step)

    def modify_table(self, item: ops.ModifyTableOps) -> None:
        table = item.table_name
        batch: list[Any] = []
        after: list[Step] = []
        before: list[Step] = []
        rows: int | None = None

        def row_count() -> int:
            nonlocal rows
            if rows is None:
                rows = self.count(table)
            return rows

        for sub in item.ops:
            if isinstance(sub, ops.AddColumnOp):
                self.add_column(table, sub, batch, after, row_count)
            elif isinstance(sub, ops.DropColumnOp):
                filled = self.count(table, f"{_quote(self.conn, sub.column_name)} IS NOT NULL")
                self.changes.append(
                    Change(
                        f"drop column {table}.{sub.column_name} ({_rows(filled, 'with a value')})",
                        self.at_table(table),
                        data_loss=True,
                        kind=("column", "dropped"),
                    )
                )
                batch.append(sub)
            elif isinstance(sub, ops.AlterColumnOp):
                self.alter_column(table, sub, batch, before)
            elif isinstance(sub, ops.AddConstraintOp):
                self.add_constraint(table, sub, batch)
            else:
                self.changes.append(op_change(sub, self.at_table(table)))
                batch.append(sub)
        if batch or after or before:
            self.steps.append(self._table_step(table, batch, after, before))

    def _table_step(
        self, table: str, batch: list[Any], after: list[Step], before: Sequence[Step] = ()
    ) -> Step:
        def step(conn: Connection, operations: Operations) -> None:
            for first in before:
                first(conn, operations)
            if batch:
                self._alter(operations, table, batch)
            for later in after:
                later(conn, operations)

        return step

    def add_column(
        self,
        table: str,
        sub: ops.AddColumnOp,
        batch: list[Any],
        after: list[Step],
        row_count: Callable[[], int],
    ) -> None:
        column = sub.column
        where = self.at_column(table, column.name)
        if column.nullable or row_count() == 0:
            self.changes.append(
                Change(f"add column {table}.{column.name}", where, kind=("column", "added"))
            )
            # The column's index is a change of its own: Alembic would make it twice.
            unindexed = column._copy()
            unindexed.index = None
            batch.append(ops.AddColumnOp(table, unindexed))
            return
        default = column.default.arg if column.default is not None else None  # type: ignore[attr-defined]
        if default is None or callable(default):
            self.changes.append(
                Change(
                    f"add required column {table}.{column.name}",
                    where,
                    blocked=f"{_rows(row_count())} would have no value; give the field a default",
                    kind=("column", "added"),
                )
            )
            return
        self.changes.append(
            Change(
                f"add column {table}.{column.name}, filling {_rows(row_count())} with {default!r}",
                where,
                kind=("column", "added"),
            )
        )
        loose = Column(column.name, column.type, nullable=True)
        batch.append(ops.AddColumnOp(table, loose))
        target = self.metadata.tables[table]

        def fill(conn: Connection, operations: Operations) -> None:
            conn.execute(target.update().values({column.name: default}))
            self._alter(
                operations,
                table,
                [
                    ops.AlterColumnOp(
                        table, column.name, modify_nullable=False, existing_type=column.type
                    )
                ],
            )

        after.append(fill)

    def alter_column(
        self, table: str, sub: ops.AlterColumnOp, batch: list[Any], before: list[Step]
    ) -> None:
        where = self.at_column(table, sub.column_name)
        name = f"{table}.{sub.column_name}"
        target = self.metadata.tables.get(table)
        spec_column = target.c.get(sub.column_name) if target is not None else None
        default = (
            spec_column.default.arg  # type: ignore[attr-defined]
            if spec_column is not None and spec_column.default is not None
            else None
        )
        if sub.modify_nullable is False:
            empty = self.count(table, f"{_quote(self.conn, sub.column_name)} IS NULL")
            if empty and default is not None and not callable(default) and target is not None:
                self.changes.append(
                    Change(
                        f"make {name} required, filling {_rows(empty)} with {default!r}",
                        where,
                        kind=REQUIRED,
                    )
                )
                column = target.c[sub.column_name]

                def fill(conn: Connection, operations: Operations) -> None:
                    conn.execute(
                        target.update().where(column.is_(None)).values({column.name: default})
                    )

                before.append(fill)
            elif empty:
                self.changes.append(
                    Change(
                        f"make {name} required",
                        where,
                        blocked=f"{_rows(empty)} have no value; give the field a default or fill them first",
                        kind=REQUIRED,
                    )
                )
                return
            self.changes.append(Change(f"make {name} required", where, kind=REQUIRED))
        elif sub.modify_nullable is True:
            self.changes.append(
                Change(f"make {name} optional", where, kind=("column", "made optional"))
            )
        if sub.modify_type is not None:
            old = sub.existing_type
            if _widens(old, sub.modify_type):
                self.changes.append(
                    Change(
                        f"widen {name} from {old} to {sub.modify_type}",
                        where,
                        kind=("column", "widened"),
                    )
                )
            else:
                self.changes.append(
                    Change(
                        f"change {name} from {old} to {sub.modify_type}",
                        where,
                        data_loss=True,
                        kind=("column", "changed"),
                    )
                )
        if sub.modify_nullable is None and sub.modify_type is None:
            self.changes.append(Change(f"alter {name}", where, kind=("column", "altered")))
        batch.append(sub)

    def add_constraint(self, table: str, sub: ops.AddConstraintOp, batch: list[Any]) -> None:
        if isinstance(sub, ops.CreateUniqueConstraintOp):
            cols = ", ".join(_quote(self.conn, c) for c in sub.columns)
            dupes = self.conn.execute(
                text(
                    f"SELECT count(*) FROM (SELECT {cols} FROM {_quote(self.conn, table)} "
                    f"WHERE {cols} IS NOT NULL GROUP BY {cols} HAVING count(*) > 1) AS d"
                )
            ).scalar_one()
            where = self.at_column(table, sub.columns[0])
            if dupes:
                self.changes.append(
                    Change(
                        f"make {table}.{sub.columns[0]} unique",
                        where,
                        blocked=f"{dupes} values are shared by several records; make them distinct first",
                        kind=UNIQUE,
                    )
                )
                return
            self.changes.append(Change(f"make {table}.{sub.columns[0]} unique", where, kind=UNIQUE))
        else:
            self.changes.append(op_change(sub, self.at_table(table)))
        batch.append(sub)

    def check_constraints(self) -> None:
        """CHECK constraints (enums, bounds) by name: names carry a hash of their condition."""
        inspector = inspect(self.conn)
        existing_tables = set(inspector.get_table_names())
        for table in self.metadata.sorted_tables:
            if table.name not in existing_tables:
                continue
            have = {
                str(c["name"]) for c in inspector.get_check_constraints(table.name) if c.get("name")
            }
            want = {
                c.name: c
                for c in table.constraints
                if c.__class__.__name__ == "CheckConstraint" and isinstance(c.name, str)
            }
            items: list[Any] = []
            for name in sorted(have - set(want)):
                if name.startswith("ck_"):
                    items.append(ops.DropConstraintOp(name, table.name, type_="check"))
                    self.changes.append(
                        Change(
                            f"drop check {name}",
                            self.at_table(table.name),
                            kind=("check", "dropped"),
                        )
                    )
            for name in sorted(set(want) - have):
                check = want[name]
                condition = str(check.sqltext)  # type: ignore[attr-defined]
                column = str(check.info.get("column", ""))
                present = {c["name"] for c in inspector.get_columns(table.name)}
                # a column added in this migration holds no value yet, or its valid default
                bad = self.count(table.name, f"NOT ({condition})") if column in present else 0
                where = self.at_column(table.name, column) or self.at_table(table.name)
                if bad:
                    self.changes.append(
                        Change(
                            f"add check {condition} on {table.name}",
                            where,
                            blocked=f"{_rows(bad)} fail it; change them first",
                            kind=("check", "added"),
                        )
                    )
                    continue
                items.append(ops.CreateCheckConstraintOp(name, table.name, condition))
                self.changes.append(
                    Change(f"add check {condition} on {table.name}", where, kind=("check", "added"))
                )
            if items:
                self.steps.append(self._table_step(table.name, items, []))

    def apply(self, conn: Connection) -> None:
        operations = Operations(MigrationContext.configure(conn))
        for step in self.steps:
            step(conn, operations)


def _unregister(conn: Connection, name: str) -> None:
    conn.execute(_registry.delete().where(_registry.c.name == name))


def _widens(old: Any, new: Any) -> bool:
    if isinstance(old, satypes.String) and isinstance(new, satypes.String):
        if isinstance(new, satypes.Text) or new.length is None:
            return True
        return old.length is not None and new.length >= old.length
    return False


def _quote(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)


def _rows(n: int, what: str = "") -> str:
    word = "record" if n == 1 else "records"
    return f"{n} {word}{' ' + what if what else ''}"


def migrate(
    spec: Spec,
    url: URL,
    *,
    plan_only: bool = False,
    allow_data_loss: bool = False,
    additive_only: bool = False,
    plan_first: bool = True,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> MigrationPlan:
    """Compare the database with the spec; apply the plan unless asked only for it. With
    `additive_only`, apply it only if it loses nothing (what `serve` and `dev` do at start).

    The plan is made reading only, and made again in the transaction that applies it, which
    refuses it the same way should the database have changed in between. Without `plan_first`
    (a data model just changed: there is something to apply) it is made once, in that
    transaction: on SQLite other writers wait meanwhile, and a plan that would lose data
    refused there needs no backup."""

    def refuse(plan: MigrationPlan) -> None:
        if additive_only and not plan.additive:
            pending = [c for c in plan.changes if c.data_loss or c.blocked]
            raise MigrationError(
                "the database needs changes that are not additive; review them with "
                "`ecospec migrate --plan`:\n" + "\n".join(f"  {c}" for c in pending)
            )
        if plan.blocked:
            raise MigrationError(
                "the database cannot follow the spec:\n" + "\n".join(f"  {c}" for c in plan.blocked)
            )
        if plan.data_loss and not allow_data_loss:
            raise MigrationError(
                "refusing changes that would lose data (run `ecospec migrate --allow-data-loss` to apply them):\n"
                + "\n".join(f"  {c}" for c in plan.data_loss)
            )

    engine = sync_engine(url)
    try:
        if not plan_first and not plan_only and not allow_data_loss:
            return _run(engine, spec, apply=True, refuse=refuse)
        plan = _run(engine, spec, apply=False)
        if plan_only or not plan.changes:
            return plan
        refuse(plan)
        backup = None
        path = sqlite_file(url)
        if plan.data_loss and path is not None and path.exists():
            engine.dispose()
            stamp = now().strftime("%Y%m%d-%H%M%S")
            backup = path.with_name(f"{path.name}.{stamp}.bak")
            shutil.copy2(path, backup)
        applied = _run(engine, spec, apply=True, refuse=refuse)
        applied.backup = backup
        return applied
    finally:
        engine.dispose()


def _run(
    engine: Any,
    spec: Spec,
    *,
    apply: bool,
    refuse: Callable[[MigrationPlan], None] | None = None,
) -> MigrationPlan:
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            if not apply:
                # comparing only reads: the writers of a running server go on meanwhile
                conn = conn.execution_options(**{READ_ONLY: True})
            # Table rebuilds must not cascade into other tables: foreign keys off for the run.
            conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")
        try:
            with conn.begin() as transaction:
                planner = _Planner(spec, conn)
                planner.renames()
                planner.compare()
                if apply:
                    if refuse is not None:
                        refuse(MigrationPlan(planner.changes))  # raises: nothing is applied
                    planner.apply(conn)
                    if conn.dialect.name == "sqlite":
                        broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                        if broken:
                            raise MigrationError(
                                f"the migration would leave {len(broken)} records pointing at missing records"
                            )
                else:
                    transaction.rollback()
        finally:
            if conn.dialect.name == "sqlite":
                conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")
        return MigrationPlan(planner.changes)


def migrate_additive(spec: Spec, url: URL) -> MigrationPlan:
    """Apply the changes that lose nothing; refuse to start on any other, naming them."""
    return migrate(spec, url, additive_only=True)
