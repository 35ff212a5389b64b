// The reference side of the GPT-2 tokenizer cross-check: encodes a file with
// the npm package gpt-3-encoder (OpenAI's encoder.py ported to JavaScript)
// and decodes the ids back. Prints one JSON object:
//   {"ids": [...], "decoded": "..."}
// The file is read as bytes and decoded the way node decodes UTF-8 (invalid
// sequences become U+FFFD), so invalid input is handled as in any node
// program that reads text.
//
//   node tests/tokenizer/gpt2-encode.js PACKAGE_DIR FILE
// PACKAGE_DIR is .../node_modules/gpt-3-encoder (see
// scripts/fetch-gpt2-tokenizer.sh).
'use strict';
const fs = require('fs');
const path = require('path');

if (process.argv.length !== 4) {
  console.error('usage: node gpt2-encode.js PACKAGE_DIR FILE');
  process.exit(2);
}
const encoder = require(path.resolve(process.argv[2], 'Encoder.js'));
const text = fs.readFileSync(process.argv[3]).toString('utf8');
const ids = encoder.encode(text);
for (const id of ids) {
  if (!Number.isInteger(id)) {
    console.error('gpt-3-encoder produced a non-integer id: ' + id);
    process.exit(1);
  }
}
process.stdout.write(JSON.stringify({ids, decoded: encoder.decode(ids)}) +
                     '\n');
