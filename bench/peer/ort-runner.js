// ort-runner.js: the ONNX Runtime side of bench/peer-bench.sh.
//
// Loads the graphs bench/peer/export_onnx.py wrote (DIR/prefill.onnx,
// DIR/decode.onnx, DIR/meta.json) into onnxruntime-node's CPU provider with
// intraOpNumThreads = T, interOpNumThreads = 1, sequential execution and
// graphOptimizationLevel 'all', and either benchmarks them, printing the
// same lines as a tfc executable's --bench / --bench-decode:
//
//   node ort-runner.js DIR --threads T --runs R [--prefill N1,N2,...]
//       [--decode STEPS --decode-prompt P]
//
// or checks them against a tfc executable's dumps (raw little-endian f32):
//
//   node ort-runner.js DIR --threads T --check --tokens "1 2 3"
//       --logits F.bin [--decode-tokens "4 5" --decode-logits G.bin]
//
// F.bin holds the prompt's [N, V] logits (--dump-logits), G.bin the rows of
// a greedy generation (--dump-decode-logits: prefill's last row, then one row
// per fed token). Prints `check: ... ok` or `check: ... FAILED` (exit 1).
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

function die(msg) {
  process.stderr.write(`ort-runner.js: error: ${msg}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const o = {threads: 2, runs: 5, prefill: [], decode: 0, decodePrompt: 128,
             check: false};
  if (argv.length < 1) die('usage: ort-runner.js DIR [options]');
  o.dir = argv[0];
  for (let i = 1; i < argv.length; ++i) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) die(`${a} needs a value`);
      return argv[++i];
    };
    const int = (lo) => {
      const s = val();
      if (!/^[0-9]+$/.test(s) || Number(s) < lo)
        die(`${a}: expected an integer >= ${lo}, found '${s}'`);
      return Number(s);
    };
    if (a === '--threads') o.threads = int(1);
    else if (a === '--runs') o.runs = int(1);
    else if (a === '--prefill')
      o.prefill = val().split(',').map((s) => {
        if (!/^[0-9]+$/.test(s) || Number(s) < 1)
          die(`--prefill: '${s}' is not a token count`);
        return Number(s);
      });
    else if (a === '--decode') o.decode = int(1);
    else if (a === '--decode-prompt') o.decodePrompt = int(1);
    else if (a === '--check') o.check = true;
    else if (a === '--tokens') o.tokens = ids(val());
    else if (a === '--decode-tokens') o.decodeTokens = ids(val());
    else if (a === '--logits') o.logits = val();
    else if (a === '--decode-logits') o.decodeLogits = val();
    else die(`unknown argument '${a}'`);
  }
  return o;
}

function ids(text) {
  const out = text.split(/[\s,]+/).filter((s) => s.length).map(Number);
  if (out.some((x) => !Number.isInteger(x))) die(`bad token ids '${text}'`);
  return out;
}

// The same ids as a tfc executable's --bench-tokens (splitmix64 from the
// seed "tfc benc"), so both engines see the same tokens.
function randomTokens(n, vocab) {
  const mask = (1n << 64n) - 1n;
  let state = 0x7466632062656e63n;
  const out = [];
  for (let i = 0; i < n; ++i) {
    state = (state + 0x9e3779b97f4a7c15n) & mask;
    let z = state;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & mask;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & mask;
    z ^= z >> 31n;
    out.push(Number(z % BigInt(vocab)));
  }
  return out;
}

async function session(o, name) {
  return ort.InferenceSession.create(path.join(o.dir, name), {
    executionProviders: ['cpu'],
    intraOpNumThreads: o.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
}

function idTensor(list) {
  return new ort.Tensor('int64', BigInt64Array.from(list.map(BigInt)),
                        [1, list.length]);
}

// Prefill `list`; returns {logits, present: {name: tensor}}.
async function prefill(sess, meta, list) {
  const out = await sess.run({ids: idTensor(list)});
  return out;
}

// One decode step: feeds the previous outputs' present.* as past.*.
async function step(sess, meta, token, prev) {
  const feeds = {ids: idTensor([token])};
  meta.past.forEach((p, i) => { feeds[p] = prev[meta.present[i]]; });
  return sess.run(feeds);
}

function stats(times) {
  const t = [...times].sort((a, b) => a - b);
  const c = t.length;
  const median = c % 2 ? t[(c - 1) / 2] : (t[c / 2 - 1] + t[c / 2]) / 2;
  return {median, min: t[0], max: t[c - 1]};
}

function now() { return Number(process.hrtime.bigint()) / 1e6; }

async function bench(o, meta) {
  if (o.prefill.length) {
    const sess = await session(o, 'prefill.onnx');
    for (const n of o.prefill) {
      const list = randomTokens(n, meta.vocab);
      await prefill(sess, meta, list); // warm-up
      const times = [];
      for (let r = 0; r < o.runs; ++r) {
        const t0 = now();
        await prefill(sess, meta, list);
        times.push(now() - t0);
      }
      const s = stats(times);
      console.log(`bench: ${n} tokens, ${o.runs} runs: median ` +
                  `${s.median.toFixed(3)} ms, min ${s.min.toFixed(3)} ms, ` +
                  `max ${s.max.toFixed(3)} ms, ` +
                  `${(n * 1000 / s.median).toFixed(1)} tokens/s`);
    }
    await sess.release();
  }
  if (o.decode) {
    // Prefill with the prefill graph (untimed), then one-token steps with
    // the decode graph: each run's figure is its mean ms per token.
    const pre = await session(o, 'prefill.onnx');
    const dec = await session(o, 'decode.onnx');
    const p = o.decodePrompt, steps = o.decode;
    if (p + steps > meta.max_seq)
      die(`--decode ${steps} after ${p} tokens exceeds max_seq ${meta.max_seq}`);
    const list = randomTokens(p + steps, meta.vocab);
    const once = async (count) => {
      let out = await prefill(pre, meta, list.slice(0, p));
      const t0 = now();
      for (let s = 0; s < count; ++s)
        out = await step(dec, meta, list[p + s], out);
      return (now() - t0) / count;
    };
    await once(Math.min(steps, 8)); // warm-up
    const times = [];
    for (let r = 0; r < o.runs; ++r) times.push(await once(steps));
    const s = stats(times);
    console.log(`bench-decode: prompt ${p} tokens, ${steps} steps, ` +
                `${o.runs} runs: median ${s.median.toFixed(3)} ms/token, ` +
                `min ${s.min.toFixed(3)} ms/token, max ${s.max.toFixed(3)} ` +
                `ms/token, ${(1000 / s.median).toFixed(1)} tokens/s`);
    await pre.release();
    await dec.release();
  }
}

function readF32(file) {
  const b = fs.readFileSync(file);
  return new Float32Array(b.buffer, b.byteOffset, b.length / 4);
}

// max |a - b| over max |b|: the error relative to the logits' scale.
function relErr(a, b, what) {
  if (a.length !== b.length)
    throw new Error(`${what}: ORT gives ${a.length} values, tfc ${b.length}`);
  let diff = 0, scale = 0;
  for (let i = 0; i < a.length; ++i) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / Math.max(scale, 1e-30);
}

async function check(o, meta) {
  const tol = 1e-3;
  if (!o.tokens || !o.logits) die('--check needs --tokens and --logits');
  const pre = await session(o, 'prefill.onnx');
  let out = await prefill(pre, meta, o.tokens);
  const errs = [];
  errs.push(['prefill', o.tokens.length,
             relErr(out.logits.data, readF32(o.logits), 'prefill logits')]);
  if (o.decodeTokens && o.decodeLogits) {
    const want = readF32(o.decodeLogits);
    const v = meta.vocab;
    const dec = await session(o, 'decode.onnx');
    const got = new Float32Array(want.length);
    const last = out.logits.data;
    got.set(last.subarray(last.length - v), 0);
    // The dump has one row more than the tokens fed (the prefill's last).
    const rows = want.length / v;
    for (let s = 0; s + 1 < rows; ++s) {
      out = await step(dec, meta, o.decodeTokens[s], out);
      got.set(out.logits.data, (s + 1) * v);
    }
    errs.push(['decode', rows - 1, relErr(got, want, 'decode logits')]);
  }
  let ok = true;
  const parts = errs.map(([what, n, e]) => {
    ok = ok && e <= tol;
    return `${what} ${n} tokens max rel err ${e.toExponential(2)}`;
  });
  console.log(`check: ${meta.name}: ${parts.join(', ')} (tolerance ` +
              `${tol}): ${ok ? 'ok' : 'FAILED'}`);
  if (!ok) process.exit(1);
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const meta = JSON.parse(fs.readFileSync(path.join(o.dir, 'meta.json')));
  if (o.check) await check(o, meta);
  else await bench(o, meta);
}

main().catch((e) => {
  process.stderr.write(`ort-runner.js: error: ${e.message}\n`);
  process.exit(1);
});
