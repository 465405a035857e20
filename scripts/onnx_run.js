#!/usr/bin/env node
// Runs an ONNX model in ONNX Runtime (CPU) on a tensor from a safetensors file and writes the
// output as a safetensors file: the independent runtime the ONNX export is checked against.
//
//   NODE_PATH=.deps/onnxruntime/node_modules node scripts/onnx_run.js M.onnx IN.safetensors \
//       OUT.safetensors [--threads N] [--key NAME]
//
// IN holds one float32 tensor (or several: --key picks one), fed to the model's first input;
// OUT gets the first output under the name "logits". scripts/setup.sh installs onnxruntime-node
// (npm install --ignore-scripts: its package ships the CPU library).
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

function fail(message) {
  process.stderr.write(`error: ${message}\n`);
  process.exit(2);
}

// safetensors: u64 little-endian header length, JSON header, then the raw little-endian data.
function readSafetensors(path) {
  const buf = fs.readFileSync(path);
  if (buf.length < 8) fail(`${path}: not a safetensors file (shorter than its header length)`);
  const n = Number(buf.readBigUInt64LE(0));
  if (8 + n > buf.length) fail(`${path}: truncated header`);
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  const tensors = {};
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (t.dtype !== 'F32') fail(`${path}: tensor ${name} is ${t.dtype}; only F32 inputs are supported`);
    const [begin, end] = t.data_offsets;
    const bytes = buf.subarray(8 + n + begin, 8 + n + end);
    const data = new Float32Array(bytes.byteLength / 4);
    Buffer.from(data.buffer).set(bytes);  // a copy: the file's data need not be 4-byte aligned
    tensors[name] = { shape: t.shape, data };
  }
  return tensors;
}

function writeSafetensors(path, name, shape, data) {
  const header = { [name]: { dtype: 'F32', shape, data_offsets: [0, data.byteLength] } };
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);  // align the data, as the format recommends
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const tmp = `${path}.tmp.${process.pid}`;
  fs.writeFileSync(tmp, Buffer.concat([len, Buffer.from(json), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
  fs.renameSync(tmp, path);
}

async function main() {
  const args = process.argv.slice(2);
  const flag = (name, fallback) => {
    const i = args.indexOf(name);
    if (i < 0) return fallback;
    const value = args[i + 1];
    args.splice(i, 2);
    return value;
  };
  const threads = Number(flag('--threads', '1'));
  const key = flag('--key', null);
  if (args.length !== 3 || !(threads >= 1)) fail('usage: onnx_run.js M.onnx IN.safetensors OUT.safetensors [--threads N] [--key NAME]');
  const [modelPath, inPath, outPath] = args;

  const inputs = readSafetensors(inPath);
  const names = Object.keys(inputs);
  const chosen = key !== null ? key : names.length === 1 ? names[0] : null;
  if (chosen === null || !(chosen in inputs)) fail(`${inPath}: choose the input tensor with --key (has ${names.join(', ')})`);

  const session = await ort.InferenceSession.create(modelPath, {
    intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const x = inputs[chosen];
  const results = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', x.data, x.shape) });
  const y = results[session.outputNames[0]];
  writeSafetensors(outPath, 'logits', y.dims.map(Number), y.data);
}

main().catch((e) => fail(e.message.split('\n')[0]));
