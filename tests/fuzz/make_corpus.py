#!/usr/bin/env python3
"""Writes the seed corpora in tests/fuzz/corpus/<target>/ (small valid and near-valid inputs).

Run from anywhere: python3 tests/fuzz/make_corpus.py. The seeds are committed; rerun this only
to regenerate them. The fuzzers add what they find to a scratch copy, never to these folders.
"""
import gzip, json, os, struct, zlib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fuzz", "corpus")


def put(target, name, data):
    os.makedirs(os.path.join(OUT, target), exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(OUT, target, name), "wb") as f:
        f.write(data)


def read(rel):
    with open(os.path.join(ROOT, rel), "rb") as f:
        return f.read()


def compact(rel):
    return json.dumps(json.loads(read(rel)), separators=(",", ":"))


# ---- ArchSpec JSON: an efficientvit candidate, a ViT, and near-valid variants ----------------
evit = json.loads(read("experiments/results/search_fmnist_front/front/cand3024.json"))
vit = json.loads(read("experiments/mpc/vit_7_4_32_mu0.5.json"))
put("arch_spec", "efficientvit.json", json.dumps(evit, separators=(",", ":")))
put("arch_spec", "vit.json", json.dumps(vit, separators=(",", ":")))
put("arch_spec", "preset_name.json", '"m0"')
big = dict(evit, img_size=10**30)
put("arch_spec", "huge_int.json", json.dumps(big))
put("arch_spec", "huge_double.json", json.dumps(evit).replace('"img_size": 28', '"img_size": 1e400'))
put("arch_spec", "null_stage.json", json.dumps(dict(evit, stages=[None])))

# ---- search spaces: the shipped ones ---------------------------------------------------------
for name in ("small", "fmnist", "efficientvit_m"):
    put("search_space", name + ".json", compact("experiments/spaces/%s.json" % name))

# ---- latency tables: a tiny cpu table and a tiny mpc table -----------------------------------
table = json.loads(read("experiments/tables/fmnist_cpu_1t_b16.json"))
table["entries"] = dict(list(table["entries"].items())[:4])
table["networks"] = table["networks"][:1]
put("latency_table", "cpu.json", json.dumps(table, separators=(",", ":")))
costs = json.loads(read("experiments/mpc/crypten_costs.json"))
mpc = {"format": "vitnas-latency-table", "version": 1,
       "device": {"kind": "mpc", "model": "crypten", "threads": 1, "batch": 1,
                  "dtype": "fixed16", "library": "analytic"},
       "entries": {}, "networks": [],
       "mpc": {"costs": costs, "link": {"name": "lan", "bandwidth_mbit_per_s": 3000, "rtt_ms": 0.3},
               "calibration": {"rest_scale": 1.1, "kind_scale": {"softmax": 1, "relu_softmax": 0.9,
                                                                  "scaling": 0.8},
                               "points": 3, "max_rel_error": 0.01}}}
put("latency_table", "mpc.json", json.dumps(mpc, separators=(",", ":")))

# ---- MPC cost tables and measured points -----------------------------------------------------
put("mpc_cost_table", "crypten.json", json.dumps(costs, separators=(",", ":")))
put("measured_points", "mpcvit_cifar10.json", compact("experiments/mpc/mpcvit_cifar10.json"))
put("measured_points", "inline_arch.json", json.dumps(
    {"link": {"bandwidth_mbit_per_s": 400, "rtt_ms": 40},
     "points": [{"label": "v", "arch": vit, "seconds": 3.5}]}, separators=(",", ":")))


# ---- safetensors and checkpoints -------------------------------------------------------------
def safetensors(tensors, metadata=None):
    header, blob = {}, b""
    for name, (dtype, shape, data) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    if metadata is not None:
        header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(h)) + h + blob


f32 = struct.pack("<4f", 1, 2, 3, 4)
put("safetensors", "two.safetensors", safetensors(
    {"a": ("F32", [2, 2], f32), "b": ("I64", [1], struct.pack("<q", 7)), "c": ("U8", [0], b"")},
    {"k": "v"}))
put("safetensors", "scalar_bf16.safetensors", safetensors({"s": ("BF16", [], b"\x80\x3f")}))
put("safetensors", "empty.safetensors", safetensors({}))
meta = {"format": "vitnas-checkpoint/1", "epoch": "3", "step": "120", "seconds": "12.5",
        "loss_scale": "1", "recipe": json.dumps({"lr": 0.001}), "metrics": "[]"}
put("checkpoint", "small.safetensors", safetensors(
    {"model.w": ("F32", [2, 2], f32), "ema.w": ("F32", [2, 2], f32),
     "optim.step": ("I64", [1], struct.pack("<q", 120))}, meta))

# ---- IDX (plain and gzip) and CIFAR batches --------------------------------------------------
images = b"\x00\x00\x08\x03" + struct.pack(">3I", 2, 3, 3) + bytes(range(18))
labels = b"\x00\x00\x08\x01" + struct.pack(">I", 2) + b"\x01\x09"
put("idx", "images.idx", images)
put("idx", "labels.idx", labels)
put("idx", "images.idx.gz", gzip.compress(images, mtime=0))
put("cifar", "cifar10_one_record", b"\x00" + b"\x03" + bytes(3072))
put("cifar", "cifar100_one_record", b"\x01" + b"\x02\x41" + bytes(range(256)) * 12)


# ---- images: a 2x2 PNG (RGBA) and small JPEGs ------------------------------------------------
def png(w, h, color_type, channels):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    raw = b"".join(b"\x00" + bytes((x * 40 + y * 7) & 255 for x in range(w * channels)) for y in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color_type, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


put("image_decode", "rgba.png", b"\x00" + png(2, 2, 6, 4))
put("image_decode", "gray.png", b"\x01" + png(3, 2, 0, 1))
# A small RGB JPEG, copied once from CPython's test data (Lib/test/imghdrdata/python.jpg) with
# the channel byte 0 (3 channels) in front; no JPEG encoder is assumed here. Also as 1 channel.
src = os.path.join(OUT, "image_decode", "python.jpg")
if not os.path.exists(src):
    raise SystemExit("missing %s: \\x00 + CPython's Lib/test/imghdrdata/python.jpg" % src)
put("image_decode", "python_gray.jpg", b"\x01" + open(src, "rb").read()[1:])


# ---- libFuzzer dictionaries for the JSON targets: JSON tokens plus each format's key names and
# enum strings (taken from the seeds and the parsers' messages) -------------------------------
JSON_TOKENS = ['{', '}', '[', ']', ':', ',', '"', 'null', 'true', 'false', '0', '-1', '1e400',
               '-0', '1.5', '4294967296', '18446744073709551616', '2147483648', '\\u0000']


def keys(value, out):
    if isinstance(value, dict):
        for k, v in value.items():
            out.add(k)
            keys(v, out)
    elif isinstance(value, list):
        for v in value:
            keys(v, out)
    elif isinstance(value, str) and len(value) < 40:
        out.add(value)
    return out


def write_dict(target, words):
    os.makedirs(os.path.join(ROOT, "tests", "fuzz", "dict"), exist_ok=True)
    with open(os.path.join(ROOT, "tests", "fuzz", "dict", target + ".dict"), "w") as f:
        for w in JSON_TOKENS + sorted(words):
            f.write('"%s"\n' % w.replace("\\", "\\\\").replace('"', '\\"'))


arch_words = keys(evit, keys(vit, set())) | {"efficientvit", "vit", "softmax", "relu_softmax",
                                            "scaling", "gelu", "relu", "m0", "vit_7_4_32"}
write_dict("arch_spec", arch_words)
space_words = set()
for name in ("small", "fmnist", "efficientvit_m"):
    keys(json.loads(read("experiments/spaces/%s.json" % name)), space_words)
write_dict("search_space", space_words)
write_dict("latency_table", keys(table, keys(mpc, set())) | {"cpu", "cuda", "wan", "network",
                                                            "erf", "tanh"} | arch_words)
write_dict("mpc_cost_table", keys(costs, set()) | {"erf", "tanh", "gelu_form"})
write_dict("measured_points", keys(json.loads(read("experiments/mpc/mpcvit_cifar10.json")),
                                   {"network", "bandwidth_mbit_per_s", "rtt_ms", "lan"})
           | arch_words)
st_words = {"dtype", "shape", "data_offsets", "__metadata__", "F64", "F32", "F16", "BF16", "I64",
            "I32", "I16", "I8", "U8", "BOOL"}
write_dict("safetensors", st_words)
write_dict("checkpoint", st_words | set(meta) | {"vitnas-checkpoint/1", "model.", "ema.", "optim."})
