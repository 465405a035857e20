// End-to-end tests of the vitnas binary: exit codes (0 success, 2 bad input, 1 other failure),
// the one-line "error: ..." contract on stderr, and the outputs of info, bench and forward.
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/arch_spec.h"
#include "core/safetensors.h"
#include "cli_runner.h"
#include "fixtures.h"
#include "models/classifier.h"
#include "models/weights.h"
#include "torch_fixtures.h"

namespace fs = std::filesystem;
namespace st = vitnas::safetensors;
using Catch::Contains;
using Catch::StartsWith;
using nlohmann::json;
using vitnas::test::CliRun;
using vitnas::test::q;
using vitnas::test::read_text;
using vitnas::test::run_cli;
using vitnas::test::write_text;

namespace {

std::string temp_path(const std::string& name) {
  return vitnas::test::scratch_path("cli_" + name);
}

// The m0 preset as JSON, edited by `edit`, written to a file; returns the path.
template <typename Edit>
std::string m0_variant(const std::string& name, Edit edit) {
  json j = vitnas::arch_to_json(vitnas::preset("m0"));
  edit(j);
  const std::string path = temp_path(name);
  write_text(path, j.dump(2));
  return path;
}

// Default-initialised weights of a preset, written once per process.
std::string weights_of(const std::string& preset) {
  const std::string path = temp_path(preset + ".weights.safetensors");
  if (!fs::exists(path)) {
    torch::manual_seed(0);
    vitnas::save_weights(*vitnas::build_model(vitnas::preset(preset)), path);
  }
  return path;
}

// m0 with random non-trivial BN weights, biases and running statistics: a fresh model's residual
// branches end in a BN of weight 0, so with default weights forward would exercise only the stem,
// the patch mergings and the head.
std::string perturbed_m0_weights() {
  const std::string path = temp_path("m0.perturbed.safetensors");
  if (!fs::exists(path)) {
    auto model = vitnas::build_model(vitnas::preset("m0"));
    vitnas::test::perturb(*model, 5);
    vitnas::save_weights(*model, path);
  }
  return path;
}

st::TensorList m0_state() {
  return st::load(weights_of("m0")).tensors;
}

std::string input_file() {
  const std::string path = temp_path("x.safetensors");
  if (!fs::exists(path)) {
    torch::manual_seed(1);
    st::save(path, {{"x", torch::randn({1, 3, 224, 224})}});
  }
  return path;
}

std::string forward_args(const std::string& weights, const std::string& input,
                         const std::string& output, const std::string& arch = "m0") {
  return "forward --arch " + arch + " --weights " + q(weights) + " --input " + q(input) +
         " --output " + q(output);
}

}  // namespace

TEST_CASE("cli: help, unknown commands and flags", "[cli]") {
  SECTION("--help") {
    for (const char* args : {"--help", "info --help", "bench --help", "forward --help"}) {
      INFO(args);
      const CliRun r = run_cli(args);
      CHECK(r.code == 0);
      CHECK_THAT(r.out, Contains("--"));
    }
  }
  SECTION("unknown subcommand") {
    const CliRun r = run_cli("bogus");
    CHECK(r.is_input_error());
    CHECK_THAT(r.err, Contains("bogus"));
  }
  SECTION("no subcommand") { CHECK(run_cli("").is_input_error()); }
  SECTION("unknown flag") {
    const CliRun r = run_cli("info --arch m0 --bogus");
    CHECK(r.is_input_error());
    CHECK_THAT(r.err, Contains("--bogus"));
  }
  SECTION("missing --arch") {
    const CliRun r = run_cli("info");
    CHECK(r.is_input_error());
    CHECK_THAT(r.err, Contains("--arch"));
  }
  SECTION("a value that does not convert") {
    const CliRun r = run_cli("bench --arch m0 --batch abc");
    CHECK(r.is_input_error());
    CHECK_THAT(r.err, Contains("--batch"));
  }
}

TEST_CASE("cli: info", "[cli]") {
  SECTION("m0 as JSON") {
    const CliRun r = run_cli("info --arch m0 --json");
    REQUIRE(r.code == 0);
    const json j = r.out_json();
    CHECK(j.at("params").get<int64_t>() == 2349436);
    CHECK(j.at("macs").get<double>() == Approx(79.19e6).epsilon(0.005));
    CHECK(j.at("name") == "m0");
  }
  SECTION("the memory estimate at a batch") {
    const CliRun r = run_cli("info --arch m0 --batch 8 --json");
    REQUIRE(r.code == 0);
    const json m = r.out_json().at("memory");
    CHECK(m.at("batch") == 8);
    CHECK(m.at("weights_bytes") == 4 * 2349436);  // float32 weights of the paper's count
    // Inference adds the activations of the largest part; training keeps all of them, plus
    // the gradients and AdamW's two moments (3 more copies of the weights).
    CHECK(m.at("inference_bytes").get<int64_t>() > 4 * 2349436);
    CHECK(m.at("training_bytes").get<int64_t>() >
          m.at("inference_bytes").get<int64_t>() + 3 * 4 * 2349436);
  }
  SECTION("deit_tiny as text") {
    const CliRun r = run_cli("info --arch deit_tiny");
    CHECK(r.code == 0);
    CHECK_THAT(r.out, Contains("total:"));
  }
}

TEST_CASE("cli: bad architectures are one-line input errors naming the file and path", "[cli]") {
  SECTION("edited m0 files") {
    struct Case {
      std::string file, expect;
    };
    std::vector<Case> cases;

    const std::string malformed = temp_path("malformed.json");
    write_text(malformed, "{\"family\": \"efficientvit\", ");
    cases.push_back({malformed, "malformed JSON"});

    // m0's first stage has 4 heads on width 64; 3 heads do not divide it.
    cases.push_back({m0_variant("heads3.json",
                                [](json& j) {
                                  j["stages"][0]["blocks"][0]["attention"]["heads"].erase(0);
                                }),
                     "stages[0].blocks[0].attention.heads: 3 heads do not divide"});
    cases.push_back({m0_variant("vdim.json",
                                [](json& j) {
                                  j["stages"][0]["blocks"][0]["attention"]["heads"][1]["v_dim"] = 8;
                                }),
                     "stages[0].blocks[0].attention.heads[1].v_dim"});
    cases.push_back({m0_variant("kind.json",
                                [](json& j) {
                                  j["stages"][1]["blocks"][0]["attention"]["heads"][0]["kind"] =
                                      "linear";
                                }),
                     "stages[1].blocks[0].attention.heads[0].kind"});
    cases.push_back({m0_variant("width0.json", [](json& j) { j["stages"][1]["embed_dim"] = 0; }),
                     "stages[1].embed_dim"});
    cases.push_back({m0_variant("stem.json", [](json& j) { j["stem"] = json::array(); }), "stem: "});
    cases.push_back(
        {m0_variant("window0.json", [](json& j) { j["stages"][2]["window"] = 0; }),
         "stages[2].window"});

    for (const auto& c : cases) {
      INFO(c.file << " -> " << c.expect);
      const CliRun r = run_cli("info --arch " + q(c.file));
      CHECK(r.is_input_error());
      CHECK_THAT(r.err, Contains(c.file));
      CHECK_THAT(r.err, Contains(c.expect));
      CHECK(r.out.empty());
    }
  }
  SECTION("the unedited preset file loads") {
    const std::string ok = m0_variant("m0.json", [](json&) {});
    const CliRun r = run_cli("info --json --arch " + q(ok));
    REQUIRE(r.code == 0);
    CHECK(r.out_json().at("params").get<int64_t>() == 2349436);
  }
  SECTION("neither a preset nor a file") {
    const CliRun r = run_cli("info --arch m9_missing");
    CHECK(r.is_input_error());
    CHECK_THAT(r.err, Contains("m9_missing"));
    CHECK_THAT(r.err, Contains("preset"));
  }
}

TEST_CASE("cli: forward runs and the fused network agrees", "[cli]") {
  const std::string w = perturbed_m0_weights(), x = input_file();
  const std::string y = temp_path("y.safetensors"), yf = temp_path("y_fused.safetensors");
  const CliRun r = run_cli(forward_args(w, x, y) + " --log-level warn");
  REQUIRE(r.code == 0);
  const CliRun rf = run_cli(forward_args(w, x, yf) + " --fused --json");
  REQUIRE(rf.code == 0);
  CHECK(rf.out_json().at("shape") == json::array({1, 1000}));

  const st::File out = st::load(y), out_fused = st::load(yf);
  REQUIRE(out.tensors.size() == 1);
  REQUIRE(out_fused.tensors.size() == 1);
  CHECK(out.tensors[0].first == "logits");
  const torch::Tensor logits = out.tensors[0].second, logits_fused = out_fused.tensors[0].second;
  CHECK(logits.sizes() == torch::IntArrayRef({1, 1000}));
  CHECK(logits_fused.sizes() == torch::IntArrayRef({1, 1000}));
  const double scale = std::max(1.0, logits.abs().max().item<double>());
  CHECK((logits - logits_fused).abs().max().item<double>() < 1e-4 * scale);
  CHECK(out_fused.metadata.at("network") == "fused");
}

// oneDNN picks its kernels for the CPU it runs on. DNNL_MAX_CPU_ISA caps the choice, and
// DNNL_VERBOSE prints the kernel of every conv it runs ("exec" lines), so each capped path is
// shown to run, and to give the unfused network's logits.
TEST_CASE("cli: the fused network agrees on every oneDNN instruction set this CPU runs", "[cli][kernels]") {
  const std::string w = perturbed_m0_weights(), x = input_file();
  const std::string y = temp_path("y_isa.safetensors"), yf = temp_path("y_isa_fused.safetensors");
  REQUIRE(run_cli(forward_args(w, x, y) + " --log-level warn").code == 0);
  const torch::Tensor logits = st::load(y).tensors.at(0).second;
  const double scale = std::max(1.0, logits.abs().max().item<double>());
  struct Isa { const char *cap, *tag; bool runs; };
  for (const Isa isa : {Isa{"SSE41", ":sse41", true}, Isa{"AVX2", ":avx2", __builtin_cpu_supports("avx2") != 0},
                        Isa{"AVX512_CORE", ":avx512_core", __builtin_cpu_supports("avx512f") != 0}}) {
    INFO(isa.cap);
    if (!isa.runs) {
      WARN("this CPU cannot run oneDNN's " << isa.cap << " kernels: not tested here");
      continue;
    }
    setenv("DNNL_MAX_CPU_ISA", isa.cap, 1);
    setenv("DNNL_VERBOSE", "1", 1);
    const CliRun r = run_cli(forward_args(w, x, yf) + " --fused --log-level warn");
    unsetenv("DNNL_MAX_CPU_ISA");
    unsetenv("DNNL_VERBOSE");
    REQUIRE(r.code == 0);
    if (r.out.find("convolution") == std::string::npos) {
      WARN("this build has no oneDNN (no convolution in DNNL_VERBOSE's output)");
      return;
    }
    CHECK_THAT(r.out, Contains("convolution," ) && Contains(isa.tag));
    if (std::string(isa.cap) == "SSE41") CHECK_THAT(r.out, !Contains("avx"));
    const torch::Tensor fused = st::load(yf).tensors.at(0).second;
    CHECK((fused - logits).abs().max().item<double>() < 1e-4 * scale);
  }
}

TEST_CASE("cli: forward rejects bad weights and inputs", "[cli]") {
  const std::string w = weights_of("m0"), x = input_file(), y = temp_path("y_bad.safetensors");
  const st::TensorList state = m0_state();
  REQUIRE(state.size() > 2);

  // Runs forward and checks the one-line error mentions every string in `expect`.
  auto expect_input_error = [&](const std::string& args, std::vector<std::string> expect) {
    const CliRun r = run_cli(args);
    INFO(args << "\nstderr: " << r.err);
    CHECK(r.is_input_error());
    for (const auto& e : expect) CHECK_THAT(r.err, Contains(e));
    CHECK_FALSE(fs::exists(y));
  };

  SECTION("missing key") {
    st::TensorList s = state;
    const std::string key = s[1].first;
    s.erase(s.begin() + 1);
    const std::string path = temp_path("missing.safetensors");
    st::save(path, s);
    expect_input_error(forward_args(path, x, y), {path, key, "missing"});
  }
  SECTION("extra key") {
    st::TensorList s = state;
    s.emplace_back("head.extra.weight", torch::zeros({3}));
    const std::string path = temp_path("extra.safetensors");
    st::save(path, s);
    expect_input_error(forward_args(path, x, y), {path, "head.extra.weight"});
  }
  SECTION("mis-shaped key") {
    st::TensorList s = state;
    const std::string key = s[0].first;
    s[0].second = torch::zeros({s[0].second.numel() + 1});
    const std::string path = temp_path("shape.safetensors");
    st::save(path, s);
    expect_input_error(forward_args(path, x, y), {path, key, "shape"});
  }
  SECTION("truncated file") {
    const std::string bytes = read_text(w);
    const std::string path = temp_path("truncated.safetensors");
    write_text(path, bytes.substr(0, bytes.size() / 2));
    expect_input_error(forward_args(path, x, y), {path});
  }
  SECTION("huge header length") {
    std::string bytes = read_text(w);
    for (int i = 0; i < 8; ++i) bytes[size_t(i)] = char(0x7f);
    const std::string path = temp_path("huge_header.safetensors");
    write_text(path, bytes);
    expect_input_error(forward_args(path, x, y), {path, "header length"});
  }
  SECTION("missing weights file") {
    const std::string path = temp_path("nope.safetensors");
    expect_input_error(forward_args(path, x, y), {path});
  }
  SECTION("weights of another architecture") {
    expect_input_error(forward_args(weights_of("m1"), x, y), {weights_of("m1")});
  }
  SECTION("input with the wrong shape") {
    const std::string path = temp_path("x_small.safetensors");
    st::save(path, {{"x", torch::zeros({1, 3, 112, 112})}});
    expect_input_error(forward_args(w, path, y), {path, "(B, 3, 224, 224)"});
  }
  SECTION("several input tensors and no --input-key") {
    const std::string path = temp_path("x_two.safetensors");
    st::save(path, {{"a", torch::zeros({1, 3, 224, 224})}, {"b", torch::zeros({1, 3, 224, 224})}});
    expect_input_error(forward_args(w, path, y), {path, "--input-key"});
    SECTION("and --input-key picks one") {
      CHECK(run_cli(forward_args(w, path, y) + " --input-key b").code == 0);
      fs::remove(y);
    }
  }
  SECTION("--input-key that does not exist") {
    expect_input_error(forward_args(w, x, y) + " --input-key nope", {x, "'nope'"});
  }
}

TEST_CASE("cli: --config files", "[cli]") {
  const std::string config = temp_path("config.json");
  write_text(config, R"({"arch": "m0", "json": true})");

  SECTION("a config supplies the flags") {
    const CliRun r = run_cli("info --config " + q(config));
    REQUIRE(r.code == 0);
    CHECK(r.out_json().at("params").get<int64_t>() == 2349436);
  }
  SECTION("the command line overrides the config") {
    const CliRun r = run_cli("info --config " + q(config) + " --arch m1");
    REQUIRE(r.code == 0);
    CHECK(r.out_json().at("params").get<int64_t>() == 2980560);
  }
  SECTION("an unknown key") {
    const std::string bad = temp_path("config_unknown.json");
    write_text(bad, R"({"arch": "m0", "batchsize": 4})");
    const CliRun r = run_cli("info --config " + q(bad));
    CHECK(r.is_input_error());
    CHECK_THAT(r.err, Contains(bad));
    CHECK_THAT(r.err, Contains("batchsize"));
  }
  SECTION("a malformed config") {
    const std::string bad = temp_path("config_malformed.json");
    write_text(bad, R"({"arch": "m0",)");
    const CliRun r = run_cli("info --config " + q(bad));
    CHECK(r.is_input_error());
    CHECK_THAT(r.err, Contains(bad));
  }
  SECTION("a missing config") {
    const std::string missing = temp_path("config_missing.json");
    const CliRun r = run_cli("info --config " + q(missing));
    CHECK(r.is_input_error());
    CHECK_THAT(r.err, Contains(missing));
  }
}

TEST_CASE("cli: bench", "[cli]") {
  SECTION("a short run prints JSON") {
    const CliRun r = run_cli("bench --arch m0 --seconds 0.2 --warmup 0 --batch 2 --json");
    REQUIRE(r.code == 0);
    const json j = r.out_json().at(0);  // a list even for one --arch
    CHECK(r.out_json().size() == 1);
    CHECK(j.at("img_per_s").get<double>() > 0);
    CHECK(j.at("batch") == 2);
    CHECK(j.at("arch") == "m0");
  }
  SECTION("several architectures, the baseline and a per-step profile") {
    const CliRun r = run_cli(
        "bench --arch m0,m1 --seconds 0.2 --warmup 0 --rounds 1 --batch 2 --baseline --profile --json");
    REQUIRE(r.code == 0);
    const json j = r.out_json();
    REQUIRE(j.is_array());
    REQUIRE(j.size() == 2);
    CHECK(j[1].at("arch") == "m1");
    CHECK(j[0].at("speedup").get<double>() > 0);
    CHECK(j[0].at("baseline").at("img_per_s").get<double>() > 0);
    const auto& steps = j[0].at("steps");
    REQUIRE(steps.size() > 3);
    CHECK(steps.front().at("name") == "patch_embed");
    CHECK(steps.back().at("name") == "head");
    bool has_mixer = false;
    for (const auto& s : steps) has_mixer = has_mixer || s.at("name") == "blocks1.0.mixer";
    CHECK(has_mixer);
  }
  SECTION("--arch on the command line replaces the config's list") {
    const std::string cfg = temp_path("bench_config.json");
    std::ofstream(cfg) << R"({"arch": "m0,m2", "seconds": 0.1, "warmup": 0, "batch": 1, "json": true})";
    const CliRun r = run_cli("bench --config " + q(cfg) + " --arch m1");
    REQUIRE(r.code == 0);
    const json j = r.out_json();
    REQUIRE(j.size() == 1);
    CHECK(j[0].at("arch") == "m1");
  }
  SECTION("--profile needs the fused efficientvit network") {
    const CliRun r = run_cli("bench --arch vit_7_4_32 --seconds 0.1 --warmup 0 --profile");
    CHECK(r.is_input_error());
    CHECK_THAT(r.err, Contains("--profile"));
  }
  SECTION("--device cuda without CUDA") {
    if (!torch::cuda::is_available()) {
      const CliRun r = run_cli("bench --arch m0 --device cuda");
      CHECK(r.is_input_error());
      CHECK_THAT(r.err, Contains("--device"));
    }
  }
  SECTION("an unknown device") {
    const CliRun r = run_cli("bench --arch m0 --device tpu");
    CHECK(r.is_input_error());
    CHECK_THAT(r.err, Contains("--device"));
  }
  SECTION("--threads 0") {
    const CliRun r = run_cli("bench --arch m0 --threads 0");
    CHECK(r.is_input_error());
    CHECK_THAT(r.err, Contains("--threads"));
  }
}
