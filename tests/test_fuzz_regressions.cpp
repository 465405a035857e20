// Inputs that crashed a parser under the fuzz targets (tests/fuzz, scripts/fuzz.sh), or, found
// while writing them, made it allocate what the input cannot back; each is now refused with a
// one-line InputError. The reproducers are also in
// tests/fuzz/corpus/<target>/. This file is also built, sanitized, as fuzz_regressions in
// build-fuzz (scripts/fuzz.sh runs it), so it uses only the parsers' sources.
#include <zlib.h>

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "core/arch_spec.h"
#include "core/error.h"
#include "core/io.h"
#include "data/idx.h"
#include "profile/latency_table.h"
#include "fixtures.h"

using namespace vitnas;
using vitnas::test::input_error;
using vitnas::test::scratch_path;

namespace {

std::string write(const std::string& name, const std::string& bytes) {
  const std::string path = scratch_path(name);
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

// An IDX uint8 header with big-endian dims, then `data` (which may disagree with the dims).
std::string idx_bytes(const std::vector<uint32_t>& dims, const std::string& data) {
  std::string s{'\0', '\0', '\x08', static_cast<char>(dims.size())};
  for (uint32_t d : dims)
    for (int shift = 24; shift >= 0; shift -= 8) s.push_back(static_cast<char>((d >> shift) & 0xff));
  return s + data;
}

bool one_line_containing(const std::string& message, const std::string& part) {
  return message.find(part) != std::string::npos && message.find('\n') == std::string::npos;
}

}  // namespace

TEST_CASE("fuzz: a JSON number too large for a double is malformed JSON", "[fuzz]") {
  // nlohmann throws out_of_range.406, not parse_error, for 1e400.
  const std::string path = write("huge.json", R"({"family": "vit", "img_size": 1e400})");
  CHECK(one_line_containing(input_error([&] { read_json_file(path); }), path + ": malformed JSON"));
  CHECK(one_line_containing(input_error([&] { load_arch(path); }), path + ": malformed JSON"));
}

TEST_CASE("fuzz: an IDX header asking for more than its file can hold", "[fuzz]") {
  // Refused before allocating: 60000 x 28 x 28 bytes from a 20-byte file, plain and gzip'd.
  const std::string header = idx_bytes({60000, 28, 28}, "abcd");
  const std::string plain = write("huge-idx", header);
  CHECK(one_line_containing(input_error([&] { data::read_idx(plain); }),
                            plain + ": truncated IDX file (its header says 47040000 bytes"));
  const std::string gz = scratch_path("huge-idx.gz");
  gzFile f = gzopen(gz.c_str(), "wb");
  REQUIRE(f != nullptr);
  REQUIRE(gzwrite(f, header.data(), static_cast<unsigned>(header.size())) == int(header.size()));
  gzclose(f);
  CHECK(one_line_containing(input_error([&] { data::read_idx(gz); }),
                            gz + ": truncated IDX file (its header says 47040000 bytes"));
}

TEST_CASE("fuzz: a latency table with a float where an int belongs", "[fuzz]") {
  // get<int>() on 1e300 was undefined behaviour (UBSan: outside the range of 'int'); 2.5 threads
  // was silently 2. Both are now refused, naming the field.
  const std::string device =
      R"({"kind": "cpu", "model": "m", "threads": THREADS, "batch": 16, "dtype": "float32",
          "library": "libtorch"})";
  const std::string entry = R"({"median_ms": 0.2, "spread": 0.1, "samples": SAMPLES, "rejected": 1})";
  auto table = [&](const std::string& threads, const std::string& samples) {
    std::string d = device, e = entry;
    d.replace(d.find("THREADS"), 7, threads);
    e.replace(e.find("SAMPLES"), 7, samples);
    return R"({"format": "vitnas-latency-table", "version": 1, "device": )" + d +
           R"(, "entries": {"attn_frame b=16 r=4 c=128 win=4 heads=2 v=128": )" + e + "}}";
  };
  CHECK_NOTHROW(load_table(write("ok.json", table("1", "81"))));
  for (const std::string threads : {"1e300", "2.5"}) {
    const std::string path = write("threads.json", table(threads, "81"));
    CHECK(one_line_containing(input_error([&] { load_table(path); }),
                              path + ": device.threads: expected an integer"));
  }
  const std::string path = write("samples.json", table("1", "1e300"));
  CHECK(one_line_containing(input_error([&] { load_table(path); }), ".samples: expected an integer"));
}

TEST_CASE("fuzz: a latency table whose format or version has the wrong JSON type", "[fuzz]") {
  // json::value("format", "") threw nlohmann's type_error for {"format": {}}, which escaped as
  // an uncaught exception (found by the 10-million-execution run of fuzz_latency_table).
  for (const std::string head : {R"("format": {}, "version": 1)", R"("format": 3)",
                                 R"("format": "vitnas-latency-table", "version": "1")",
                                 R"("format": "vitnas-latency-table", "version": [])"}) {
    const std::string path = write("typed.json", "{" + head + R"(, "networks": []})");
    const std::string message = input_error([&] { load_table(path); });
    CHECK((one_line_containing(message, path + ": not a vitnas latency table") ||
           one_line_containing(message, path + ": latency table version")));
  }
}
