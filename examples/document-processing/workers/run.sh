#!/usr/bin/env bash
# Run the document example on Redis with its eight actors served by a Python or a
# TypeScript worker only (README.md beside this file):
#
#   examples/document-processing/workers/run.sh python|node [troupe run options...]
#
# It installs the worker (Python: a venv under target/document-workers/; Node: `npm install`
# in node/), loads troupe's Redis functions, starts the worker, runs
# `troupe run ../pipeline.json --redis ... --concurrency 0` in the foreground, then stops the
# worker (SIGTERM) and exits with troupe's status. Options after the language go to
# `troupe run` (`--json`, `--input FILE`, ...). Environment: TROUPE_REDIS (default
# redis://127.0.0.1:6379), TROUPE_REDIS_PREFIX (default one of its own per call),
# TROUPE_BIN (default target/release/troupe, from `cargo xtask build`).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
language="${1:-}"
shift || true
redis="${TROUPE_REDIS:-redis://127.0.0.1:6379}"
prefix="${TROUPE_REDIS_PREFIX:-troupe-docs-$$}"
troupe="${TROUPE_BIN:-$root/target/release/troupe}"

if [[ ! -x "$troupe" || ! -f "$root/target/plugins/scatter.wasm" ]]; then
    echo "run.sh: $troupe or target/plugins/ is missing: run \`cargo xtask build\` first" >&2
    exit 1
fi

case "$language" in
python)
    venv="$root/target/document-workers/python-venv"
    [[ -x "$venv/bin/python" ]] || python3 -m venv "$venv" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$root/workers/python" >&2
    worker=("$venv/bin/python" "$here/python/serve.py")
    ;;
node)
    # npm keeps an installed copy of a local package whose version did not change: drop
    # it, so an edited workers/node is what runs.
    rm -rf "$here/node/node_modules/troupe-worker"
    (cd "$here/node" && npm install --no-audit --no-fund --loglevel=error) >&2
    worker=(node --import tsx "$here/node/serve.ts")
    ;;
*)
    echo "usage: $0 python|node [troupe run options...]" >&2
    exit 2
    ;;
esac

# The worker checks that the Redis has troupe's functions before it serves: any troupe
# command on Redis loads them.
"$troupe" status --redis "$redis" --redis-prefix "$prefix" >/dev/null

# Its stdout goes to stderr too: this script's stdout is `troupe run`'s alone (`--json`).
(cd "$here/$language" && exec "${worker[@]}" --redis "$redis" --prefix "$prefix") >&2 &
worker_pid=$!
stop_worker() {
    kill -TERM "$worker_pid" 2>/dev/null || true
    wait "$worker_pid" 2>/dev/null || true
}
trap stop_worker EXIT

input=(--input "$here/../input.json")
for arg in "$@"; do
    [[ "$arg" == --input || "$arg" == --input=* ]] && input=()
done
status=0
"$troupe" run "$here/../pipeline.json" --manifest "$here/troupe.toml" --redis "$redis" --redis-prefix "$prefix" \
    --concurrency 0 "${input[@]}" "$@" || status=$?
exit "$status"
