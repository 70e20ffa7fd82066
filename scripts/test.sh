#!/usr/bin/env bash
# Every test: build, lint and format checks, unit and end-to-end tests (node's runner, real pwsh and
# Samba), Pester in real pwsh, and the short reliability suite. Ends with one line:
# "tests: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
passed=0
failed=0
log=$(mktemp -d)

stage() { echo; echo "=== $1"; }

stage build
npm run --silent build || { echo "tests: 0 passed, 1 failed"; exit 1; }

stage lint
if npm run --silent lint; then passed=$((passed + 1)); else failed=$((failed + 1)); fi

count_node() { # node's spec reporter ends with "ℹ pass N" / "ℹ fail N"
  local file=$1
  passed=$((passed + $(grep -aoP '^ℹ pass \K\d+' "$file" | tail -1 || echo 0)))
  failed=$((failed + $(grep -aoP '^ℹ fail \K\d+' "$file" | tail -1 || echo 0)))
}

stage "unit tests"
node --test --test-reporter=spec dist/test/unit/ 2>&1 | tee "$log/unit.txt"
unit_rc=${PIPESTATUS[0]}
count_node "$log/unit.txt"

stage "end-to-end tests (real pwsh, real daemon)"
node --test --test-concurrency=1 --test-reporter=spec dist/test/e2e/ 2>&1 | tee "$log/e2e.txt"
e2e_rc=${PIPESTATUS[0]}
count_node "$log/e2e.txt"

stage "Pester (real pwsh)"
bash scripts/pwsh.sh -NonInteractive -File test/pester/Invoke-Tests.ps1 2>&1 | tee "$log/pester.txt"
pester_rc=${PIPESTATUS[0]}
passed=$((passed + $(grep -aoP '^Pester: \K\d+(?= passed)' "$log/pester.txt" | tail -1 || echo 0)))
failed=$((failed + $(grep -aoP '^Pester: \d+ passed, \K\d+' "$log/pester.txt" | tail -1 || echo 0)))

stage "reliability suite, short form"
node dist/scripts/reliability.js --short 2>&1 | tee "$log/reliability.txt"
reliability_rc=${PIPESTATUS[0]}
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
rm -rf "$log"
((failed == 0))
