#!/usr/bin/env node
// ONNX Runtime's own profiler on a model: 12 runs (1 thread, batch BATCH (16), all graph optimisations),
// the trace written as PREFIX_<date>.json (per-node kernel times; benchmarks/onnx_profile.sh sums them).
//   NODE_PATH=.deps/onnxruntime/node_modules node scripts/onnx_profile.js M.onnx PREFIX [BATCH]
'use strict';
const ort = require('onnxruntime-node');
async function main() {
  const [path, prefix, batch = '16'] = process.argv.slice(2);
  const s = await ort.InferenceSession.create(path, {intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all', enableProfiling: true, profileFilePrefix: prefix});
  const dims = s.inputMetadata[0].shape.map((d, i) => i === 0 ? Number(batch) : Number(d));
  const data = Float32Array.from({length: dims.reduce((a, b) => a * b, 1)}, () => Math.random());
  const feeds = {[s.inputNames[0]]: new ort.Tensor('float32', data, dims)};
  for (let i = 0; i < 12; ++i) await s.run(feeds);
  s.endProfiling();
}
main();
