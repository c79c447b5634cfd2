// The formation.test.Echo client the interop scripts share: loads echo.proto (the Rpc tests'
// own) and opens an insecure channel to a unix:// address.
'use strict';

const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const protoPath = path.join(__dirname, '..', 'CsiDriver.Rpc.Tests', 'Protos', 'echo.proto');

function echoClient(address) {
  const definition = protoLoader.loadSync(protoPath, { keepCase: false, longs: Number, defaults: true });
  const Echo = grpc.loadPackageDefinition(definition).formation.test.Echo;
  return new Echo(address, grpc.credentials.createInsecure());
}

module.exports = { grpc, echoClient };
