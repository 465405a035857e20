// safetensors files from an independent writer: a few lines of Python with numpy write the bytes
// by hand per the format's spec (length field, JSON header, raw little-endian data), so the
// narrow encodings (F16, BF16, I8, U8, BOOL) are checked against something other than vitnas's
// own writer. Skipped with a warning where no python3 with numpy is installed (scripts/setup.sh
// installs python3-numpy).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <string>

#include <torch/torch.h>

#include "core/safetensors.h"
#include "fixtures.h"

namespace st = vitnas::safetensors;

namespace {

// Debian's interpreter first: a python3 earlier on PATH (pyenv, a venv) may lack numpy.
std::string python_with_numpy() {
  for (const char* python : {"/usr/bin/python3", "python3"}) {
    const std::string cmd = std::string(python) + " -c 'import numpy' >/dev/null 2>&1";
    if (std::system(cmd.c_str()) == 0) return python;
  }
  return "";
}

// Writes the tensors in the order given, with the header's keys in another (sorted) order.
// bfloat16 is the high half of the float32 bits: exact for the values below, which all fit in
// bf16's 8-bit mantissa.
constexpr const char* kWriter = R"PY(
import json, struct, sys
import numpy as np

f32 = np.array([1.0, -3.5, 2.0 ** 100, -(2.0 ** -120)], dtype="<f4")
tensors = [
    ("half", "F16", [2, 2], np.array([[1.5, -2.0], [65504.0, 2.0 ** -24]], dtype="<f2").tobytes()),
    ("brain", "BF16", [4], (f32.view("<u4") >> 16).astype("<u2").tobytes()),
    ("signed", "I8", [4], np.array([-128, -1, 0, 127], dtype="i1").tobytes()),
    ("unsigned", "U8", [2, 2], np.array([[0, 1], [200, 255]], dtype="u1").tobytes()),
    ("flags", "BOOL", [3], np.array([True, False, True], dtype="?").tobytes()),
    ("wide", "I64", [2], np.array([-(2 ** 40), 7], dtype="<i8").tobytes()),
]
header, data = {"__metadata__": {"writer": "numpy"}}, b""
for name, dtype, shape, raw in tensors:
    header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
    data += raw
text = json.dumps(header, sort_keys=True).encode()
with open(sys.argv[1], "wb") as out:
    out.write(struct.pack("<Q", len(text)) + text + data)
)PY";

}  // namespace

TEST_CASE("safetensors reads F16, BF16, I8, U8, BOOL written by numpy", "[safetensors]") {
  const std::string python = python_with_numpy();
  if (python.empty()) {
    WARN("no python3 with numpy (install python3-numpy): independent-writer test skipped");
    return;
  }
  const std::string script = vitnas::test::scratch_path("st_writer.py");
  const std::string path = vitnas::test::scratch_path("st_numpy.safetensors");
  std::ofstream(script) << kWriter;
  const std::string cmd = python + " '" + script + "' '" + path + "'";
  REQUIRE(std::system(cmd.c_str()) == 0);

  const st::File f = st::load(path);
  CHECK(f.metadata.at("writer") == "numpy");
  REQUIRE(f.tensors.size() == 6);
  // Returned in data order (the header's keys are sorted differently).
  const char* names[] = {"half", "brain", "signed", "unsigned", "flags", "wide"};
  for (int i = 0; i < 6; ++i) CHECK(f.tensors[size_t(i)].first == names[i]);

  const torch::Tensor& half = f.tensors[0].second;
  REQUIRE(half.scalar_type() == torch::kFloat16);
  REQUIRE(half.sizes() == torch::IntArrayRef({2, 2}));
  const auto h = half.to(torch::kFloat64);
  CHECK(h[0][0].item<double>() == 1.5);
  CHECK(h[0][1].item<double>() == -2.0);
  CHECK(h[1][0].item<double>() == 65504.0);             // the largest finite half
  CHECK(h[1][1].item<double>() == std::ldexp(1.0, -24));  // the smallest subnormal half

  const torch::Tensor& brain = f.tensors[1].second;
  REQUIRE(brain.scalar_type() == torch::kBFloat16);
  const auto b = brain.to(torch::kFloat64);
  CHECK(b[0].item<double>() == 1.0);
  CHECK(b[1].item<double>() == -3.5);
  CHECK(b[2].item<double>() == std::ldexp(1.0, 100));   // beyond half's range: bf16's exponent
  CHECK(b[3].item<double>() == -std::ldexp(1.0, -120));

  const torch::Tensor& i8 = f.tensors[2].second;
  REQUIRE(i8.scalar_type() == torch::kInt8);
  CHECK(torch::equal(i8, torch::tensor({-128, -1, 0, 127}, torch::kInt8)));

  const torch::Tensor& u8 = f.tensors[3].second;
  REQUIRE(u8.scalar_type() == torch::kUInt8);
  CHECK(torch::equal(u8, torch::tensor({0, 1, 200, 255}, torch::kInt32).to(torch::kUInt8).view({2, 2})));

  const torch::Tensor& flags = f.tensors[4].second;
  REQUIRE(flags.scalar_type() == torch::kBool);
  CHECK(torch::equal(flags, torch::tensor({true, false, true})));

  const torch::Tensor& wide = f.tensors[5].second;
  REQUIRE(wide.scalar_type() == torch::kInt64);
  CHECK(wide[0].item<int64_t>() == -(int64_t{1} << 40));
  CHECK(wide[1].item<int64_t>() == 7);
}
