"""The in-browser query page at GET /graphql: GraphiQL when its assets are installed
(`make graphiql`), else a small page of our own that runs queries with fetch."""

from __future__ import annotations

import html
from pathlib import Path

ASSETS = Path(__file__).parent / "static" / "graphiql"
FILES = (
    "react.production.min.js",
    "react-dom.production.min.js",
    "graphiql.min.js",
    "graphiql.min.css",
)


def assets_installed() -> bool:
    return all((ASSETS / name).is_file() for name in FILES)


def graphiql_page(title: str) -> str:
    safe = html.escape(title)
    if assets_installed():
        return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{safe} — GraphiQL</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/graphql/assets/graphiql.min.css">
<style>html,body,#graphiql{{height:100%;margin:0}}</style></head>
<body><div id="graphiql"></div>
<script src="/graphql/assets/react.production.min.js"></script>
<script src="/graphql/assets/react-dom.production.min.js"></script>
<script src="/graphql/assets/graphiql.min.js"></script>
<script>
const fetcher = GraphiQL.createFetcher({{url: "/graphql"}});
ReactDOM.createRoot(document.getElementById("graphiql")).render(
  React.createElement(GraphiQL, {{fetcher, defaultEditorToolbarTabs: "variables"}}));
</script></body></html>
"""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{safe} — GraphQL</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{{font:15px/1.4 system-ui,sans-serif;margin:0;display:grid;grid-template-rows:auto 1fr;height:100vh}}
header{{padding:.6rem 1rem;background:#1d3557;color:#fff}}
main{{display:grid;grid-template-columns:1fr 1fr;gap:1px;background:#ccc;min-height:0}}
section{{background:#fff;display:flex;flex-direction:column;min-height:0}}
label{{padding:.4rem .8rem;font-weight:600}}
textarea,pre{{flex:1;margin:0;padding:.8rem;font:13px/1.4 ui-monospace,monospace;border:0;overflow:auto}}
button{{margin:.4rem .8rem;padding:.4rem 1rem;font-weight:600;background:#1d3557;color:#fff;border:0;border-radius:4px;cursor:pointer}}
</style></head>
<body><header>{safe} — GraphQL <small>(POST /graphql; install GraphiQL with <code>make graphiql</code>)</small></header>
<main><section><label for="q">Query</label>
<textarea id="q" spellcheck="false">{{ __schema {{ queryType {{ fields {{ name }} }} }} }}</textarea>
<label for="v">Variables (JSON)</label><textarea id="v" spellcheck="false" style="flex:.3">{{}}</textarea>
<button id="run" type="button">Run</button></section>
<section><label for="out">Result</label><pre id="out" aria-live="polite"></pre></section></main>
<script>
document.getElementById("run").onclick = async () => {{
  const out = document.getElementById("out");
  let variables = {{}};
  try {{ variables = JSON.parse(document.getElementById("v").value || "{{}}"); }}
  catch (e) {{ out.textContent = "Variables are not JSON: " + e.message; return; }}
  const r = await fetch("/graphql", {{method: "POST", headers: {{"content-type": "application/json"}},
    body: JSON.stringify({{query: document.getElementById("q").value, variables}})}});
  out.textContent = JSON.stringify(await r.json(), null, 2);
}};
</script></body></html>
"""
