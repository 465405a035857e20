// Issue 16's findings, each as a new user met them: unbounded flags and sizes, JSON the parser
// let through, wrong answers with exit 0, raw library errors, lost or stray work. Every case
// must end in exit 2 and one line naming what to fix (or, where the finding was a silent
// default, in the documented behaviour), and never allocate or run before refusing.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "core/arch_spec.h"
#include "core/io.h"

using namespace vitnas;
using namespace vitnas::test;
using Catch::Contains;
using nlohmann::json;

namespace {

namespace fs = std::filesystem;

const std::string kSource = VITNAS_SOURCE_DIR;

std::string path(const std::string& name) { return scratch_path("bad_" + name); }

// An ArchSpec file: m0 with one edit.
std::string edited_m0(const std::string& name, const std::function<void(json&)>& edit) {
  json j = arch_to_json(preset("m0"));
  edit(j);
  const std::string p = path(name + ".json");
  write_text(p, j.dump());
  return p;
}

std::string tiny_vit() {
  const std::string p = path("tiny_vit.json");
  if (!fs::exists(p)) write_text(p, kTinyViTSpec);
  return p;
}

// The shipped CPU table with one edit.
std::string edited_table(const std::string& name, const std::function<void(json&)>& edit) {
  json j = json::parse(read_text(kSource + "/experiments/tables/cpu_1t_b16.json"));
  edit(j);
  const std::string p = path(name + ".json");
  write_text(p, j.dump());
  return p;
}

}  // namespace

TEST_CASE("bad input: numeric flags are bounded, never replaced by a default", "[cli][bad_input]") {
  const int cores = int(std::thread::hardware_concurrency());
  for (const std::string& args :
       {std::string("bench --arch m0 --threads 100000"), "bench --arch m0 --threads " + std::to_string(cores + 1),
        std::string("bench --arch m0 --threads -3"), std::string("bench --arch m0 --seconds inf"),
        std::string("bench --arch m0 --seconds nan"), std::string("bench --arch m0 --batch 0"),
        std::string("bench --arch m0 --batch 1e9"), std::string("bench --arch m0 --res -5"),
        std::string("bench --arch m0 --res 100000"), std::string("latency predict --table x --arch m0 --repeat -5"),
        std::string("train --arch m0 --out x --loader-threads 1000"), std::string("train --arch m0 --out x --nproc 1000"),
        std::string("train --arch m0 --out x --lr 1e400"), std::string("bench-train --batch 1")}) {
    INFO(args);
    const CliRun r = run_cli(args);
    CHECK(r.is_input_error());
    const std::string flag = args.substr(args.rfind("--"), args.find(' ', args.rfind("--")) - args.rfind("--"));
    CHECK_THAT(r.err, Contains(flag));
  }
}

TEST_CASE("bad input: sizes an ArchSpec or a space may have are limited", "[cli][bad_input]") {
  struct Case {
    std::string name, path;
    std::function<void(json&)> edit;
  };
  const std::vector<Case> cases = {
      {"kernel", "stages[0].blocks[0].attention.heads[0].kernel",
       [](json& j) { j["stages"][0]["blocks"][0]["attention"]["heads"][0]["kernel"] = 99999; }},
      {"width", "stages[2].embed_dim", [](json& j) {
         j["stages"][2]["embed_dim"] = 100000;
       }},
      {"ffn", "stages[0].blocks[0].ffn_before[0]",
       [](json& j) { j["stages"][0]["blocks"][0]["ffn_before"][0] = 1000000000; }},
      {"classes", "num_classes", [](json& j) { j["num_classes"] = 1000000000; }},
      {"img", "img_size", [](json& j) { j["img_size"] = 100000; }},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    const CliRun r = run_cli("info --arch " + q(edited_m0(c.name, c.edit)));
    CHECK(r.is_input_error());
    CHECK_THAT(r.err, Contains(c.path) && Contains("limit"));
  }

  // A million blocks per stage: profile grew to 3 GB before bad_alloc.
  json space = json::parse(read_text(kSource + "/experiments/spaces/small.json"));
  space["stages"][0]["depth"] = json::array({1000000});
  write_text(path("deep_space.json"), space.dump());
  const auto start = std::chrono::steady_clock::now();
  const CliRun r = run_cli("profile --space " + q(path("deep_space.json")) + " --out " + q(path("deep.json")));
  CHECK(r.is_input_error());
  CHECK_THAT(r.err, Contains("stages[0].depth[0]") && Contains("limit"));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(30));  // a hang guard
  CHECK(!fs::exists(path("deep.json")));
}

TEST_CASE("bad input: what the machine cannot hold is refused before it is allocated", "[cli][bad_input]") {
  // m0 at 4096x4096: the stem's first map alone is 2048^2 x 16 floats = 268 MB per image.
  CliRun r = run_cli("bench --arch m0 --res 4096 --batch 65536");
  CHECK(r.is_input_error());
  CHECK_THAT(r.err, Contains("needs about") && Contains("available"));
  r = run_cli("bench-train --arch m0 --batch 65536");
  CHECK(r.is_input_error());
  CHECK_THAT(r.err, Contains("needs about"));
  // profile times ops of the network at --batch: m5 at 65536 images needs ~330 GB
  r = run_cli("profile --arch m5 --batch 65536 --out " + q(path("m5_table.json")));
  CHECK(r.is_input_error());
  CHECK_THAT(r.err, Contains("profile --batch 65536 of m5 needs about"));
  CHECK(!fs::exists(path("m5_table.json")));
  // pruning's Taylor scores train on their batch: m0 at 65536 images needs ~700 GB
  const std::string m0 = q(std::string(VITNAS_REFERENCE_DIR) + "/efficientvit/vec_m0.safetensors");
  r = run_cli("prune analyse --arch m0 --weights " + m0 + " --data synthetic:64 --batch 65536 --out " +
              q(path("m0_analyse")));
  CHECK(r.is_input_error());
  CHECK_THAT(r.err, Contains("prune analyse --batch 65536 of m0 needs about"));
  r = run_cli("prune --arch m0 --weights " + m0 + " --target-ratio 0.5 --data synthetic:64 "
              "--importance-batch-size 65536 --out " + q(path("m0_prune")));
  CHECK(r.is_input_error());
  CHECK_THAT(r.err, Contains("prune --importance-batch-size 65536 of m0 needs about"));
  CHECK(!fs::exists(path("m0_analyse")));
  CHECK(!fs::exists(path("m0_prune")));
  // A valid spec of 400 billion weights: 256 layers 16384 wide (every size within its limit).
  json vit = json::parse(kTinyViTSpec);
  vit["embed_dim"] = 16384;
  json layer = vit["layers"][0];
  layer["heads"] = json::array({{{"qk_dim", 16384}, {"v_dim", 16384}, {"kind", "softmax"}}});
  layer["mlp_hidden"] = 16384;
  vit["layers"] = json(std::vector<json>(256, layer));
  write_text(path("huge.json"), vit.dump());
  const auto start = std::chrono::steady_clock::now();
  r = run_cli("bench --arch " + q(path("huge.json")) + " --batch 1 --seconds 0.1 --warmup 0");
  CHECK(r.is_input_error());
  CHECK_THAT(r.err, Contains("needs about") && Contains("TB"));
  r = run_cli("train --arch " + q(path("huge.json")) + " --data synthetic:64 --out " + q(path("huge_run")));
  CHECK(r.is_input_error());
  CHECK_THAT(r.err, Contains("needs about"));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(20));  // nothing allocated
}

TEST_CASE("bad input: JSON numbers out of range and duplicate keys name the file and path", "[cli][bad_input]") {
  write_text(path("big.json"), R"({"family": "efficientvit", "img_size": 1e400})");
  CliRun r = run_cli("info --arch " + q(path("big.json")));
  CHECK(r.is_input_error());
  CHECK_THAT(r.err, Contains("big.json"));

  const std::string dup = edited_m0("dup", [](json&) {});
  std::string text = read_text(dup);
  text.insert(text.rfind('}'), R"(,"num_classes": 10)");  // the same key twice at the root
  write_text(dup, text);
  r = run_cli("info --arch " + q(dup));
  CHECK(r.is_input_error());
  CHECK_THAT(r.err, Contains("dup.json") && Contains("duplicate key \"num_classes\""));

  write_text(path("dup_deep.json"), R"({"a": [{"x": 1}, {"y": {"z": 1, "z": 2}}]})");
  CHECK_THAT(input_error([&] { read_json_file(path("dup_deep.json")); }),
             Contains("a[1].y: duplicate key \"z\""));
}

TEST_CASE("bad input: a latency table that would predict nonsense is refused", "[cli][bad_input][latency]") {
  const std::string negative = edited_table("negative_scale", [](json& j) {
    j["calibration"]["scale"]["conv"] = -1.0;
  });
  CliRun r = run_cli("latency predict --table " + q(negative) + " --arch m0");
  CHECK(r.is_input_error());
  CHECK_THAT(r.err, Contains("negative_scale.json") && Contains("scale.conv"));

  // A constant so negative that m0's prediction would be below zero.
  const std::string below = edited_table("negative_constant", [](json& j) {
    j["calibration"]["constant_ms"] = -1e6;
  });
  r = run_cli("latency predict --table " + q(below) + " --arch m0");
  CHECK(r.is_input_error());
  CHECK_THAT(r.err, Contains("not a positive time"));

  // Made on a machine with more cores than this one: it cannot be measured or validated here.
  const std::string wide = edited_table("many_threads", [](json& j) { j["device"]["threads"] = 4096; });
  r = run_cli("latency validate --table " + q(wide) + " --arch m0 --seconds 0.1");
  CHECK(r.is_input_error());
  CHECK_THAT(r.err, Contains("hardware threads"));

  // An output path that cannot be written is found before minutes of measuring.
  const auto start = std::chrono::steady_clock::now();
  r = run_cli("latency validate --table " + q(kSource + "/experiments/tables/cpu_1t_b16.json") +
              " --arch m0 --seconds 30 --csv /nonexistent/x.csv");
  CHECK(r.is_input_error());
  CHECK_THAT(r.err, Contains("--csv") && Contains("/nonexistent"));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(20));
}

TEST_CASE("bad input: an MPC cost table value that makes infinite seconds is refused", "[cli][bad_input][mpc]") {
  // Write the default cost table through an mpc profile, then corrupt one value.
  const std::string table = path("mpc.json");
  REQUIRE(run_cli("profile --device mpc --arch vit_7_4_32 --out " + q(table)).code == 0);
  json costs = json::parse(read_text(table))["mpc"]["costs"];
  costs["ops"]["exp"]["bytes_per_elem"] = 1e308;
  write_text(path("costs.json"), costs.dump());
  const CliRun r = run_cli("profile --device mpc --arch vit_7_4_32 --out " + q(path("mpc2.json")) +
                           " --costs " + q(path("costs.json")));
  CHECK(r.is_input_error());
  CHECK_THAT(r.err, Contains("ops.exp.bytes_per_elem") && Contains("limit"));
}

TEST_CASE("bad input: training that diverges stops at the first non-finite loss", "[cli][bad_input][train]") {
  const std::string out = path("nan_run");
  const CliRun r = run_cli("train --arch " + q(tiny_vit()) + " --data synthetic:256 --epochs 2 --batch 32 "
                           "--lr 1e5 --warmup-epochs 0 --threads 1 --log-level warn --out " + q(out));
  CHECK(r.is_input_error());
  CHECK_THAT(r.err, Contains("epoch 1 step") && Contains("--lr"));
  CHECK(!fs::exists(out + "/checkpoint.safetensors"));  // no NaN weights written
  CHECK(!fs::exists(out + "/weights.safetensors"));
}

TEST_CASE("bad input: training data and batch problems are found before anything is written", "[cli][bad_input][train]") {
  // BatchNorm cannot train on one image per step.
  CliRun r = run_cli("train --arch m0 --data synthetic:64 --batch 1 --epochs 1 --out " + q(path("b1")));
  CHECK(r.is_input_error());
  CHECK_THAT(r.err, Contains("--batch") && Contains("BatchNorm"));

  // MNIST-format files of 0x0 images.
  const std::string dir = path("idx00");
  fs::create_directories(dir);
  auto idx = [&](const std::string& name, std::vector<unsigned char> header) {
    std::ofstream(dir + "/" + name, std::ios::binary)
        .write(reinterpret_cast<const char*>(header.data()), std::streamsize(header.size()));
  };
  for (const std::string split : {"train", "t10k"}) {
    idx(split + "-images-idx3-ubyte", {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0});
    idx(split + "-labels-idx1-ubyte", {0, 0, 8, 1, 0, 0, 0, 2, 1, 2});
  }
  const std::string out = path("idx00_run");
  r = run_cli("train --arch " + q(tiny_vit()) + " --data mnist:" + q(dir) + " --epochs 1 --batch 2 --out " + q(out));
  CHECK(r.is_input_error());
  CHECK_THAT(r.err, Contains("0x0"));
  CHECK(!fs::exists(out + "/arch.json"));
}

TEST_CASE("bad input: forward refuses NaN input", "[cli][bad_input]") {
  const std::string w = path("vit_w.safetensors"), x = path("nan_x.safetensors");
  REQUIRE(run_cli("train --arch " + q(tiny_vit()) + " --data synthetic:64 --epochs 1 --batch 32 "
                  "--warmup-epochs 0 --threads 1 --log-level warn --out " + q(path("vit_run"))).code == 0);
  fs::copy_file(path("vit_run") + "/weights.safetensors", w, fs::copy_options::overwrite_existing);
  // A safetensors input of 1x3x16x16 float32 with one NaN, written by hand.
  std::vector<float> values(3 * 16 * 16, 0.5f);
  values[7] = std::numeric_limits<float>::quiet_NaN();
  const std::string header = R"({"input":{"dtype":"F32","shape":[1,3,16,16],"data_offsets":[0,3072]}})";
  std::ofstream out(x, std::ios::binary);
  const uint64_t n = header.size();
  out.write(reinterpret_cast<const char*>(&n), 8).write(header.data(), std::streamsize(n));
  out.write(reinterpret_cast<const char*>(values.data()), 3072);
  out.close();
  const CliRun r = run_cli("forward --arch " + q(tiny_vit()) + " --weights " + q(w) + " --input " + q(x) +
                           " --output " + q(path("y.safetensors")));
  CHECK(r.is_input_error());
  CHECK_THAT(r.err, Contains("1 NaN or infinite"));
  CHECK(!fs::exists(path("y.safetensors")));
  // An input file of metadata only: it holds no tensor (it used to say "several tensors").
  const std::string empty = path("no_tensor.safetensors");
  const std::string meta = R"({"__metadata__":{"k":"v"}})";
  {
    std::ofstream f(empty, std::ios::binary);
    const uint64_t m = meta.size();
    f.write(reinterpret_cast<const char*>(&m), 8).write(meta.data(), std::streamsize(m));
  }
  const CliRun none = run_cli("forward --arch " + q(tiny_vit()) + " --weights " + q(w) + " --input " +
                              q(empty) + " --output " + q(path("y.safetensors")));
  CHECK(none.is_input_error());
  CHECK_THAT(none.err, Contains("holds no tensor"));
}

TEST_CASE("stray work: temporaries of killed writers are removed, live ones kept", "[bad_input][io]") {
  const std::string target = path("atomic.json");
  // A pid that no longer runs: a child that has exited and been reaped.
  const pid_t child = fork();
  if (child == 0) _exit(0);
  REQUIRE(child > 0);
  waitpid(child, nullptr, 0);
  const std::string stale = target + ".tmp." + std::to_string(child);
  const std::string live = target + ".tmp." + std::to_string(getppid());
  const std::string other = path("other.json.tmp." + std::to_string(child));
  for (const auto& f : {stale, live, other}) write_text(f, "partial");
  write_json_file_atomic(target, json{{"a", 1}});
  CHECK(!fs::exists(stale));
  CHECK(fs::exists(live));   // its writer still runs
  CHECK(fs::exists(other));  // another file's
  CHECK(json::parse(read_text(target))["a"] == 1);
}

TEST_CASE("stray work: kill -9 of the --nproc launcher takes its ranks with it", "[cli][bad_input][distributed]") {
  const pid_t launcher = fork();
  if (launcher == 0) {
    const std::string out = path("orphan_run");
    execl(VITNAS_CLI_PATH, VITNAS_CLI_PATH, "train", "--arch", tiny_vit().c_str(), "--data",
          "synthetic:20000", "--epochs", "1000", "--batch", "32", "--nproc", "2", "--threads", "1",
          "--log-level", "error", "--out", out.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  REQUIRE(launcher > 0);
  // Its children, from /proc (pid, ppid): wait until both ranks run.
  auto children = [&] {
    std::vector<pid_t> pids;
    for (const auto& entry : fs::directory_iterator("/proc")) {
      const std::string name = entry.path().filename().string();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      std::ifstream stat(entry.path() / "stat");
      std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
      const size_t close = text.rfind(')');
      if (close == std::string::npos) continue;
      std::istringstream rest(text.substr(close + 2));
      char state = 0;
      pid_t ppid = 0;
      rest >> state >> ppid;
      if (ppid == launcher && state != 'Z') pids.push_back(pid_t(std::stol(name)));
    }
    return pids;
  };
  std::vector<pid_t> ranks;
  for (int i = 0; i < 300 && ranks.size() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ranks = children();
  }
  REQUIRE(ranks.size() == 2);
  kill(launcher, SIGKILL);
  waitpid(launcher, nullptr, 0);
  auto alive = [](pid_t p) {
    std::ifstream stat("/proc/" + std::to_string(p) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    const size_t close = text.rfind(')');
    return close != std::string::npos && text[close + 2] != 'Z';
  };
  bool any = true;
  for (int i = 0; i < 100 && any; ++i) {  // a hang guard of 10 s; SIGKILL is immediate
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    any = alive(ranks[0]) || alive(ranks[1]);
  }
  CHECK(!any);
}

TEST_CASE("stray work: profile --resume with other flags than the table's job is refused", "[cli][bad_input][latency]") {
  // Two small efficientvit networks differing in one stage's width.
  auto custom = [](const std::string& name, int dim) {
    json j = json::parse(kCustomSpec);
    j["name"] = name;
    j["stages"][1]["embed_dim"] = dim;
    for (auto& h : j["stages"][1]["blocks"][0]["attention"]["heads"]) h["v_dim"] = dim / 3;
    write_text(path(name + ".json"), j.dump());
    return path(name + ".json");
  };
  const std::string a = custom("net_a", 48), b = custom("net_b", 36);
  const std::string table = path("resume_table.json");
  const std::string quick = " --batch 2 --seconds 0.01 --log-level warn";
  REQUIRE(run_cli("profile --arch " + q(a) + "," + q(b) + " --out " + q(table) + quick).code == 0);
  const CliRun r = run_cli("profile --arch " + q(a) + " --out " + q(table) + quick + " --resume");
  CHECK(r.is_input_error());
  CHECK_THAT(r.err, Contains("not produced by this"));
}

TEST_CASE("usability: --config paths are relative to the config's folder", "[cli][bad_input]") {
  const std::string dir = path("config_dir");
  fs::create_directories(dir + "/nets");
  write_text(dir + "/nets/tiny.json", kTinyViTSpec);
  write_text(dir + "/info.json", R"({"arch": "nets/tiny.json", "json": true})");
  // Run from another working directory: the path still resolves.
  const CliRun r = run_cli("info --config " + q(dir + "/info.json"));
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out_json()["name"] == "tiny_vit");
}

TEST_CASE("usability: --warmup-epochs' default fits a one-epoch run, a given value stays strict", "[cli][bad_input][train]") {
  const std::string args = "train --arch " + q(tiny_vit()) + " --data synthetic:64 --epochs 1 --batch 32 "
                           "--threads 1 --log-level warn --out ";
  CliRun r = run_cli(args + q(path("warm_default")));
  INFO(r.err);
  CHECK(r.code == 0);
  r = run_cli(args + q(path("warm_given")) + " --warmup-epochs 1");
  CHECK(r.is_input_error());
  CHECK_THAT(r.err, Contains("--warmup-epochs"));
}

TEST_CASE("usability: progress is a plain line every 10 s when stderr is not a terminal", "[cli][bad_input]") {
  // run_cli sends stderr to a file, as a batch job or `2> log` does: no redrawn bar, but a line
  // after 10 s (12 s of timing; a 10 s wait is the price of testing the real interval).
  const CliRun r = run_cli("bench --arch m0 --batch 1 --threads 1 --warmup 0 --rounds 1 --seconds 12");
  REQUIRE(r.code == 0);
  CHECK_THAT(r.err, Contains("bench m0 ") && Contains("% ETA"));
  CHECK_THAT(r.err, !Contains("\r"));
}

TEST_CASE("usability: every flag of every command has --help text", "[cli][bad_input]") {
  for (const std::string cmd :
       {"info", "bench", "forward", "profile", "latency predict", "latency validate", "latency calibrate",
        "latency check-costs",
        "train", "bench-train", "supernet train", "supernet eval", "supernet extract", "search", "prune",
        "prune analyse"}) {
    const CliRun r = run_cli(cmd + " --help");
    REQUIRE(r.code == 0);
    std::istringstream lines(r.out);
    std::vector<std::string> all;
    for (std::string line; std::getline(lines, line);) all.push_back(line);
    for (size_t i = 0; i < all.size(); ++i) {
      const std::string& line = all[i];
      if (line.rfind("  -", 0) != 0) continue;  // an option line: "  --name TYPE   description"
      // CLI11's layout: the description starts in column 30, on the next line when the
      // option's own text is wider.
      constexpr size_t kColumn = 30;
      const bool same_line = line.size() > kColumn && line[kColumn - 1] == ' ' && line[kColumn] != ' ';
      const bool next_line = i + 1 < all.size() && all[i + 1].size() > kColumn &&
                             all[i + 1].find_first_not_of(' ') == kColumn;
      INFO(cmd << ": " << line);
      CHECK((same_line || next_line));
    }
  }
}
