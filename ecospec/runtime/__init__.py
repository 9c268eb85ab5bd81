"""Run time: the Starlette app, GraphQL, database, auth, the write path, the bus, the dev server,
and the capabilities (ecospec.runtime.capabilities)."""
