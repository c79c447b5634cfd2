#!/usr/bin/env bash
# Runs every test project and ends with one summary line, "N passed, N failed[, N skipped]",
# added up over all projects, so CI can read it.
set -uo pipefail
cd "$(dirname "$0")/../.."

log=$(mktemp)
trap 'rm -f "$log"' EXIT
export CSIDRIVER_BIN="${CSIDRIVER_BIN:-$PWD/out/csidriver/csidriver}"
export FORMATION_DEMO_BIN="${FORMATION_DEMO_BIN:-$PWD/out/demo/formation-demo}"
dotnet test CsiDriver.sln -c Release --nologo 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

# VSTest prints one line per test assembly: "Passed!  - Failed: 0, Passed: 12, Skipped: 0, Total: 12, ..."
read -r passed failed skipped < <(sed 's/\x1b\[[0-9;]*m//g' "$log" | awk '
  /(Passed|Failed)! +- +Failed:/ {
    for (i = 1; i <= NF; i++) {
      if ($i == "Failed:")  f += $(i+1)
      if ($i == "Passed:")  p += $(i+1)
      if ($i == "Skipped:") s += $(i+1)
    }
  }
  END { printf "%d %d %d\n", p, f, s }' | tr -d ',')
line="$passed passed, $failed failed"
[ "$skipped" -gt 0 ] && line="$line, $skipped skipped"
echo
echo "$line"
if [ "$status" -ne 0 ] || [ "$failed" -gt 0 ] || [ "$passed" -eq 0 ]; then
  exit 1
fi
