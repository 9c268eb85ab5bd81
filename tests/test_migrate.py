"""Migrations on SQLite and PostgreSQL: additive changes apply and keep the data; changes that lose
data are refused with the spec's file:line unless allowed (and a SQLite file is copied aside first);
renames keep their data; what cannot work at all is blocked with the reason."""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dbs import WriteSpec, resolve, sqlite_path
from sqlalchemy import Engine, create_engine, inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import NullPool

from ecospec.generator.errors import MigrationError
from ecospec.generator.loader import load_spec
from ecospec.generator.model import Spec
from ecospec.generator.tables import build_metadata
from ecospec.runtime.migrate import Change, MigrationPlan, migrate, migrate_additive

pytest_plugins = ["dbs"]

BASE = {
    "spec/ecosystem.yaml": "ecosystem: shop\nauth: {anonymous_role: public}\n",
    "spec/roles.yaml": "roles:\n  public: {}\n",
}
ENTITIES = "spec/entities/shop.yaml"
MOMENT = "2026-01-02T03:04:05.000000+00:00"
STAMP = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def spec_changes(plan: MigrationPlan) -> list[Change]:
    """The changes that come from the spec (not the runtime's own bookkeeping tables)."""
    return [c for c in plan.changes if "Ecospec's own tables" not in c.description]


class Project:
    """A small project whose entity file a test rewrites between migrations."""

    def __init__(self, folder: Path, write_spec: WriteSpec, url: str) -> None:
        self.folder = folder
        self.write_spec = write_spec
        self.url = url

    def spec(self, entities: str) -> Spec:
        self.write_spec(self.folder, {**BASE, ENTITIES: entities})
        return load_spec(self.folder)

    def migrate(self, entities: str, **options: Any) -> MigrationPlan:
        return migrate(self.spec(entities), resolve(self.url), now=lambda: STAMP, **options)

    def lines(self, entities: str, **options: Any) -> list[str]:
        return [str(c) for c in spec_changes(self.migrate(entities, **options))]

    @contextlib.contextmanager
    def engine(self) -> Iterator[Engine]:
        engine = create_engine(resolve(self.url), poolclass=NullPool)
        try:
            yield engine
        finally:
            engine.dispose()

    def insert(self, entities: str, table: str, *rows: dict[str, Any]) -> None:
        metadata, _ = build_metadata(self.spec(entities))
        with self.engine() as engine, engine.begin() as conn:
            for row in rows:
                values = {"created_at": MOMENT, "updated_at": MOMENT, **row}
                conn.execute(metadata.tables[table].insert().values(values))

    def rows(self, table: str, *columns: str) -> list[tuple[Any, ...]]:
        cols = ", ".join(columns)
        with self.engine() as engine, engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(f"SELECT {cols} FROM {table} ORDER BY id"))]

    def columns(self, table: str) -> list[str]:
        with self.engine() as engine, engine.connect() as conn:
            return [c["name"] for c in inspect(conn).get_columns(table)]

    def tables(self) -> set[str]:
        with self.engine() as engine, engine.connect() as conn:
            return set(inspect(conn).get_table_names())


@pytest.fixture
def project(database: str, write_spec: WriteSpec, tmp_path: Path) -> Project:
    return Project(tmp_path / "shop", write_spec, database)


def entities(fields: str, extra: str = "") -> str:
    """entities.Product with these fields (one per line); Product starts at line 3, column 5,
    and its n-th field's value at line 3 + n."""
    body = textwrap.indent(textwrap.dedent(fields).strip("\n"), "      ")
    return f"entities:\n  Product:\n    fields:\n{body}\n{extra}"


V1 = entities(
    """
    name: {type: string, required: true, max_length: 50}
    color: {type: string}
    status: {type: enum, values: [draft, on_sale]}
    """
)


def test_a_new_database_gets_every_table_and_then_is_up_to_date(project: Project) -> None:
    assert project.lines(V1) == [
        "spec/entities/shop.yaml:3:5: create table product",
        "spec/entities/shop.yaml:3:5: create index ix_product_created_at",
    ]
    assert "product" in project.tables()
    assert project.migrate(V1).changes == []


def test_a_plan_applies_nothing(project: Project) -> None:
    plan = project.migrate(V1, plan_only=True)
    assert [c.description for c in spec_changes(plan)] == [
        "create table product",
        "create index ix_product_created_at",
    ]
    assert "product" not in project.tables()
    project.migrate(V1)
    project.insert(V1, "product", {"name": "tea", "color": "green"})
    smaller = entities("name: {type: string, required: true, max_length: 50}")
    plan = project.migrate(smaller, plan_only=True)
    assert sorted(str(c) for c in plan.changes) == [
        "spec/entities/shop.yaml:3:5: drop check ck_product_status_in_e7010bf4",
        "spec/entities/shop.yaml:3:5: drop column product.color (1 record with a value)",
        "spec/entities/shop.yaml:3:5: drop column product.status (0 records with a value)",
    ]
    assert project.columns("product") == [
        "id",
        "name",
        "color",
        "status",
        "created_at",
        "updated_at",
    ]


def test_a_plan_on_sqlite_goes_on_while_another_process_writes(
    project: Project, tmp_path: Path
) -> None:
    """A plan only reads: it does not wait for (or fail on) SQLite's write lock, which a
    running server's writers take (the busy timeout would otherwise end in 'database is
    locked')."""
    if not project.url.startswith("sqlite"):
        pytest.skip("the write lock is SQLite's")
    path = sqlite_path(project.url)
    project.migrate(V1)
    bigger = V1 + "      size: {type: int}\n"
    writer = sqlite3.connect(path, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")  # holds the write lock
        plan = project.migrate(bigger, plan_only=True)
        assert [c.description for c in spec_changes(plan)] == ["add column product.size"]
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_adding_a_field_keeps_the_data(project: Project) -> None:
    project.migrate(V1)
    project.insert(V1, "product", {"name": "tea", "color": "green", "status": "draft"})
    v2 = entities(
        """
        name: {type: string, required: true, max_length: 50}
        color: {type: string}
        status: {type: enum, values: [draft, on_sale]}
        weight: {type: int}
        """
    )
    assert project.lines(v2) == ["spec/entities/shop.yaml:7:15: add column product.weight"]
    assert project.rows("product", "name", "color", "status", "weight") == [
        ("tea", "green", "draft", None)
    ]
    assert project.migrate(v2).changes == []


def test_adding_an_indexed_field_or_a_ref_makes_each_index_once(project: Project) -> None:
    project.migrate(V1)
    project.insert(V1, "product", {"name": "tea", "color": "green", "status": "draft"})
    v2 = (
        V1
        + "      origin: {type: string, max_length: 40, index: true}\n"
        + "      maker: {type: ref, to: Maker}\n"
        + "  Maker:\n    fields:\n      name: {type: string}\n"
    )
    assert sorted(project.lines(v2)) == [
        "spec/entities/shop.yaml:10:5: create index ix_maker_created_at",
        "spec/entities/shop.yaml:10:5: create table maker",
        "spec/entities/shop.yaml:3:5: create foreign key fk_product_maker_id",
        "spec/entities/shop.yaml:3:5: create index ix_product_maker_id",
        "spec/entities/shop.yaml:3:5: create index ix_product_origin",
        "spec/entities/shop.yaml:7:15: add column product.origin",
        "spec/entities/shop.yaml:8:14: add column product.maker_id",
    ]
    with project.engine() as engine, engine.connect() as conn:
        indexes = {i["name"] for i in inspect(conn).get_indexes("product")}
    assert {"ix_product_origin", "ix_product_maker_id"} <= indexes
    assert project.rows("product", "name", "origin", "maker_id") == [("tea", None, None)]
    assert project.migrate(v2).changes == []


def test_adding_an_enum_or_bounded_field_to_a_table_in_use(project: Project) -> None:
    project.migrate(V1)
    project.insert(V1, "product", {"name": "tea"})
    v2 = entities(
        """
        name: {type: string, required: true, max_length: 50}
        color: {type: string}
        status: {type: enum, values: [draft, on_sale]}
        kind: {type: enum, values: [loose, bagged]}
        stock: {type: int, min: 0, max: 1000}
        """
    )
    plan = project.migrate(v2)
    assert plan.additive
    assert project.rows("product", "name", "kind", "stock") == [("tea", None, None)]
    with pytest.raises(IntegrityError):
        project.insert(v2, "product", {"name": "milk", "kind": "canned"})


def test_dropping_a_field_is_refused_with_its_place_then_applied_with_a_backup(
    project: Project,
) -> None:
    project.migrate(V1)
    project.insert(V1, "product", {"name": "tea", "color": "green"}, {"name": "coffee"})
    without_color = entities(
        """
        name: {type: string, required: true, max_length: 50}
        status: {type: enum, values: [draft, on_sale]}
        """
    )
    with pytest.raises(MigrationError) as refused:
        project.migrate(without_color)
    assert str(refused.value) == (
        "refusing changes that would lose data (run `ecospec migrate --allow-data-loss` to apply"
        " them):\n  spec/entities/shop.yaml:3:5: drop column product.color (1 record with a value)"
    )
    assert project.rows("product", "name", "color") == [("tea", "green"), ("coffee", None)]

    plan = project.migrate(without_color, allow_data_loss=True)
    assert [str(c) for c in plan.changes] == [
        "spec/entities/shop.yaml:3:5: drop column product.color (1 record with a value)"
    ]
    assert project.columns("product") == ["id", "name", "status", "created_at", "updated_at"]
    assert project.rows("product", "name") == [("tea",), ("coffee",)]
    if project.url.startswith("sqlite"):
        database = sqlite_path(project.url)
        assert plan.backup == database.with_name(f"{database.name}.20260102-030405.bak")
        with contextlib.closing(sqlite3.connect(plan.backup)) as copy:
            assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            assert copy.execute("SELECT name, color FROM product ORDER BY id").fetchall() == [
                ("tea", "green"),
                ("coffee", None),
            ]
    else:
        assert plan.backup is None


def test_renaming_a_field_keeps_its_data(project: Project) -> None:
    project.migrate(V1)
    project.insert(V1, "product", {"name": "tea", "color": "green"})
    renamed = entities(
        """
        title: {type: string, required: true, max_length: 50, renamed_from: name}
        colour: {type: string, renamed_from: color}
        status: {type: enum, values: [draft, on_sale]}
        """
    )
    assert project.lines(renamed) == [
        "spec/entities/shop.yaml:4:14: rename column product.name to title (data kept)",
        "spec/entities/shop.yaml:5:15: rename column product.color to colour (data kept)",
    ]
    assert project.rows("product", "title", "colour") == [("tea", "green")]
    assert project.migrate(renamed).changes == []


def test_renaming_an_entity_keeps_its_records_and_the_refs_to_them(project: Project) -> None:
    before = """\
entities:
  Category:
    fields:
      name: {type: string, required: true}
  Product:
    fields:
      name: {type: string, required: true}
      category: {type: ref, to: Category}
"""
    after = """\
entities:
  Section:
    renamed_from: Category
    fields:
      name: {type: string, required: true}
  Product:
    fields:
      name: {type: string, required: true}
      category: {type: ref, to: Section}
"""
    project.migrate(before)
    project.insert(before, "category", {"name": "drinks"})
    project.insert(before, "product", {"name": "tea", "category_id": 1})
    lines = project.lines(after)
    assert lines[0] == "spec/entities/shop.yaml:3:5: rename table category to section (data kept)"
    assert "category" not in project.tables()
    assert project.rows("section", "id", "name") == [(1, "drinks")]
    assert project.rows("product", "name", "category_id") == [("tea", 1)]
    assert project.migrate(after).changes == []


def test_widening_an_enum_applies(project: Project) -> None:
    project.migrate(V1)
    project.insert(V1, "product", {"name": "tea", "status": "on_sale"})
    wider = entities(
        """
        name: {type: string, required: true, max_length: 50}
        color: {type: string}
        status: {type: enum, values: [draft, on_sale, sold_out]}
        """
    )
    plan = project.migrate(wider)
    assert plan.additive
    assert "spec/entities/shop.yaml:6:15: widen product.status from VARCHAR(7) to VARCHAR(8)" in [
        str(c) for c in plan.changes
    ]
    project.insert(wider, "product", {"name": "coffee", "status": "sold_out"})
    assert project.rows("product", "status") == [("on_sale",), ("sold_out",)]
    with pytest.raises(IntegrityError):
        project.insert(wider, "product", {"name": "milk", "status": "gone"})
    assert project.migrate(wider).changes == []


def test_narrowing_an_enum_below_its_values_in_use_is_blocked(project: Project) -> None:
    project.migrate(V1)
    project.insert(V1, "product", {"name": "tea", "status": "on_sale"})
    narrower = entities(
        """
        name: {type: string, required: true, max_length: 50}
        color: {type: string}
        status: {type: enum, values: [draft, gone]}
        """
    )
    with pytest.raises(MigrationError) as blocked:
        project.migrate(narrower, allow_data_loss=True)
    assert str(blocked.value).startswith("the database cannot follow the spec:\n")
    assert (
        """spec/entities/shop.yaml:6:15: add check "status" IN ('draft', 'gone') on product"""
        " — 1 record fail it; change them first"
    ) in str(blocked.value)
    assert project.rows("product", "status") == [("on_sale",)]


WITH_SKU = entities(
    """
    name: {type: string, required: true, max_length: 50}
    color: {type: string}
    status: {type: enum, values: [draft, on_sale]}
    sku: {type: string, required: true, default: none}
    """
)


@pytest.mark.filterwarnings("ignore:The Column.copy:sqlalchemy.exc.SADeprecationWarning")
def test_a_required_field_with_a_default_fills_the_records_there(project: Project) -> None:
    project.migrate(V1)
    project.insert(V1, "product", {"name": "tea"}, {"name": "coffee"})
    assert project.lines(WITH_SKU) == [
        "spec/entities/shop.yaml:7:12: add column product.sku, filling 2 records with 'none'"
    ]
    assert project.rows("product", "name", "sku") == [("tea", "none"), ("coffee", "none")]
    with pytest.raises(IntegrityError):
        project.insert(WITH_SKU, "product", {"name": "milk", "sku": None})


def test_filling_a_required_field_uses_no_deprecated_api(project: Project) -> None:
    project.migrate(V1)
    project.insert(V1, "product", {"name": "tea"})
    project.migrate(WITH_SKU)
    assert project.rows("product", "sku") == [("none",)]


def test_a_required_field_without_a_default_is_blocked_when_records_exist(
    project: Project,
) -> None:
    project.migrate(V1)
    project.insert(V1, "product", {"name": "tea"})
    with_sku = entities(
        """
        name: {type: string, required: true, max_length: 50}
        color: {type: string}
        status: {type: enum, values: [draft, on_sale]}
        sku: {type: string, required: true}
        """
    )
    for allow in (False, True):
        with pytest.raises(MigrationError) as blocked:
            project.migrate(with_sku, allow_data_loss=allow)
        assert str(blocked.value) == (
            "the database cannot follow the spec:\n  spec/entities/shop.yaml:7:12: add required"
            " column product.sku — 1 record would have no value; give the field a default"
        )
    assert "sku" not in project.columns("product")


def test_a_required_field_without_a_default_is_fine_on_an_empty_table(project: Project) -> None:
    project.migrate(V1)
    with_sku = entities(
        """
        name: {type: string, required: true, max_length: 50}
        color: {type: string}
        status: {type: enum, values: [draft, on_sale]}
        sku: {type: string, required: true}
        """
    )
    assert project.lines(with_sku) == ["spec/entities/shop.yaml:7:12: add column product.sku"]


def test_making_a_field_required_with_a_default_fills_the_empty_records(project: Project) -> None:
    project.migrate(V1)
    project.insert(V1, "product", {"name": "tea"}, {"name": "coffee", "color": "black"})
    required = entities(
        """
        name: {type: string, required: true, max_length: 50}
        color: {type: string, required: true, default: white}
        status: {type: enum, values: [draft, on_sale]}
        """
    )
    project.migrate(required)
    assert project.rows("product", "color") == [("white",), ("black",)]


def test_making_a_field_required_without_a_default_is_blocked_while_records_lack_it(
    project: Project,
) -> None:
    project.migrate(V1)
    project.insert(V1, "product", {"name": "tea"})
    required = entities(
        """
        name: {type: string, required: true, max_length: 50}
        color: {type: string, required: true}
        status: {type: enum, values: [draft, on_sale]}
        """
    )
    with pytest.raises(MigrationError) as blocked:
        project.migrate(required)
    assert str(blocked.value) == (
        "the database cannot follow the spec:\n  spec/entities/shop.yaml:5:14: make product.color"
        " required — 1 record have no value; give the field a default or fill them first"
    )


def test_narrowing_a_text_loses_data_and_is_refused(project: Project) -> None:
    project.migrate(V1)
    shorter = entities(
        """
        name: {type: string, required: true, max_length: 10}
        color: {type: string}
        status: {type: enum, values: [draft, on_sale]}
        """
    )
    with pytest.raises(MigrationError) as refused:
        project.migrate(shorter)
    assert str(refused.value).endswith(
        "\n  spec/entities/shop.yaml:4:13: change product.name from VARCHAR(50) to VARCHAR(10)"
    )
    project.migrate(shorter, allow_data_loss=True)
    assert project.migrate(shorter).changes == []


def test_making_a_shared_value_unique_is_blocked(project: Project) -> None:
    project.migrate(V1)
    project.insert(V1, "product", {"name": "tea"}, {"name": "tea"})
    unique = entities(
        """
        name: {type: string, required: true, max_length: 50, unique: true}
        color: {type: string}
        status: {type: enum, values: [draft, on_sale]}
        """
    )
    with pytest.raises(MigrationError) as blocked:
        project.migrate(unique)
    assert str(blocked.value) == (
        "the database cannot follow the spec:\n  spec/entities/shop.yaml:4:13: make product.name"
        " unique — 1 values are shared by several records; make them distinct first"
    )


TWO = """\
entities:
  Category:
    fields:
      name: {type: string, required: true}
  Product:
    fields:
      name: {type: string, required: true}
"""
ONE = """\
entities:
  Product:
    fields:
      name: {type: string, required: true}
"""


def test_dropping_an_entity_is_refused_then_applied_with_the_flag(project: Project) -> None:
    project.migrate(TWO)
    project.insert(TWO, "category", {"name": "drinks"})
    with pytest.raises(MigrationError) as refused:
        project.migrate(ONE)
    assert str(refused.value).endswith("\n  drop table category (1 record)")
    assert "category" in project.tables()
    project.migrate(ONE, allow_data_loss=True)
    assert "category" not in project.tables()
    assert project.migrate(ONE).changes == []


def test_dropping_an_entity_and_the_ref_to_it(project: Project) -> None:
    with_ref = TWO + "      category: {type: ref, to: Category}\n"
    project.migrate(with_ref)
    project.insert(with_ref, "category", {"name": "drinks"})
    project.insert(with_ref, "product", {"name": "tea", "category_id": 1})
    project.migrate(ONE, allow_data_loss=True)
    assert project.tables() >= {"product"} and "category" not in project.tables()
    assert project.rows("product", "name") == [("tea",)]


def test_tables_ecospec_did_not_make_are_left_alone(project: Project) -> None:
    with project.engine() as engine, engine.begin() as conn:
        conn.execute(text("CREATE TABLE legacy (id INTEGER PRIMARY KEY, note VARCHAR(20))"))
    project.migrate(V1)
    assert project.migrate(V1).changes == []
    assert "legacy" in project.tables()


def test_serve_applies_additive_changes_and_refuses_the_rest(project: Project) -> None:
    spec = project.spec(V1)
    plan = migrate_additive(spec, resolve(project.url))
    assert [c.description for c in spec_changes(plan)][:1] == ["create table product"]
    project.insert(V1, "product", {"name": "tea", "color": "green"})
    smaller = project.spec(entities("name: {type: string, required: true, max_length: 50}"))
    with pytest.raises(MigrationError) as refused:
        migrate_additive(smaller, resolve(project.url))
    message = str(refused.value)
    assert message.startswith(
        "the database needs changes that are not additive; review them with "
        "`ecospec migrate --plan`:\n"
    )
    assert (
        "\n  spec/entities/shop.yaml:3:5: drop column product.color (1 record with a value)"
        in message
    )
    with project.engine() as engine, engine.connect() as conn:
        assert conn.execute(select(text("count(*)")).select_from(text("product"))).scalar() == 1


def test_planned_and_applied_at_once_refuses_the_same_and_changes_nothing(
    project: Project,
) -> None:
    # what `ecospec dev` does after a data model changed: one comparison, in the transaction
    # that applies it
    plan = project.migrate(V1, plan_first=False)
    assert [c.description for c in spec_changes(plan)][:1] == ["create table product"]
    project.insert(V1, "product", {"name": "tea", "color": "green"})
    with_note = entities(
        """
        name: {type: string, required: true, max_length: 50}
        color: {type: string}
        status: {type: enum, values: [draft, on_sale]}
        note: {type: string, max_length: 20}
        """
    )
    assert project.lines(with_note, plan_first=False) == [
        "spec/entities/shop.yaml:7:13: add column product.note"
    ]
    assert project.migrate(with_note, plan_first=False).changes == []
    without_color = entities(
        """
        name: {type: string, required: true, max_length: 50}
        status: {type: enum, values: [draft, on_sale]}
        note: {type: string, max_length: 20}
        """
    )
    with pytest.raises(MigrationError) as refused:
        project.migrate(without_color, plan_first=False)
    assert str(refused.value) == (
        "refusing changes that would lose data (run `ecospec migrate --allow-data-loss` to apply"
        " them):\n  spec/entities/shop.yaml:3:5: drop column product.color (1 record with a value)"
    )
    columns = ["id", "name", "color", "status", "created_at", "updated_at", "note"]  # added: last
    assert project.columns("product") == columns
    assert project.rows("product", "name", "color") == [("tea", "green")]
