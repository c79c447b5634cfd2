#!/usr/bin/env bash
# Runs the csi-sanity conformance tool against a fresh csidriver with a temporary data
# directory and temporary mount and staging directories.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v csi-sanity >/dev/null; then
  cat >&2 <<'MSG'
csi-sanity is not on PATH. It is built from the kubernetes-csi/csi-test repository:
  go install github.com/kubernetes-csi/csi-test/v5/cmd/csi-sanity@latest
then put $(go env GOPATH)/bin on PATH and run `make sanity` again.
MSG
  exit 2
fi

work=$(mktemp -d /tmp/formation-sanity.XXXXXX)
bin=out/csidriver/csidriver
"$bin" serve --endpoint "unix://$work/csi.sock" --node-id sanity-node --data-dir "$work/data" --kubelet-dir "$work" \
  --log-format text >"$work/driver.log" 2>&1 &
driver=$!
cleanup() { kill -TERM "$driver" 2>/dev/null || true; wait "$driver" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

for _ in $(seq 1 100); do [ -S "$work/csi.sock" ] && break; sleep 0.1; done
[ -S "$work/csi.sock" ] || { echo "driver did not start; its log:" >&2; cat "$work/driver.log" >&2; exit 1; }

cat >"$work/mutable.yaml" <<'YAML'
consistencyGroup: "sanity-group"
YAML

csi-sanity --csi.endpoint "$work/csi.sock" \
  --csi.mountdir "$work/target" --csi.stagingdir "$work/staging" \
  --csi.testvolumeparameters /dev/null \
  --csi.testvolumemutableparameters "$work/mutable.yaml" \
  --csi.testvolumeexpandsize 2147483648 \
  ${SANITY_ARGS:-}
