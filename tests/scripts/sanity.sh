#!/usr/bin/env bash
# Runs the csi-sanity conformance tool against a fresh csidriver with a temporary data directory
# and temporary mount and staging directories. Usage: sanity.sh [MODE]. MODE "single" (the
# default): one endpoint serves Identity, Controller and Node. A "split" mode (a controller
# endpoint apart from the node's, --csi.controllerendpoint) joins here once `csidriver
# controller` exists. csi-sanity comes from PATH, or else from the shared tools
# folder beside the repository (../shared/tools/csi-sanity). Exits 2 when it is in neither.
# The last line csi-sanity prints is its summary: "N Passed | N Failed | N Pending | N Skipped".
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=${1:-single}
[ "$mode" = single ] || { echo "sanity.sh: unknown mode '$mode' (known: single)" >&2; exit 64; }

sanity=$(command -v csi-sanity || true)
if [ -z "$sanity" ] && [ -x ../shared/tools/csi-sanity ]; then
  sanity=$(realpath ../shared/tools/csi-sanity)
fi
if [ -z "$sanity" ]; then
  echo "csi-sanity NOT FOUND: it is neither on PATH nor at $(realpath -m ../shared/tools/csi-sanity)." >&2
  echo "Put the csi-sanity binary (kubernetes-csi/csi-test) on PATH to run the CSI conformance specs." >&2
  exit 2
fi

bin=${CSIDRIVER_BIN:-out/csidriver/csidriver}
work=$(mktemp -d /tmp/formation-sanity.XXXXXX)
"$bin" serve --endpoint "unix://$work/csi.sock" --node-id sanity-node --data-dir "$work/data" --kubelet-dir "$work" --max-volumes-per-node 4 \
  --log-format text >"$work/driver.log" 2>&1 &
driver=$!
cleanup() {
  kill -TERM "$driver" 2>/dev/null || true
  wait "$driver" 2>/dev/null || true
  if [ "${SANITY_KEEP:-}" = 1 ]; then echo "kept $work (driver log: $work/driver.log)"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# The socket answers before the engine has loaded (calls are UNAVAILABLE until then, and Probe
# says not ready), as a CO would see it; the specs start once the driver logs that it loaded.
for _ in $(seq 1 600); do grep -q "loaded [0-9]* volumes" "$work/driver.log" && break; sleep 0.1; done
grep -q "loaded [0-9]* volumes" "$work/driver.log" || { echo "driver did not become ready; its log:" >&2; cat "$work/driver.log" >&2; exit 1; }

cat >"$work/mutable.yaml" <<'YAML'
consistencyGroup: "sanity-group"
YAML

# The expand size is csi-sanity's default (the test volume's size plus 1 GiB).
echo "csi-sanity: $sanity ($mode mode)"
"$sanity" --csi.endpoint "unix://$work/csi.sock" \
  --csi.mountdir "$work/target" --csi.stagingdir "$work/staging" \
  --csi.testvolumeparameters /dev/null \
  --csi.testvolumemutableparameters "$work/mutable.yaml" \
  --csi.testnodevolumeattachlimit \
  --ginkgo.no-color \
  ${SANITY_ARGS:-}
