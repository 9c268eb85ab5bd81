"""Run time: the Starlette app, GraphQL, database, auth, bus, processes and the dev server."""
