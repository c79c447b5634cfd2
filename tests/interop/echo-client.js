#!/usr/bin/env node
// Independent gRPC client (grpc-js) for the interop tests: calls formation.test.Echo on the
// server at the address given as argument (unix:///path), prints one JSON object with what it
// saw, and exits 1 if anything differs from what the test service is specified to answer.
'use strict';

const { grpc, echoClient } = require('./echo-proto');

const address = process.argv[2];
if (!address || !address.startsWith('unix:')) {
  console.error('usage: node echo-client.js unix:///path/to/socket');
  process.exit(2);
}

const client = echoClient(address);
const deadline = () => new Date(Date.now() + 10000);

const results = {};
const mismatches = [];
function expect(name, actual, expected) {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) {
    mismatches.push({ check: name, actual, expected });
  }
}

function unary(method, request, metadata = new grpc.Metadata(), callDeadline = deadline()) {
  return new Promise((resolve) => {
    client[method](request, metadata, { deadline: callDeadline }, (err, reply) =>
      resolve(err ? { code: err.code, details: err.details } : { code: 0, reply }));
  });
}

function serverStreaming(request) {
  return new Promise((resolve) => {
    const replies = [];
    const call = client.Count(request, { deadline: deadline() });
    call.on('data', (reply) => replies.push(reply));
    call.on('error', (err) => resolve({ code: err.code, details: err.details, replies }));
    call.on('status', (status) => { if (status.code === 0) resolve({ code: 0, replies }); });
  });
}

function duplex(words) {
  return new Promise((resolve) => {
    const replies = [];
    const call = client.Chat({ deadline: deadline() });
    call.on('data', (reply) => {
      replies.push(reply);
      // Write the next word only after the previous answer: proves the streams interleave.
      if (replies.length < words.length) call.write({ text: words[replies.length] });
      else call.end();
    });
    call.on('error', (err) => resolve({ code: err.code, details: err.details, replies }));
    call.on('status', (status) => { if (status.code === 0) resolve({ code: 0, replies }); });
    call.write({ text: words[0] });
  });
}

function unknownMethod() {
  return new Promise((resolve) => {
    const identity = (x) => x;
    client.makeUnaryRequest('/formation.test.Echo/DoesNotExist', identity, identity, Buffer.alloc(0),
      { deadline: deadline() }, (err) => resolve(err ? { code: err.code, details: err.details } : { code: 0 }));
  });
}

async function main() {
  results.unary = await unary('Say', { text: 'hello from grpc-js' });
  expect('unary.code', results.unary.code, grpc.status.OK);
  expect('unary.text', results.unary.reply && results.unary.reply.text, 'hello from grpc-js');

  const message = 'volume 100% full: größer ✓';
  results.error = await unary('Fail', { code: grpc.status.FAILED_PRECONDITION, message });
  expect('error.code', results.error.code, grpc.status.FAILED_PRECONDITION);
  expect('error.details', results.error.details, message);

  results.unknownMethod = await unknownMethod();
  expect('unknownMethod.code', results.unknownMethod.code, grpc.status.UNIMPLEMENTED);

  results.unbound = await unary('Unbound', { text: 'x' });
  expect('unbound.code', results.unbound.code, grpc.status.UNIMPLEMENTED);

  results.serverStreaming = await serverStreaming({ text: 'tick', count: 5 });
  expect('serverStreaming.code', results.serverStreaming.code, grpc.status.OK);
  expect('serverStreaming.indexes', results.serverStreaming.replies.map((r) => r.index), [0, 1, 2, 3, 4]);

  results.duplex = await duplex(['alpha', 'beta', 'gamma']);
  expect('duplex.code', results.duplex.code, grpc.status.OK);
  expect('duplex.texts', results.duplex.replies.map((r) => r.text), ['ALPHA', 'BETA', 'GAMMA']);

  // "wait" blocks until cancelled: the call must end at the deadline grpc-js sends. Its metadata
  // is checked by the test on the server side.
  const metadata = new grpc.Metadata();
  metadata.set('x-client', 'grpc-js');
  metadata.set('x-blob-bin', Buffer.from([0, 1, 2, 254, 255]));
  results.deadline = await unary('Say', { text: 'wait' }, metadata, new Date(Date.now() + 500));
  expect('deadline.code', results.deadline.code, grpc.status.DEADLINE_EXCEEDED);

  results.mismatches = mismatches;
  console.log(JSON.stringify(results));
  client.close();
  process.exit(mismatches.length === 0 ? 0 : 1);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
