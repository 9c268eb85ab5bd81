"""`ecospec seed`: spec/seed loaded through the write path, refs matched on unique keys, idempotent."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from dbs import (
    DEMO_RECORDS,
    SHOP,
    Api,
    SeededDemo,
    WriteSpec,
    api_on,
    demo_spec,
    resolve,
    seed,
    seed_records,
)

from ecospec.generator.errors import EcospecError
from ecospec.generator.loader import load_spec
from ecospec.runtime.catalog import build_catalog
from ecospec.runtime.migrate import migrate
from ecospec.runtime.seed import seed_order

pytest_plugins = ["dbs"]


def test_the_demo_seed_creates_every_record(seeded_demo: SeededDemo) -> None:
    report = seeded_demo.report
    assert report.created == {name: len(records) for name, records in demo_spec().seed.items()}
    assert sum(report.created.values()) == DEMO_RECORDS
    assert report.updated == {} and report.unchanged == {}


def test_seeding_again_changes_nothing(seeded_demo: SeededDemo) -> None:
    query = "{ apartments { id updatedAt } leads { id updatedAt } touchpoints { id updatedAt } }"
    with api_on(seeded_demo.url) as api:
        before = api.data(query)
    report = seed(demo_spec(), seeded_demo.url)
    assert report.created == {} and report.updated == {}
    assert report.unchanged == {name: len(records) for name, records in demo_spec().seed.items()}
    with api_on(seeded_demo.url) as api:
        after = api.data(query)
    assert after == before


def test_records_are_created_in_file_order(demo_api: Api) -> None:
    data = demo_api.data("{ leads(orderBy: [{id: ASC}]) { code } employees { email } }")
    assert [r["code"] for r in data["leads"]] == [r["code"] for r in seed_records("Lead")]
    assert [r["email"] for r in data["employees"]] == [r["email"] for r in seed_records("Employee")]


def test_seed_refs_name_the_target_by_its_unique_key(demo_api: Api) -> None:
    lead = seed_records("Lead")[0]
    data = demo_api.data(
        """{ leads(limit: 1) { complex { slug } apartment { code } customer { email }
                               manager { email } } }"""
    )
    assert data["leads"] == [
        {
            "complex": {"slug": lead["complex"]},
            "apartment": {"code": lead["apartment"]},
            "customer": {"email": lead["customer"]},
            "manager": {"email": lead["manager"]},
        }
    ]


def test_seed_order_puts_targets_before_the_records_that_point_at_them() -> None:
    order = seed_order(build_catalog(demo_spec()))
    assert sorted(order) == sorted(demo_spec().seed)
    before = [
        ("Partner", "Complex"),
        ("Complex", "Building"),
        ("Building", "Apartment"),
        ("Apartment", "Lead"),
        ("Employee", "Customer"),
        ("Customer", "Lead"),
        ("Lead", "Touchpoint"),
        ("Lead", "Deal"),
        ("MortgageProgram", "Deal"),
    ]
    for target, source in before:
        assert order.index(target) < order.index(source), (target, source)


# -- a small project --------------------------------------------------------------------------------


def shop_seed(project: Path, text: str) -> None:
    (project / "spec/seed/shop.yaml").write_text(textwrap.dedent(text), encoding="utf-8")


def test_a_changed_seed_value_updates_its_record(shop: Path, database: str) -> None:
    spec = load_spec(shop)
    migrate(spec, resolve(database))
    first = seed(spec, database)
    assert (first.created, first.updated) == ({"Category": 1, "Product": 2}, {})
    shop_seed(
        shop,
        """\
        seed:
          Category:
            - {name: Tea}
          Product:
            - {name: Green tea, category: tea, price: 13.00, status: on_sale}
            - {name: Black tea, category: tea, price: 9.90, status: on_sale}
            - {name: White tea, category: tea, price: 21.10}
        """,
    )
    spec = load_spec(shop)
    second = seed(spec, database)
    assert (second.created, second.updated, second.unchanged) == (
        {"Product": 1},
        {"Product": 1},
        {"Category": 1, "Product": 1},
    )
    with api_on(database, shop, spec) as api:
        data = api.data("{ products { slug price status category { slug } } }")
    assert data["products"] == [
        {"slug": "green-tea", "price": "13.00", "status": "on_sale", "category": {"slug": "tea"}},
        {"slug": "black-tea", "price": "9.90", "status": "on_sale", "category": {"slug": "tea"}},
        {"slug": "white-tea", "price": "21.10", "status": "draft", "category": {"slug": "tea"}},
    ]


def test_a_seed_record_the_database_refuses_names_the_record_and_rolls_back(
    shop: Path, database: str, write_spec: WriteSpec
) -> None:
    """The spec check vets seed values; what only the database knows (a unique value another
    record already has) fails the whole seed, naming the record and where its entity is."""
    entities = SHOP["spec/entities/shop.yaml"].replace(
        "      price: {type: money, min: 0}",
        "      price: {type: money, min: 0}\n      code: {type: string, unique: true}",
    )
    write_spec(
        shop,
        {
            "spec/entities/shop.yaml": entities,
            "spec/seed/shop.yaml": """\
                seed:
                  Category:
                    - {name: Tea}
                  Product:
                    - {name: Green tea, category: tea, code: X-1}
            """,
        },
    )
    spec = load_spec(shop)
    migrate(spec, resolve(database))
    with api_on(database, shop, spec) as api:
        coffee = api.data('mutation { createCategory(input: {name: "Coffee"}) { id } }')
        api.data(
            "mutation($input: ProductCreateInput!) { createProduct(input: $input) { id } }",
            {
                "input": {
                    "name": "Espresso",
                    "category": coffee["createCategory"]["id"],
                    "code": "X-1",
                }
            },
        )
    with pytest.raises(EcospecError) as failed:
        seed(spec, database)
    location = spec.entities["Product"].location
    assert str(failed.value) == (
        f"seed.Product[0]: code 'X-1' is taken by another Product ({location})"
    )
    assert str(location).startswith("spec/entities/shop.yaml:")
    with api_on(database, shop, spec) as api:
        assert api.data("{ categories { name } }") == {"categories": [{"name": "Coffee"}]}
