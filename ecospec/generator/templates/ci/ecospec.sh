#!/bin/sh
# Ecospec in CI: check the spec, the API contract and the migration plan; then build the sites from
# production data, publish them and purge the pages that changed from the CDN's cache.
#
#   sh ci/ecospec.sh          every step
#   sh ci/ecospec.sh check    the checks alone (for merge requests): spec, API contract, migration plan
#
# Settings come from the environment (CI variables); an empty one counts as unset:
#   ECOSPEC                  the ecospec command (default: ecospec)
#   ECOSPEC_PROJECT          the project folder, holding spec/ (default: the current folder)
#   ECOSPEC_DATABASE_URL     the database the migration plan is made against, a staging copy of
#                            production; also the one the sites are built from when
#                            ECOSPEC_RUNTIME_URL is unset (default: the spec's own `database`)
#   ECOSPEC_RUNTIME_URL      the GraphQL endpoint of the production runtime to build the sites from
#                            (https://api.example.com/graphql)
#   ECOSPEC_SITES_DIR        where the sites are built; keep it from one run to the next (a CI
#                            cache) so that only the pages that changed are rewritten and purged
#                            (default: sites in the project)
#   ECOSPEC_CHANGED_LIST     the file the changed pages' URLs are written to, one a line
#                            (default: .ecospec/changed-urls.txt in the project)
#   ECOSPEC_PUBLISH_COMMAND  a shell command that publishes the built sites, given their folder as $1
#                            (default: copy them into ECOSPEC_PUBLISH_DIR)
#   ECOSPEC_PUBLISH_DIR      the folder the default publishing copies the sites into, in place of
#                            what it held (default: public in the project)
#   ECOSPEC_PURGE_COMMAND    a shell command that purges the changed URLs, given the list's file as
#                            $1 and the list on standard input
#   ECOSPEC_PURGE_URL        else, an address the list is POSTed to (text/plain, one URL a line)
#
# Each step says what it runs; the first one that fails stops the script, with its exit code.
set -eu

ecospec=${ECOSPEC:-ecospec}
project=${ECOSPEC_PROJECT:-.}
sites=${ECOSPEC_SITES_DIR:-$project/sites}
changed=${ECOSPEC_CHANGED_LIST:-$project/.ecospec/changed-urls.txt}
publish_dir=${ECOSPEC_PUBLISH_DIR:-$project/public}

say() {
    printf '==> %s\n' "$*"
}

# begin NAME WHAT: say which step starts and what it runs.
begin() {
    step=$1
    say "$1: $2"
}

# COMMAND || failed: end the script with the exit code of the step's command, naming the step.
failed() {
    status=$?
    printf 'ecospec.sh: step "%s" failed (exit %s)\n' "$step" "$status" >&2
    exit "$status"
}

# copy_sites SITES FOLDER: the default publishing. The folder's content is replaced, not merged,
# so that pages removed from the sites go; the build's manifest is not published.
copy_sites() {
    rm -rf "$2.new" &&
        cp -R "$1" "$2.new" &&
        rm -f "$2.new/.ecospec-manifest.json" &&
        rm -rf "$2" &&
        mv "$2.new" "$2"
}

# post_list URL FILE: POST the changed URLs, one a line, as text/plain.
post_list() {
    "${PYTHON:-python3}" - "$1" "$2" <<'PY'
import sys
import urllib.request

url, path = sys.argv[1], sys.argv[2]
with open(path, "rb") as listed:
    body = listed.read()
request = urllib.request.Request(
    url, data=body, method="POST", headers={"Content-Type": "text/plain; charset=utf-8"}
)
try:
    with urllib.request.urlopen(request, timeout=60) as answer:
        print(f"{url}: {answer.status} {answer.reason}")
except Exception as exc:
    sys.exit(f"{url}: {exc}")
PY
}

mode=${1:-all}
case $mode in
    all | check) ;;
    *)
        echo "usage: sh ci/ecospec.sh [check]" >&2
        exit 2
        ;;
esac

begin "check the spec" "$ecospec check --strict --project $project"
"$ecospec" check --strict --project "$project" || failed

begin "check schema.graphql against the spec" "$ecospec schema --check --project $project"
"$ecospec" schema --check --project "$project" || failed

if [ -n "${ECOSPEC_DATABASE_URL:-}" ]; then
    begin "plan the migration of ECOSPEC_DATABASE_URL" "$ecospec migrate --plan --project $project"
else
    begin "plan the migration of the spec's own database (ECOSPEC_DATABASE_URL is unset)" \
        "$ecospec migrate --plan --project $project"
fi
"$ecospec" migrate --plan --project "$project" || failed

if [ "$mode" = check ]; then
    say "the checks passed"
    exit 0
fi

mkdir -p "$(dirname "$changed")"
if [ -n "${ECOSPEC_RUNTIME_URL:-}" ]; then
    begin "build the sites from the runtime" \
        "$ecospec build --project $project --out $sites --changed-list $changed --from $ECOSPEC_RUNTIME_URL"
    "$ecospec" build --project "$project" --out "$sites" --changed-list "$changed" \
        --from "$ECOSPEC_RUNTIME_URL" || failed
else
    if [ -n "${ECOSPEC_DATABASE_URL:-}" ]; then
        begin "build the sites from ECOSPEC_DATABASE_URL" \
            "$ecospec build --project $project --out $sites --changed-list $changed"
    else
        begin "build the sites from the spec's own database (ECOSPEC_DATABASE_URL is unset)" \
            "$ecospec build --project $project --out $sites --changed-list $changed"
    fi
    "$ecospec" build --project "$project" --out "$sites" --changed-list "$changed" || failed
fi
pages=$(wc -l <"$changed" | tr -d ' ')
say "$pages changed URLs, listed in $changed"

if [ -n "${ECOSPEC_PUBLISH_COMMAND:-}" ]; then
    begin "publish the sites" "$ECOSPEC_PUBLISH_COMMAND (\$1: $sites)"
    sh -c "$ECOSPEC_PUBLISH_COMMAND" ecospec-publish "$sites" || failed
else
    begin "publish the sites" "copy $sites into $publish_dir"
    copy_sites "$sites" "$publish_dir" || failed
fi

if [ "$pages" = 0 ]; then
    say "no page changed: nothing to purge"
elif [ -n "${ECOSPEC_PURGE_COMMAND:-}" ]; then
    begin "purge the changed URLs" "$ECOSPEC_PURGE_COMMAND (\$1: $changed, and on standard input)"
    sh -c "$ECOSPEC_PURGE_COMMAND" ecospec-purge "$changed" <"$changed" || failed
elif [ -n "${ECOSPEC_PURGE_URL:-}" ]; then
    begin "purge the changed URLs" "POST $changed to $ECOSPEC_PURGE_URL"
    post_list "$ECOSPEC_PURGE_URL" "$changed" || failed
else
    say "no ECOSPEC_PURGE_COMMAND or ECOSPEC_PURGE_URL: nothing purged"
fi
say "done"
