#!/usr/bin/env bash
# Runs every test project, the conformance suite a second time in split mode (the classes that
# carry the Split trait, the driver as a cluster node beside `csidriver controller`), then the
# csi-sanity conformance specs against the built driver in single and split mode, and ends with
# one summary line, "N passed, N failed[, N skipped]", added up over all of them, so
# CI can read it. The run fails when anything failed, when a test project ran no test (it would
# otherwise vanish from the total), or when csi-sanity could not be run.
# SKIP_SANITY=1 leaves csi-sanity out, and says so in the summary (never set in CI).
# The fault-injection probes append one line of figures each (cases, failures) to the file
# FORMATION_FAULT_FIGURES names; they are printed together before the summary.
set -uo pipefail
cd "$(dirname "$0")/../.."

log=$(mktemp)
sanity_log=$(mktemp)
export FORMATION_FAULT_FIGURES=$(mktemp)
trap 'rm -f "$log" "$sanity_log" "$FORMATION_FAULT_FIGURES"' EXIT
export CSIDRIVER_BIN="${CSIDRIVER_BIN:-$PWD/out/csidriver/csidriver}"
export FORMATION_DEMO_BIN="${FORMATION_DEMO_BIN:-$PWD/out/demo/formation-demo}"
dotnet test CsiDriver.sln -c Release --nologo 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
problems=()

echo
echo "=== conformance suite (split mode) ==="
split_log=$(mktemp)
FORMATION_CONFORMANCE=split dotnet test tests/CsiDriver.ConformanceTests -c Release --no-build --nologo \
  --filter "Split=runs&SplitSkips!=ControllerPublish" 2>&1 | tee "$split_log"
split_status=${PIPESTATUS[0]}
[ "$split_status" -ne 0 ] && status=$split_status
split_line=$(sed 's/\x1b\[[0-9;]*m//g' "$split_log" | grep -E "(Passed|Failed)! +- +Failed:" | tail -n1)
[ -n "$split_line" ] || problems+=("the split-mode conformance run gave no result")
cat "$split_log" >>"$log"
rm -f "$split_log"

# VSTest prints one line per test assembly:
#   "Passed!  - Failed: 0, Passed: 12, Skipped: 0, Total: 12, Duration: 1 s - X.Tests.dll (net10.0)"
clean_log=$(sed 's/\x1b\[[0-9;]*m//g' "$log")
read -r passed failed skipped < <(awk '
  /(Passed|Failed)! +- +Failed:/ {
    for (i = 1; i <= NF; i++) {
      if ($i == "Failed:")  f += $(i+1)
      if ($i == "Passed:")  p += $(i+1)
      if ($i == "Skipped:") s += $(i+1)
    }
  }
  END { printf "%d %d %d\n", p, f, s }' <<<"$clean_log" | tr -d ',')

# Every test project (one referencing Microsoft.NET.Test.Sdk) must report at least one test.
for project in $(grep -l 'Microsoft.NET.Test.Sdk' tests/*/*.csproj); do
  assembly=$(basename "$project" .csproj).dll
  total=$(grep -E "(Passed|Failed)! +- +Failed:.* - $assembly " <<<"$clean_log" | sed -E 's/.*Total: *([0-9]+).*/\1/' | head -n1)
  if [ -z "$total" ] || [ "$total" -eq 0 ]; then
    problems+=("$assembly ran no test")
  fi
done

# csi-sanity, once per mode. Its last line:
# "SUCCESS! -- 91 Passed | 0 Failed | 1 Pending | 0 Skipped". A pending spec is one csi-test
# itself marks as not ready; it counts as skipped here.
sanity_lines=()
for mode in single split; do
  if [ "${SKIP_SANITY:-}" = 1 ]; then
    sanity_lines+=("csi-sanity ($mode): NOT RUN (SKIP_SANITY=1)")
    continue
  fi
  echo
  echo "=== csi-sanity ($mode mode) ==="
  tests/scripts/sanity.sh "$mode" 2>&1 | tee "$sanity_log"
  sanity_status=${PIPESTATUS[0]}
  summary=$(grep -E -- '-- [0-9]+ Passed \| [0-9]+ Failed' "$sanity_log" | tail -n1)
  if [ "$sanity_status" -eq 2 ]; then
    sanity_lines+=("csi-sanity ($mode): NOT RUN (not found on PATH nor at ../shared/tools/csi-sanity)")
    problems+=("csi-sanity was not found")
  elif [ -z "$summary" ]; then
    sanity_lines+=("csi-sanity ($mode): NO RESULT (exit $sanity_status; see its output above)")
    problems+=("csi-sanity ($mode) gave no result")
  else
    sanity_lines+=("csi-sanity ($mode): ${summary#*-- }")
    read -r sp sf spend ss < <(sed -E 's/.*-- ([0-9]+) Passed \| ([0-9]+) Failed \| ([0-9]+) Pending \| ([0-9]+) Skipped.*/\1 \2 \3 \4/' <<<"$summary")
    passed=$((passed + sp)); failed=$((failed + sf)); skipped=$((skipped + spend + ss))
    [ "$sanity_status" -ne 0 ] && [ "$sf" -eq 0 ] && problems+=("csi-sanity ($mode) exited $sanity_status")
  fi
done

echo
echo "=== fault-injection suite (cases, failures found) ==="
sort "$FORMATION_FAULT_FIGURES"
echo
echo "conformance suite (split mode): ${split_line:-no result}"
printf '%s\n' "${sanity_lines[@]}"
for problem in "${problems[@]}"; do echo "FAILED: $problem"; done
failed=$((failed + ${#problems[@]}))
line="$passed passed, $failed failed"
[ "$skipped" -gt 0 ] && line="$line, $skipped skipped"
echo "$line"
if [ "$status" -ne 0 ] || [ "$failed" -gt 0 ] || [ "$passed" -eq 0 ]; then
  exit 1
fi
