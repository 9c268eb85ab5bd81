#!/usr/bin/env bash
# Installs GraphiQL's browser files (and React's) from the npm registry into runtime/static/graphiql.
# Optional: without them, GET /graphql serves a small built-in query page instead.
set -euo pipefail
dest="$(cd "$(dirname "$0")" && pwd)/graphiql"
if [ -f "$dest/graphiql.min.js" ]; then exit 0; fi
if ! command -v npm >/dev/null 2>&1; then
  echo "npm not found: GraphiQL not installed (the built-in query page is used)" >&2
  exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent graphiql@3.8.3 react@18.3.1 react-dom@18.3.1 >/dev/null)
for f in "$work"/*.tgz; do tar xzf "$f" -C "$work" && mv "$work/package" "$work/$(basename "$f" .tgz)"; done
mkdir -p "$dest"
cp "$work"/react-18.3.1/umd/react.production.min.js "$dest/"
cp "$work"/react-dom-18.3.1/umd/react-dom.production.min.js "$dest/"
cp "$work"/graphiql-3.8.3/graphiql.min.js "$work"/graphiql-3.8.3/graphiql.min.css "$dest/"
echo "GraphiQL installed in $dest"
