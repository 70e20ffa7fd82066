#!/usr/bin/env bash
# Every test, on a fresh clone and a fresh machine alike: installs what the tests need (or stops at
# once naming it), the npm packages when they are absent or stale, then build, lint and format
# checks, unit and end-to-end tests (node's runner, real pwsh and Samba), Pester in real pwsh, and
# the short reliability suite. No test can wait forever on a missing or dead part: every node test
# has a time limit, every Pester file and the reliability suite too. Ends with one line:
# "tests: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
TEST_TIMEOUT_MS=600000 # one node test (a whole describe block counts as one)
PESTER_FILE_TIMEOUT=20m
RELIABILITY_TIMEOUT=25m
passed=0
failed=0
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

stage() { echo; echo "=== $1"; }

stage "what the tests need"
bash scripts/install-test-deps.sh || exit 1
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund || { echo "npm ci failed: see above; run 'npm ci' again once the npm registry is reachable"; exit 1; }
fi

stage build
npm run --silent build || { echo "tests: 0 passed, 1 failed"; exit 1; }

stage lint
if npm run --silent lint; then passed=$((passed + 1)); else failed=$((failed + 1)); fi

count_node() { # node's spec reporter ends with "ℹ pass N" / "ℹ fail N"
  local file=$1
  passed=$((passed + $(grep -aoP '^ℹ pass \K\d+' "$file" | tail -1 || echo 0)))
  failed=$((failed + $(grep -aoP '^ℹ fail \K\d+' "$file" | tail -1 || echo 0)))
}
node_tests() { # --test-force-exit: a file whose test timed out still ends, whatever it left running
  node --test --test-timeout=$TEST_TIMEOUT_MS --test-force-exit --test-reporter=spec "$@" 2>&1
}

stage "unit tests"
node_tests dist/test/unit/ | tee "$log/unit.txt"
unit_rc=${PIPESTATUS[0]}
count_node "$log/unit.txt"

stage "end-to-end tests (real pwsh, real daemon)"
node_tests --test-concurrency=1 dist/test/e2e/ | tee "$log/e2e.txt"
e2e_rc=${PIPESTATUS[0]}
count_node "$log/e2e.txt"

stage "Pester (real pwsh), one file at a time, $PESTER_FILE_TIMEOUT each at most"
pester_rc=0
for file in test/pester/*.Tests.ps1; do
  timeout --kill-after=30s "$PESTER_FILE_TIMEOUT" bash scripts/pwsh.sh -NonInteractive \
    -File test/pester/Invoke-Tests.ps1 -Path "$file" 2>&1 | tee "$log/pester.txt"
  rc=${PIPESTATUS[0]}
  if ((rc == 124 || rc == 137)); then
    echo "Pester: $file did not finish within $PESTER_FILE_TIMEOUT and was stopped (pwsh, a daemon or Samba it waited on hung)"
    failed=$((failed + 1))
  else
    passed=$((passed + $(grep -aoP '^Pester: \K\d+(?= passed)' "$log/pester.txt" | tail -1 || echo 0)))
    failed=$((failed + $(grep -aoP '^Pester: \d+ passed, \K\d+' "$log/pester.txt" | tail -1 || echo 0)))
  fi
  ((rc == 0)) || pester_rc=$rc
done

stage "reliability suite, short form, $RELIABILITY_TIMEOUT at most"
timeout --kill-after=30s "$RELIABILITY_TIMEOUT" node dist/scripts/reliability.js --short 2>&1 | tee "$log/reliability.txt"
reliability_rc=${PIPESTATUS[0]}
((reliability_rc == 124)) && echo "reliability: the suite did not finish within $RELIABILITY_TIMEOUT and was stopped"
if ((reliability_rc == 0)) && grep -aq '^RELIABILITY lost=0 leaked=0 ' "$log/reliability.txt"; then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
fi

for rc in $unit_rc $e2e_rc $pester_rc; do
  if ((rc != 0)) && ((failed == 0)); then failed=1; fi
done
echo
echo "tests: $passed passed, $failed failed"
((failed == 0))
