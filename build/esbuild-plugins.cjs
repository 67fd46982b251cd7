/**
 * esbuild plugins for the function bundles (serverless.yml `custom.esbuild.plugins`, and
 * bench/cold-start.ts so the benchmark measures what is deployed).
 *
 * sdkSchemaKeys: the AWS SDK's generated schema modules (`dist-es/schemas/schemas_0.js`) write
 * trait objects with computed keys (`{ [_xN]: "Filter" }`, where `const _xN = "xmlName"`).
 * esbuild must assume a computed key can run code (toString), so it keeps every schema of the
 * service: the EC2 client alone adds about 540 KiB to a bundle that calls ten of its ~750
 * operations. Rewriting those keys to the string literals they name makes every schema a
 * side-effect-free declaration, and esbuild drops the ones no command of ours reaches.
 * Upstream: aws/aws-sdk-js-v3#7607, fixed at the generator by smithy-lang/smithy-typescript#1889
 * (not released in the SDK versions pinned here). Only keys naming a string constant declared
 * in the same module are rewritten; the values are unchanged (test/unit/esbuild-plugins.test.ts
 * compares every exported schema before and after).
 */
'use strict';

const { readFile } = require('node:fs/promises');

const SCHEMA_MODULE = /[\\/]@aws-sdk[\\/]client-[^\\/]+[\\/]dist-es[\\/]schemas[\\/]schemas_\d+\.js$/;
const STRING_CONSTANT = /^const (_[A-Za-z0-9]+) = ("(?:[^"\\]|\\.)*");$/gm;
const COMPUTED_KEY = /\[(_[A-Za-z0-9]+)\]:/g;

/** The module's source with every computed key that names one of its string constants inlined. */
function inlineSchemaKeys(source) {
  const constants = new Map();
  for (const [, name, literal] of source.matchAll(STRING_CONSTANT)) constants.set(name, literal);
  return source.replace(COMPUTED_KEY, (key, name) => {
    const literal = constants.get(name);
    return literal === undefined ? key : `${literal}:`;
  });
}

/** @type {import('esbuild').Plugin} */
const sdkSchemaKeys = {
  name: 'ami-bakery-sdk-schema-keys',
  setup(build) {
    build.onLoad({ filter: SCHEMA_MODULE }, async (args) => ({
      contents: inlineSchemaKeys(await readFile(args.path, 'utf8')),
      loader: 'js',
    }));
  },
};

module.exports = [sdkSchemaKeys];
module.exports.inlineSchemaKeys = inlineSchemaKeys;
module.exports.sdkSchemaKeys = sdkSchemaKeys;
