#!/usr/bin/env node
// Idle-connection client (grpc-js) for the interop tests: calls formation.test.Echo/Say, stays
// idle for the given milliseconds while watching the channel's state, calls again, and prints
// one JSON object. A server that closed the idle connection shows as a READY -> IDLE transition,
// the event that makes the CSI sidecars (csi-lib-utils) exit.
'use strict';

const { grpc, echoClient } = require('./echo-proto');

const [address, idleArgument] = process.argv.slice(2);
const idleMs = Number(idleArgument);
if (!address || !address.startsWith('unix:') || !(idleMs > 0)) {
  console.error('usage: node idle-client.js unix:///path/to/socket IDLE_MS');
  process.exit(2);
}

const client = echoClient(address);
const channel = client.getChannel();

function say(text) {
  return new Promise((resolve, reject) => {
    client.Say({ text }, { deadline: new Date(Date.now() + 10000) }, (err, reply) => (err ? reject(err) : resolve(reply.text)));
  });
}

const transitions = [];
let watching = true;
function watch(state) {
  channel.watchConnectivityState(state, Infinity, () => {
    const next = channel.getConnectivityState(false);
    if (!watching) return;
    transitions.push({ from: grpc.connectivityState[state], to: grpc.connectivityState[next] });
    watch(next);
  });
}

async function main() {
  const first = await say('idle one');
  watch(channel.getConnectivityState(false));
  await new Promise((resolve) => setTimeout(resolve, idleMs));
  watching = false;
  const second = await say('idle two');
  console.log(JSON.stringify({ first, second, transitions }));
  client.close();
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
