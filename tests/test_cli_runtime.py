"""The runtime's commands (migrate, seed, serve's start-up checks) and which database they use, run
in process through `cli.main` on SQLite and PostgreSQL, and once through the installed script."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from dbs import SHOP, WriteSpec, resolve
from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from ecospec.cli import main
from ecospec.generator.loader import load_spec
from ecospec.runtime.database import database_url, sqlite_file, sync_engine

pytest_plugins = ["dbs"]

ENV = "ECOSPEC_DATABASE_URL"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def shown(url: str) -> str:
    return resolve(url).render_as_string(hide_password=True)


def tables(url: str) -> set[str]:
    engine = sync_engine(resolve(url))
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names())
    finally:
        engine.dispose()


def drop_price(shop: Path, write_spec: WriteSpec) -> None:
    """The shop without its price field (in the entity and in the seed)."""
    seed = SHOP["spec/seed/shop.yaml"]
    write_spec(
        shop,
        {
            "spec/entities/shop.yaml": SHOP["spec/entities/shop.yaml"].replace(
                "      price: {type: money, min: 0}\n", ""
            ),
            "spec/seed/shop.yaml": seed.replace(", price: 12.50", "").replace(", price: 9.90", ""),
        },
    )


@pytest.fixture
def using(database: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The `database` of this test, given to the commands as ECOSPEC_DATABASE_URL."""
    monkeypatch.setenv(ENV, database)
    return database


def test_migrate_plan_applies_nothing(
    capsys: pytest.CaptureFixture[str], shop: Path, using: str
) -> None:
    code, out, err = run(capsys, "migrate", "--plan", "--project", str(shop))
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == f"plan ({shown(using)}): 6 tables and 3 indexes created"
    assert "  + spec/entities/shop.yaml:3:5: create table category" in lines
    assert "  + spec/entities/shop.yaml:8:5: create table product" in lines
    assert "  + spec/entities/shop.yaml:8:5: create index ix_product_category_id" in lines
    assert len(lines) == 1 + 2 + 3 + 1  # Ecospec's own tables are one line
    assert not {"category", "product"} & tables(using)


def test_migrate_applies_then_is_up_to_date(
    capsys: pytest.CaptureFixture[str], shop: Path, using: str
) -> None:
    code, out, _ = run(capsys, "migrate", "--project", str(shop))
    assert (code, out) == (0, f"applied ({shown(using)}): 6 tables and 3 indexes created\n")
    assert {"category", "product"} <= tables(using)
    assert run(capsys, "migrate", "--project", str(shop)) == (
        0,
        f"{shown(using)}: up to date\n",
        "",
    )
    assert run(capsys, "migrate", "--plan", "--project", str(shop))[1] == (
        f"{shown(using)}: up to date\n"
    )


def test_migrate_refuses_data_loss_until_allowed(
    capsys: pytest.CaptureFixture[str], shop: Path, using: str, write_spec: WriteSpec
) -> None:
    assert run(capsys, "migrate", "--project", str(shop))[0] == 0
    assert run(capsys, "seed", "--project", str(shop))[0] == 0
    drop_price(shop, write_spec)
    code, out, err = run(capsys, "migrate", "--project", str(shop))
    assert (code, out) == (1, "")
    assert err == (
        "ecospec: refusing changes that would lose data (run `ecospec migrate --allow-data-loss`"
        " to apply them):\n  spec/entities/shop.yaml:8:5: drop column product.price"
        " (2 records with a value)\n"
    )
    code, out, err = run(capsys, "migrate", "--plan", "--project", str(shop))
    assert (code, err) == (1, "")
    assert out.splitlines() == [
        f"plan ({shown(using)}): 1 column dropped",
        "  ! spec/entities/shop.yaml:8:5: drop column product.price (2 records with a value)",
        "1 of these would be refused (marked !)",
    ]
    assert run(capsys, "migrate", "--plan", "--allow-data-loss", "--project", str(shop))[0] == 0

    code, out, err = run(capsys, "migrate", "--allow-data-loss", "--project", str(shop))
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[:2] == [
        f"applied ({shown(using)}): 1 column dropped",
        "  ! spec/entities/shop.yaml:8:5: drop column product.price (2 records with a value)",
    ]
    database = sqlite_file(resolve(using))
    if database is not None:
        assert lines[2].startswith(f"backup of the database before the change: {database}.")
        backup = Path(lines[2].split(": ", 1)[1])
        assert backup.is_file() and backup.suffix == ".bak"
    else:
        assert len(lines) == 2


def test_migrate_verbose_lists_every_change_applied(
    capsys: pytest.CaptureFixture[str], shop: Path, using: str, write_spec: WriteSpec
) -> None:
    assert run(capsys, "migrate", "--project", str(shop))[0] == 0
    entities = SHOP["spec/entities/shop.yaml"].replace(
        "      price: {type: money, min: 0}\n",
        "      price: {type: money, min: 0}\n"
        "      stock: {type: int, min: 0}\n"
        "      origin: {type: string, max_length: 40, index: true}\n",
    )
    write_spec(shop, {"spec/entities/shop.yaml": entities})
    code, out, err = run(capsys, "migrate", "-v", "--project", str(shop))
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"applied ({shown(using)}): 2 columns and 1 check added; 1 index created",
        "  + spec/entities/shop.yaml:13:14: add column product.stock",
        "  + spec/entities/shop.yaml:14:15: add column product.origin",
        "  + spec/entities/shop.yaml:8:5: create index ix_product_origin",
        '  + spec/entities/shop.yaml:13:14: add check "stock" >= 0 on product',
    ]


def test_migrate_plan_refuses_what_cannot_be_made_even_with_data_loss_allowed(
    capsys: pytest.CaptureFixture[str], shop: Path, using: str, write_spec: WriteSpec
) -> None:
    assert run(capsys, "seed", "--project", str(shop))[0] == 0
    entities = SHOP["spec/entities/shop.yaml"].replace(
        "      price: {type: money, min: 0}\n",
        "      price: {type: money, min: 0}\n      origin: {type: string, required: true}\n",
    )
    write_spec(shop, {"spec/entities/shop.yaml": entities})
    (shop / "spec/seed/shop.yaml").unlink()  # its records lack the new field
    code, out, err = run(capsys, "migrate", "--plan", "--allow-data-loss", "--project", str(shop))
    assert (code, err) == (1, "")
    assert out.splitlines() == [
        f"plan ({shown(using)}): 1 column added",
        "  ! spec/entities/shop.yaml:13:15: add required column product.origin"
        " — 2 records would have no value; give the field a default",
        "1 of these would be refused (marked !)",
    ]


def test_seed_is_idempotent(capsys: pytest.CaptureFixture[str], shop: Path, using: str) -> None:
    assert run(capsys, "seed", "--project", str(shop)) == (
        0,
        "seed: 3 created, 0 updated, 0 unchanged\n",
        "",
    )
    assert run(capsys, "seed", "--project", str(shop)) == (
        0,
        "seed: 0 created, 0 updated, 3 unchanged\n",
        "",
    )


def test_serve_refuses_to_start_on_a_database_that_needs_more_than_additions(
    capsys: pytest.CaptureFixture[str], shop: Path, using: str, write_spec: WriteSpec
) -> None:
    assert run(capsys, "seed", "--project", str(shop))[0] == 0
    drop_price(shop, write_spec)
    code, out, err = run(capsys, "serve", "--project", str(shop), "--port", "1")
    assert (code, out) == (1, "")
    assert err == (
        "ecospec: the database needs changes that are not additive; review them with"
        " `ecospec migrate --plan`:\n  spec/entities/shop.yaml:8:5: drop column product.price"
        " (2 records with a value)\n"
    )


@pytest.mark.parametrize(
    "url, message",
    [
        (
            "nonsense",
            "ecospec: 'nonsense' is not a database URL (sqlite:///path.db or postgresql://…)\n",
        ),
        ("mysql://db/shop", "ecospec: unsupported database 'mysql': use sqlite or postgresql\n"),
    ],
)
def test_a_bad_database_url_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
    shop: Path,
    monkeypatch: pytest.MonkeyPatch,
    url: str,
    message: str,
) -> None:
    monkeypatch.setenv(ENV, url)
    for command in ("migrate", "seed"):
        assert run(capsys, command, "--project", str(shop)) == (2, "", message)


# -- which database --------------------------------------------------------------------------------


def test_the_environment_wins_over_the_spec(
    shop: Path, write_spec: WriteSpec, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    write_spec(
        shop,
        {"spec/ecosystem.yaml": SHOP["spec/ecosystem.yaml"] + "database: sqlite:///data/shop.db\n"},
    )
    spec = load_spec(shop)
    monkeypatch.delenv(ENV, raising=False)
    assert database_url(spec, shop) == make_url(f"sqlite:///{(shop / 'data/shop.db').resolve()}")
    monkeypatch.setenv(ENV, f"sqlite:///{tmp_path / 'elsewhere.db'}")
    assert database_url(spec, shop) == make_url(f"sqlite:///{tmp_path / 'elsewhere.db'}")


def test_without_a_url_the_database_is_var_ecosystem_db(
    shop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV, raising=False)
    url = database_url(load_spec(shop), shop)
    assert url.database == str((shop / "var/shop.db").resolve())
    assert url.drivername == "sqlite"


def test_a_postgresql_url_keeps_its_options(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "postgres://u:secret@db:5433/shop?options=-csearch_path%3Dtenant_1")
    url = database_url(load_spec(shop), shop)
    assert url.drivername == "postgresql+psycopg"
    assert (url.host, url.port, url.database, url.password) == ("db", 5433, "shop", "secret")
    assert url.query == {"options": "-csearch_path=tenant_1"}
    assert "secret" not in url.render_as_string(hide_password=True)


# -- the installed command ---------------------------------------------------------------------------


def test_the_installed_command_migrates_and_seeds(ecospec: Path, shop: Path, database: str) -> None:
    env = {**os.environ, ENV: database}
    migrate = subprocess.run(
        [str(ecospec), "migrate", "--project", str(shop)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert (migrate.returncode, migrate.stderr) == (0, "")
    seed = subprocess.run(
        [str(ecospec), "seed", "--project", str(shop)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert (seed.returncode, seed.stdout, seed.stderr) == (
        0,
        "seed: 3 created, 0 updated, 0 unchanged\n",
        "",
    )
