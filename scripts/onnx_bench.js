#!/usr/bin/env node
// Throughput of ONNX models in ONNX Runtime (CPU), timed interleaved: every round times each
// model in turn (every other round in reverse order), so machine noise lands on all of them
// alike; prints the median over rounds.
//
//   NODE_PATH=.deps/onnxruntime/node_modules node scripts/onnx_bench.js A.onnx [B.onnx ...] \
//       [--batch 16] [--threads 1] [--rounds 3] [--seconds 3] [--warmup 1]
//
// Output: one JSON object per model on stdout, {"model", "batch", "threads", "img_per_s",
// "ms_per_batch", "rounds": [img/s of each round]}. Sessions use all graph optimisations and
// sequential execution, as a deployment would. The input is random, of the model's input shape
// with its batch dimension set to --batch.
'use strict';
const ort = require('onnxruntime-node');

function fail(message) {
  process.stderr.write(`error: ${message}\n`);
  process.exit(2);
}

function options(args) {
  const o = { batch: 16, threads: 1, rounds: 3, seconds: 3, warmup: 1, models: [] };
  for (let i = 0; i < args.length; ++i) {
    const a = args[i];
    if (!a.startsWith('--')) { o.models.push(a); continue; }
    const key = a.slice(2), value = Number(args[++i]);
    if (!(key in o) || key === 'models') fail(`unknown flag ${a}`);
    if (!(value > 0) || !Number.isFinite(value)) fail(`${a} needs a positive number`);
    o[key] = value;
  }
  if (o.models.length === 0) fail('usage: onnx_bench.js A.onnx [B.onnx ...] [--batch N] [--threads N] [--rounds N] [--seconds S] [--warmup S]');
  return o;
}

// Runs the session for `seconds`, at least 3 times; returns the batches run and seconds taken.
async function timeFor(session, feeds, seconds) {
  const start = process.hrtime.bigint();
  let runs = 0, elapsed = 0;
  while (runs < 3 || elapsed < seconds) {
    await session.run(feeds);
    ++runs;
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  }
  return { runs, elapsed };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const o = options(process.argv.slice(2));
  const models = [];
  for (const path of o.models) {
    const session = await ort.InferenceSession.create(path, {
      intraOpNumThreads: o.threads, interOpNumThreads: 1, executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
    // The input's shape from the model's metadata (onnxruntime-node >= 1.19), batch replaced.
    const meta = session.inputMetadata && session.inputMetadata[0];
    const dims = meta && meta.shape ? meta.shape.map((d, i) => (i === 0 ? o.batch : Number(d))) : null;
    if (!dims || dims.some((d) => !(d > 0))) fail(`${path}: cannot read the input shape`);
    const data = Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => Math.random() * 2 - 1);
    const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, dims) };
    await timeFor(session, feeds, o.warmup);
    models.push({ path, session, feeds, rounds: [] });
  }
  // Every other round in reverse order, so that neither of two neighbours always runs first.
  for (let r = 0; r < o.rounds; ++r)
    for (const m of r % 2 ? [...models].reverse() : models) {
      const { runs, elapsed } = await timeFor(m.session, m.feeds, o.seconds);
      m.rounds.push((runs * o.batch) / elapsed);
    }
  for (const m of models) {
    const ips = median(m.rounds);
    console.log(JSON.stringify({ model: m.path, batch: o.batch, threads: o.threads, img_per_s: ips,
                                 ms_per_batch: (1000 * o.batch) / ips, rounds: m.rounds }));
  }
}

main().catch((e) => fail(e.message.split('\n')[0]));
