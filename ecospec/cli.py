"""The `ecospec` command: parses arguments, calls one function, maps errors to exit codes."""

from __future__ import annotations

import argparse
import asyncio
import difflib
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from sqlalchemy.exc import DBAPIError

from ecospec.generator.errors import EcospecError, SpecError, UsageError

Command = Callable[[argparse.Namespace], int]
SCHEMA_FILE = "schema.graphql"


def _count(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _check(args: argparse.Namespace) -> int:
    from ecospec.generator.loader import load_project

    result = load_project(args.project)
    failing = result.diagnostics if args.strict else result.errors
    ok = not failing and result.spec is not None
    if args.format == "json":
        report = {
            "ok": ok,
            "files": result.files,
            "errors": [d.to_json() for d in result.errors],
            "warnings": [d.to_json() for d in result.warnings],
        }
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return 0 if ok else 1
    for diagnostic in result.diagnostics:
        print(diagnostic)
    spec = result.spec
    if ok and spec is not None:
        print(
            f"{spec.ecosystem}: {_count(len(result.files), 'file')}, "
            f"{len(spec.entities)} {'entity' if len(spec.entities) == 1 else 'entities'}, "
            f"{_count(len(spec.roles), 'role')}, {_count(len(spec.landings), 'landing')}: OK"
        )
        return 0
    errors, warnings = len(result.errors), len(result.warnings)
    strict = " (warnings are errors with --strict)" if args.strict and warnings else ""
    print(f"{_count(errors, 'error')}, {_count(warnings, 'warning')}{strict}")
    return 1


def _jsonschema(args: argparse.Namespace) -> int:
    from ecospec.generator.jsonschema import spec_file_schema_text

    sys.stdout.write(spec_file_schema_text())
    return 0


def _init(args: argparse.Namespace) -> int:
    from ecospec.generator.scaffold import scaffold, untracked_in

    target: Path = args.dir if args.dir is not None else args.project
    done = scaffold(target, name=args.name)
    print(f"created {done.ecosystem} in {done.folder}:")
    for path in done.written:
        print(f"  {path}")
    for path in done.kept:
        print(f"kept {path}, which was there already")
    top = untracked_in(done.folder)
    if top is not None:
        print(
            f"ecospec: warning: {done.folder} is inside the git work tree {top}, where its files "
            f"are untracked: `git add` them there, or create the project elsewhere (CI reads "
            ".github/ and .gitlab-ci.yml only at the top of a repository)",
            file=sys.stderr,
        )
    print(f"next: ecospec check --project {json.dumps(str(target), ensure_ascii=False)}")
    return 0


def _schema(args: argparse.Namespace) -> int:
    from ecospec.generator.api import schema_sdl
    from ecospec.generator.loader import load_spec

    spec = load_spec(args.project)
    if args.role is not None and args.role not in spec.roles:
        raise UsageError(f"unknown role '{args.role}' (roles: {', '.join(spec.roles)})")
    text = schema_sdl(spec, args.role)
    if args.role is not None and args.check:
        raise UsageError("--check compares schema.graphql, the whole API; it takes no --role")
    if args.role is not None and args.out is None:
        sys.stdout.write(text)  # a role's view is for reading, not the committed contract
        return 0
    path: Path = args.out or args.project / SCHEMA_FILE
    if args.check:
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current == text:
            print(f"{path}: up to date")
            return 0
        diff = difflib.unified_diff(
            current.splitlines(keepends=True), text.splitlines(keepends=True), str(path), "spec/"
        )
        sys.stdout.writelines(diff)
        print(f"{path} is out of date with spec/: run `ecospec schema`")
        return 1
    if str(path) == "-":
        sys.stdout.write(text)
        return 0
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path}")
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from ecospec.generator.loader import load_spec
    from ecospec.runtime.database import database_url
    from ecospec.runtime.migrate import migrate
    from ecospec.runtime.migrationplan import summary

    spec = load_spec(args.project)
    url = database_url(spec, args.project)
    plan = migrate(spec, url, plan_only=args.plan, allow_data_loss=args.allow_data_loss)
    shown = url.render_as_string(hide_password=True)
    if not plan.changes:
        print(f"{shown}: up to date")
        return 0
    print(f"{'plan' if args.plan else 'applied'} ({shown}): {summary(plan.changes)}")
    for change in plan.changes:
        lost = change.data_loss or change.blocked
        if args.plan or args.verbose or lost:  # what lost data is always told
            print(f"  {'!' if lost else '+'} {change}")
    if plan.backup:
        print(f"backup of the database before the change: {plan.backup}")
    refused = plan.blocked + ([] if args.allow_data_loss else plan.data_loss)
    if args.plan and refused:
        print(f"{len(refused)} of these would be refused (marked !)")
        return 1
    return 0


def _seed(args: argparse.Namespace) -> int:
    from ecospec.runtime.ecosystem import Ecosystem
    from ecospec.runtime.migrate import migrate_additive
    from ecospec.runtime.seed import load_seed

    eco = Ecosystem.build(args.project)
    migrate_additive(eco.spec, eco.url)
    _log_progress()

    async def run() -> None:
        try:
            report = await load_seed(eco.engine, eco.writer)
        finally:
            await eco.close()
        created = sum(report.created.values())
        updated = sum(report.updated.values())
        unchanged = sum(report.unchanged.values())
        print(f"seed: {created} created, {updated} updated, {unchanged} unchanged")

    asyncio.run(run())
    return 0


def _explain(args: argparse.Namespace) -> int:
    from ecospec.generator.loader import load_spec
    from ecospec.runtime.credentials import parse_claims
    from ecospec.runtime.explain import explain

    query = args.query
    if query == "-":
        query = sys.stdin.read()
    elif query.endswith((".graphql", ".gql")) and Path(query).is_file():
        query = Path(query).read_text(encoding="utf-8")
    variables = json.loads(args.variables) if args.variables else {}
    spec = load_spec(args.project)
    statements = explain(
        spec, args.project, query, variables, role=args.role, claims=parse_claims(args.claim)
    )
    if args.format == "json":
        print(json.dumps({"statements": statements}, ensure_ascii=False, indent=2))
    else:
        for i, statement in enumerate(statements, 1):
            print(f"-- statement {i}\n{statement};\n")
    return 0


def _token(args: argparse.Namespace) -> int:
    from ecospec.generator.loader import load_spec
    from ecospec.runtime.credentials import mint_token, parse_claims
    from ecospec.runtime.ecosystem import is_production

    spec = load_spec(args.project)
    print(mint_token(spec, args.role, parse_claims(args.claim), args.ttl, is_production()))
    return 0


def _apikey(args: argparse.Namespace) -> int:
    from ecospec.generator.loader import load_spec
    from ecospec.runtime.credentials import create_key, list_keys, parse_claims, revoke_key
    from ecospec.runtime.database import database_url, sync_engine
    from ecospec.runtime.migrate import migrate_additive

    spec = load_spec(args.project)
    url = database_url(spec, args.project)
    migrate_additive(spec, url)
    engine = sync_engine(url)
    try:
        if args.action == "create":
            if not args.role:
                raise UsageError("apikey create: --role is required")
            key = create_key(engine, spec, args.role, parse_claims(args.claim), args.name)
            print(key)
            print("keep it now: only its hash is stored", file=sys.stderr)
        elif args.action == "list":
            for info in list_keys(engine):
                state = f"revoked {info.revoked_at}" if info.revoked_at else "active"
                claims = " ".join(f"{k}={v}" for k, v in info.claims.items())
                used = info.last_used_at or "never"
                print(
                    f"{info.id}  {info.role:<12} {claims:<24} {state}  last used {used}  {info.name or ''}"
                )
        else:
            if not args.id:
                raise UsageError("apikey revoke: give the key's id (see `ecospec apikey list`)")
            revoke_key(engine, args.id)
            print(f"revoked {args.id}")
    finally:
        engine.dispose()
    return 0


def _positive(text: str) -> int:
    """An argparse type: a whole number of at least one."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _build(args: argparse.Namespace) -> int:
    from ecospec.generator.blocks import load_blocks
    from ecospec.generator.build import build_site, progress_bar
    from ecospec.generator.loader import load_spec
    from ecospec.generator.parallel import MIN_PAGES, default_workers
    from ecospec.runtime.ecosystem import Ecosystem
    from ecospec.runtime.migrate import migrate_additive
    from ecospec.runtime.sitesource import HttpSource

    spec = load_spec(args.project)
    library = load_blocks(args.project)
    if library.diagnostics:
        from ecospec.generator.errors import SpecError

        raise SpecError(library.diagnostics)
    out: Path = args.out or args.project / "sites"
    workers: int = args.jobs or default_workers()
    # asked for, helpers render however few pages there are; by default, only where they pay
    min_parallel = 1 if args.jobs else MIN_PAGES

    async def run() -> int:
        if args.from_url:
            source = HttpSource(args.from_url)
            try:
                report = await build_site(
                    spec,
                    library,
                    source,
                    args.project,
                    out,
                    progress=progress_bar(),
                    workers=workers,
                    min_parallel=min_parallel,
                )
            finally:
                await source.close()
        else:
            eco = Ecosystem.build(args.project, spec)
            migrate_additive(eco.spec, eco.url)
            try:
                report = await build_site(
                    spec,
                    library,
                    eco.source(),
                    args.project,
                    out,
                    progress=progress_bar(),
                    workers=workers,
                    min_parallel=min_parallel,
                )
            finally:
                await eco.close()
        pages_written = len([f for f in report.written if f.endswith(".html")])
        print(
            f"built {report.pages} pages into {out}: {pages_written} written, "
            f"{report.unchanged} unchanged, {len(report.removed)} removed"
        )
        if args.changed_list:
            args.changed_list.write_text(
                "".join(u + "\n" for u in report.changed_urls), encoding="utf-8"
            )
        return 0

    return asyncio.run(run())


def _worker(args: argparse.Namespace) -> int:
    import signal

    from ecospec.runtime.ecosystem import Ecosystem
    from ecospec.runtime.migrate import migrate_additive

    eco = Ecosystem.build(args.project, sites=args.sites)
    migrate_additive(eco.spec, eco.url)
    _log_progress()

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        dispatcher = eco.dispatcher()
        names = ", ".join(s.name for s in dispatcher.subscribers) or "none"
        print(f"worker for {eco.spec.ecosystem}: delivering to {names}", flush=True)
        try:
            await dispatcher.run(stop)
        finally:
            await eco.close()

    asyncio.run(run())
    return 0


def _dev(args: argparse.Namespace) -> int:
    import uvicorn

    from ecospec.generator.loader import load_spec
    from ecospec.runtime.app import create_app
    from ecospec.runtime.database import database_url
    from ecospec.runtime.dev import DevServer
    from ecospec.runtime.migrate import migrate_additive

    spec = load_spec(args.project)
    for change in migrate_additive(spec, database_url(spec, args.project)).changes:
        print(f"migrated: {change}")
    app = create_app(args.project, production=False, dev=DevServer(args.project))
    print(
        f"developing {spec.ecosystem} on http://{args.host}:{args.port}/ (GraphQL at /graphql); watching spec/, blocks/, static/"
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def _log_progress() -> None:
    """Ecospec's own messages (the sites kept up to date, deliveries retried) on stderr, from
    INFO up; other libraries' from WARNING up."""
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(name)s: %(message)s")
    logging.getLogger("ecospec").setLevel(logging.INFO)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from ecospec.generator.loader import load_spec
    from ecospec.runtime.app import create_app
    from ecospec.runtime.auth import weak_secret_problem
    from ecospec.runtime.database import database_url
    from ecospec.runtime.ecosystem import is_production
    from ecospec.runtime.migrate import migrate_additive

    spec = load_spec(args.project)
    if is_production():
        problem = weak_secret_problem(spec)
        if problem:
            raise UsageError(f"refusing to serve in production: {problem}")
    plan = migrate_additive(spec, database_url(spec, args.project))
    for change in plan.changes:
        print(f"migrated: {change}")
    app = create_app(args.project)
    _log_progress()
    print(f"serving {spec.ecosystem} on http://{args.host}:{args.port}/graphql")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--project",
        type=Path,
        default=Path("."),
        metavar="DIR",
        help="the project folder, holding spec/ (default: the current folder)",
    )
    parser = argparse.ArgumentParser(
        prog="ecospec",
        description="Compile a folder of YAML into a GraphQL runtime and landing sites.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    check = commands.add_parser(
        "check", parents=[common], help="validate the spec; exit 1 when it is invalid"
    )
    check.add_argument("--strict", action="store_true", help="treat warnings as errors")
    check.add_argument("--format", choices=["text", "json"], default="text", help="report format")
    check.set_defaults(run=_check)

    jsonschema = commands.add_parser(
        "jsonschema", parents=[common], help="print the JSON Schema of a spec file"
    )
    jsonschema.set_defaults(run=_jsonschema)

    init = commands.add_parser("init", parents=[common], help="scaffold a new ecosystem")
    init.add_argument(
        "dir", type=Path, nargs="?", metavar="DIR", help="the folder to create (default: --project)"
    )
    init.add_argument("--name", help="the ecosystem's name (default: the folder's name)")
    init.set_defaults(run=_init)

    schema = commands.add_parser(
        "schema", parents=[common], help="write schema.graphql, the API contract, from the spec"
    )
    schema.add_argument(
        "--check", action="store_true", help="exit 1 when schema.graphql is out of date"
    )
    schema.add_argument("--role", metavar="R", help="print the schema as this role sees it")
    schema.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="where to write (default: schema.graphql; - for stdout)",
    )
    schema.set_defaults(run=_schema)

    migrate = commands.add_parser(
        "migrate", parents=[common], help="bring the database in line with the spec"
    )
    migrate.add_argument(
        "--plan",
        action="store_true",
        help="list every change, apply nothing; exit 1 if any is refused",
    )
    migrate.add_argument(
        "-v", "--verbose", action="store_true", help="list every change applied, not only counts"
    )
    migrate.add_argument(
        "--allow-data-loss",
        action="store_true",
        help="also apply changes that drop or narrow data (a SQLite file is copied aside first)",
    )
    migrate.set_defaults(run=_migrate)

    seed = commands.add_parser(
        "seed", parents=[common], help="load spec/seed into the database, idempotently"
    )
    seed.set_defaults(run=_seed)

    explain = commands.add_parser(
        "explain", parents=[common], help="print the SQL statements a GraphQL query runs"
    )
    explain.add_argument(
        "query", metavar="QUERY", help="the query text, a .graphql file, or - for stdin"
    )
    explain.add_argument("--variables", metavar="JSON", help="variables of the query, as JSON")
    explain.add_argument("--role", metavar="R", help="compile as this role (default: full access)")
    explain.add_argument(
        "--claim",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a session variable of the role",
    )
    explain.add_argument("--format", choices=["text", "json"], default="text", help="output format")
    explain.set_defaults(run=_explain)

    build = commands.add_parser("build", parents=[common], help="build the landing sites")
    build.add_argument("--out", type=Path, metavar="DIR", help="output folder (default: sites/)")
    build.add_argument(
        "--changed-list",
        type=Path,
        metavar="FILE",
        help="write the URLs of changed pages here (for a CDN purge)",
    )
    build.add_argument(
        "--from",
        dest="from_url",
        metavar="URL",
        help="read data from a running runtime's GraphQL endpoint",
    )
    build.add_argument(
        "--jobs",
        type=_positive,
        metavar="N",
        help="processes rendering pages (default: one per core, from 400 pages to render)",
    )
    build.set_defaults(run=_build)

    token = commands.add_parser(
        "token", parents=[common], help="mint a short-lived development token (never in production)"
    )
    token.add_argument("--role", required=True, metavar="R", help="the token's role")
    token.add_argument(
        "--claim",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a session variable, e.g. id=7",
    )
    token.add_argument(
        "--ttl", type=int, default=3600, metavar="SECONDS", help="lifetime (default 3600)"
    )
    token.set_defaults(run=_token)

    apikey = commands.add_parser(
        "apikey",
        parents=[common],
        help="create, list or revoke API keys for partners and integrators",
    )
    apikey.add_argument("action", choices=["create", "list", "revoke"], help="what to do")
    apikey.add_argument("id", nargs="?", metavar="ID", help="the key to revoke")
    apikey.add_argument("--role", metavar="R", help="the key's role (create)")
    apikey.add_argument(
        "--claim",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a session variable (create)",
    )
    apikey.add_argument("--name", help="who the key is for (create)")
    apikey.set_defaults(run=_apikey)

    worker = commands.add_parser(
        "worker", parents=[common], help="deliver events to the sites and webhooks (beside serve)"
    )
    worker.add_argument(
        "--sites",
        type=Path,
        metavar="DIR",
        help="the built sites to keep up to date (default: sites/)",
    )
    worker.set_defaults(run=_worker)

    dev = commands.add_parser(
        "dev", parents=[common], help="serve with live reload of spec, blocks and pages"
    )
    dev.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)"
    )
    dev.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000)")
    dev.set_defaults(run=_dev)

    serve = commands.add_parser(
        "serve", parents=[common], help="serve GraphQL (and the sites) over HTTP"
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)"
    )
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000)")
    serve.set_defaults(run=_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    run: Command = args.run
    try:
        return run(args)
    except SpecError as exc:
        for diagnostic in exc.diagnostics:
            print(diagnostic, file=sys.stderr)
        return exc.exit_code
    except EcospecError as exc:
        print(f"ecospec: {exc}", file=sys.stderr)
        return exc.exit_code
    except json.JSONDecodeError as exc:
        print(f"ecospec: --variables: not JSON ({exc.msg})", file=sys.stderr)
        return UsageError.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # output cut short by `| head`: exit as a command killed by SIGPIPE
        sys.stderr.close()
        return 141
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        print(f"ecospec: the database failed: {reason}", file=sys.stderr)
        return 1
    except Exception as exc:
        if os.environ.get("ECOSPEC_DEBUG"):
            raise
        print(
            f"ecospec: internal error ({type(exc).__name__}: {exc}); "
            "run again with ECOSPEC_DEBUG=1 for the traceback and report it",
            file=sys.stderr,
        )
        return 70


if __name__ == "__main__":
    sys.exit(main())
