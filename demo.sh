#!/usr/bin/env bash
# Sets up jaild on this machine (pinned interpreters, release build) and runs the examples in
# real jails, printing each report. Run as root: jails map to an unprivileged uid range and get
# their own cgroups.
set -euo pipefail
cd "$(dirname "$0")"

bash interpreters/install.sh
cargo build --release --workspace
jailctl=./target/release/jailctl

run() {
    echo
    echo "\$ jailctl $*"
    "$jailctl" "$@" || echo "(exit status $?)"
}

run run examples/fib.py --input '{"n": 30}'
run run examples/hello.js
run run examples/word_count.ts --input @examples/data.json
echo 'result = sum(input["xs"])' > /tmp/jaild-demo-sum.py
echo
echo "\$ echo 'result = sum(input[\"xs\"])' | jailctl run --lang python - --input '{\"xs\":[1,2,3]}'"
echo 'result = sum(input["xs"])' | "$jailctl" run --lang python - --input '{"xs":[1,2,3]}'
rm -f /tmp/jaild-demo-sum.py
echo
echo "\$ jailctl run examples/escape.py   # a script that tries to get out"
"$jailctl" run examples/escape.py || echo "(exit status $? = security_violation)"
