#!/usr/bin/env bash
# Runs the csi-sanity conformance tool against a fresh csidriver with a temporary data directory
# and temporary mount and staging directories. Usage: sanity.sh [MODE]. MODE "single" (the
# default): one `csidriver serve` endpoint serves Identity, Controller and Node. MODE "split":
# as in a cluster, `csidriver controller` serves Controller (--csi.controllerendpoint) and a
# `csidriver serve` node registered with it serves Node (--csi.endpoint), joined by the node
# link (mutual TLS with a throwaway CA made here with openssl, on a loopback address of its
# own). csi-sanity comes from PATH, or else from the shared tools
# folder beside the repository (../shared/tools/csi-sanity). Exits 2 when it is in neither.
# The last line csi-sanity prints is its summary: "N Passed | N Failed | N Pending | N Skipped".
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=${1:-single}
case "$mode" in single|split) ;; *) echo "sanity.sh: unknown mode '$mode' (known: single, split)" >&2; exit 64 ;; esac

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
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "${SANITY_KEEP:-}" = 1 ]; then echo "kept $work (logs: $work/*.log)"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# Waits (bounded) until a process's log says something; shows the log if it never does.
await_log() {
  for _ in $(seq 1 600); do grep -q "$2" "$work/$1.log" && return; sleep 0.1; done
  echo "$1 did not say '$2' within 60 s; its log:" >&2; cat "$work/$1.log" >&2; exit 1
}

node_args=()
controller_endpoint=()
if [ "$mode" = split ]; then
  # The node link: one certificate for both ends, carrying the name both check.
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=sanity-node-link-ca \
    -keyout "$work/ca.key" -out "$work/ca.crt" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=formation-node-link \
    -keyout "$work/tls.key" -out "$work/tls.csr" 2>/dev/null
  printf 'subjectAltName=DNS:formation-node-link\nextendedKeyUsage=serverAuth,clientAuth\n' >"$work/ext"
  openssl x509 -req -in "$work/tls.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" -CAcreateserial -days 1 \
    -extfile "$work/ext" -out "$work/tls.crt" 2>/dev/null
  link=(--node-link-cert "$work/tls.crt" --node-link-key "$work/tls.key" --node-link-ca "$work/ca.crt")
  # A loopback address of this run's own, so fixed ports collide with nothing else.
  host="127.$((RANDOM % 200 + 20)).$((RANDOM % 250)).$((RANDOM % 250 + 1))"
  "$bin" controller --endpoint "unix://$work/controller.sock" --node-link-address "$host:7600" "${link[@]}" \
    --log-format text >"$work/controller.log" 2>&1 &
  pids+=($!)
  node_args=(--controller-address "$host:7600" --node-link-address "$host:7601" "${link[@]}")
  controller_endpoint=(--csi.controllerendpoint "unix://$work/controller.sock")
fi
"$bin" serve --endpoint "unix://$work/csi.sock" --node-id sanity-node --data-dir "$work/data" --kubelet-dir "$work" --max-volumes-per-node 4 \
  "${node_args[@]}" --log-format text >"$work/driver.log" 2>&1 &
pids+=($!)

# The socket answers before the engine has loaded (calls are UNAVAILABLE until then, and Probe
# says not ready), as a CO would see it; the specs start once the driver logs that it loaded,
# and in split mode once the node has registered with the controller.
await_log driver "loaded [0-9]* volumes"
[ "$mode" = split ] && await_log driver "registered with the controller"

cat >"$work/mutable.yaml" <<'YAML'
consistencyGroup: "sanity-group"
YAML

# The expand size is csi-sanity's default (the test volume's size plus 1 GiB).
echo "csi-sanity: $sanity ($mode mode)"
"$sanity" --csi.endpoint "unix://$work/csi.sock" "${controller_endpoint[@]}" \
  --csi.mountdir "$work/target" --csi.stagingdir "$work/staging" \
  --csi.testvolumeparameters /dev/null \
  --csi.testvolumemutableparameters "$work/mutable.yaml" \
  --csi.testnodevolumeattachlimit \
  --ginkgo.no-color \
  ${SANITY_ARGS:-}
