// `vitnas search` end to end: the files it writes and what they hold, budgets, a supernet's
// accuracy equal to `supernet eval`'s, the same front with 1 or 2 threads, and bad input (a
// table of another machine, a table without the space's ops, budgets below the smallest
// network, a corrupt state, a space that is not the supernet's) as one-line errors; `search
// finetune` of the front (extracted as `supernet extract` does, trained, reported, resumed).
#include <catch2/catch.hpp>

#include <filesystem>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/io.h"
#include "cli_runner.h"

using namespace vitnas;
using namespace vitnas::test;
using Catch::Matchers::Contains;
using nlohmann::json;

namespace {

namespace fs = std::filesystem;

std::string space_path(const std::string& name) {
  return std::string(VITNAS_SOURCE_DIR) + "/experiments/spaces/" + name + ".json";
}

// An MPC table prices any network analytically: a table valid on every machine.
std::string mpc_table() {
  static const std::string table = [] {
    const std::string t = scratch_path("search_mpc_table.json");
    REQUIRE(run_cli("profile --device mpc --space " + q(space_path("small")) + " --out " + q(t) +
                    " --log-level warn").code == 0);
    return t;
  }();
  return table;
}

// The last line of a metrics.jsonl: the final epoch.
json last_metrics(const std::string& path) {
  std::string text = read_text(path);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return json::parse(text.substr(text.find_last_of('\n') == std::string::npos ? 0 : text.find_last_of('\n') + 1));
}

std::string search_args(const std::string& out, const std::string& extra) {
  return "search --table " + q(mpc_table()) + " --out " + q(out) +
         " --population 8 --generations 2 --log-level warn " + extra;
}

}  // namespace

TEST_CASE("cli search: front files, budgets and the plot", "[search][cli]") {
  const std::string out = scratch_path("search_out");
  const CliRun ok = run_cli(search_args(out, "--space " + q(space_path("small")) + " --mark m0 --json"));
  INFO(ok.err);
  REQUIRE(ok.code == 0);
  const json front = ok.out_json();
  CHECK(front["evaluated"] == 8 * 3);
  CHECK(front["unit"] == "s");
  CHECK(front["search"]["objectives"] == "macs:max,latency");
  REQUIRE(front["front"].size() >= 2);
  double last = 0;
  for (const auto& row : front["front"]) {
    CHECK(row["latency"].get<double>() >= last);  // fastest first
    last = row["latency"].get<double>();
    // Each front network is a file the other commands take.
    const CliRun info = run_cli("info --arch " + q(out + "/" + row["file"].get<std::string>()) + " --json");
    INFO(info.err);
    CHECK(info.code == 0);
    CHECK(info.out_json()["params"].get<double>() == row["params"].get<double>());
  }
  std::istringstream csv(read_text(out + "/front.csv"));
  int lines = 0;
  for (std::string line; std::getline(csv, line);) ++lines;
  CHECK(lines == int(front["front"].size()) + 1);
  std::istringstream history(read_text(out + "/history.jsonl"));
  lines = 0;
  for (std::string line; std::getline(history, line);) ++lines;
  CHECK(lines == 8 * 3);
  CHECK(read_text(out + "/front.svg").rfind("<svg", 0) == 0);
  json saved = read_json_file(out + "/front.json");
  saved["seconds"] = front["seconds"];  // the --json output adds the run time
  CHECK(saved == front);
  REQUIRE(front["marks"].size() == 1);
  CHECK(front["marks"][0]["name"] == "m0");
  CHECK_FALSE(front["marks"][0].contains("accuracy"));  // no supernet

  // --budgets: the best under each is on the front's latency side of the budget.
  const std::string budgets_out = scratch_path("search_budgets");
  const double mid = front["front"][front["front"].size() / 2]["latency"].get<double>();
  const CliRun b = run_cli(search_args(budgets_out, "--space " + q(space_path("small")) +
                                                        " --budgets " + json(mid).dump() + " --json"));
  INFO(b.err);
  REQUIRE(b.code == 0);
  const json pick = b.out_json()["budgets"][0];
  CHECK(pick["latency"].get<double>() <= mid);
  CHECK(fs::exists(budgets_out + "/" + pick["file"].get<std::string>()));
}

TEST_CASE("cli search: bad input is a one-line error that overwrites nothing", "[search][cli]") {
  const std::string small = "--space " + q(space_path("small"));
  const std::string out = scratch_path("search_bad");
  CHECK_THAT(run_cli(search_args(out, small + " --budgets 1e-9")).err,
             Contains("below the smallest network of small"));
  CHECK(run_cli(search_args(out, small + " --objectives accuracy,latency")).is_input_error());
  CHECK(run_cli(search_args(out, small + " --objectives speed,latency")).is_input_error());
  CHECK(run_cli(search_args(out, small + " --measure")).is_input_error());  // an mpc table
  CHECK(run_cli(search_args(out, small + " --strategy greedy")).is_input_error());
  CHECK(run_cli(search_args(out, small + " --population 1")).is_input_error());  // before any log line
  CHECK(run_cli(search_args(out, small + " --budgets abc")).is_input_error());
  CHECK_FALSE(fs::exists(out + "/state.json"));

  // A cpu table made on another machine is refused; allowed, it still must price the space.
  json table = read_json_file(std::string(VITNAS_SOURCE_DIR) + "/experiments/tables/cpu_1t_b16.json");
  table["device"]["model"] = "a CPU this machine is not";
  const std::string foreign = scratch_path("foreign_table.json");
  write_text(foreign, table.dump());
  const std::string base = "search --table " + q(foreign) + " --out " + q(out) +
                           " --population 4 --generations 0 --log-level warn ";
  const CliRun refused = run_cli(base + small);
  CHECK(refused.is_input_error());
  CHECK_THAT(refused.err, Contains("--allow-foreign-table"));
  CHECK_THAT(run_cli(base + small + " --allow-foreign-table --measure").err,
             Contains("--measure times networks on the table's device only"));
  const CliRun lacking = run_cli(base + small + " --allow-foreign-table");
  CHECK_THAT(lacking.err, Contains("has no entry"));
  CHECK(lacking.code == 2);

  // A finished search: a second one into the same directory, or a corrupt state, is refused.
  REQUIRE(run_cli(search_args(out, small)).code == 0);
  CHECK_THAT(run_cli(search_args(out, small)).err, Contains("--resume"));
  const std::string state = read_text(out + "/state.json");
  write_text(out + "/state.json", state.substr(0, state.size() - 10));
  const CliRun corrupt = run_cli(search_args(out, small + " --resume"));
  CHECK(corrupt.is_input_error());
  CHECK(read_text(out + "/state.json") == state.substr(0, state.size() - 10));
}

TEST_CASE("cli search: supernet accuracy, the same front with 1 or 2 threads, search finetune", "[search][cli]") {
  const std::string sup = scratch_path("search_supernet");
  const CliRun trained = run_cli("supernet train --space " + q(space_path("small")) +
                                 " --data synthetic:256 --epochs 1 --warmup-epochs 0 --batch 32 --bn-batches 2 "
                                 "--threads 1 --loader-threads 2 --no-progress --log-level warn --out " + q(sup));
  INFO(trained.err);
  REQUIRE(trained.code == 0);
  auto search = [&](const std::string& out, int threads) {
    return run_cli(search_args(out, "--supernet " + q(sup) + " --population 4 --generations 1 --threads " +
                                        std::to_string(threads) + " --json"));
  };
  const CliRun one = search(scratch_path("search_t1"), 1), two = search(scratch_path("search_t2"), 2);
  INFO(one.err << two.err);
  REQUIRE(one.code == 0);
  REQUIRE(two.code == 0);
  const json f1 = one.out_json(), f2 = two.out_json();
  CHECK(f1["search"]["objectives"] == "accuracy,latency");
  CHECK(f1["front"] == f2["front"]);
  CHECK(read_text(scratch_path("search_t1/history.jsonl")) == read_text(scratch_path("search_t2/history.jsonl")));
  // A front network's accuracy is what `supernet eval` reports for it.
  const json row = f1["front"][0];
  const CliRun eval = run_cli("supernet eval --supernet " + q(sup) + " --threads 1 --json --arch " +
                              q(scratch_path("search_t1/" + row["file"].get<std::string>())));
  INFO(eval.err);
  REQUIRE(eval.code == 0);
  CHECK(eval.out_json()["subnets"][0]["top1"].get<double>() == row["accuracy"].get<double>());
  // The space must be the supernet's.
  CHECK(run_cli(search_args(scratch_path("search_mismatch"), "--supernet " + q(sup) + " --space " +
                                                                 q(space_path("fmnist"))))
            .is_input_error());
  CHECK(f1["supernet"] == sup);  // what `search finetune` extracts from

  // search finetune: every front network extracted from the supernet (what `supernet extract`
  // writes, byte for byte) and trained; the report holds the search's scores beside the run's.
  const std::string ft = scratch_path("search_finetune");
  const std::string ft_args = "search finetune --front " + q(scratch_path("search_t1")) +
                              " --networks front --data synthetic:256 --epochs 1 --batch 32 "
                              "--threads 1 --loader-threads 2 --no-progress --log-level warn --json";
  const CliRun tuned = run_cli(ft_args + " --out " + q(ft));
  INFO(tuned.err);
  REQUIRE(tuned.code == 0);
  const json report = tuned.out_json();
  REQUIRE(report["networks"].size() == f1["front"].size());
  for (size_t i = 0; i < f1["front"].size(); ++i) {
    const json& searched = f1["front"][i];
    const json& n = report["networks"][i];
    const std::string name = searched["name"].get<std::string>();
    CHECK(n["name"] == name);
    CHECK(n["init"] == "supernet");
    CHECK(n["searched_accuracy"] == searched["accuracy"]);
    CHECK(n["searched_latency"] == searched["latency"]);
    const json last = last_metrics(ft + "/" + name + "/metrics.jsonl");
    CHECK(n["test_top1"] == last["test_top1"]);
    CHECK(n["epochs"] == 1);
    if (i == 0) {
      const std::string ex = scratch_path("search_finetune_extract");
      REQUIRE(run_cli("supernet extract --supernet " + q(sup) + " --threads 1 --log-level warn --out " +
                      q(ex) + " --arch " + q(scratch_path("search_t1/" + searched["file"].get<std::string>())))
                  .code == 0);
      CHECK(read_text(ft + "/" + name + "/init/weights.safetensors") == read_text(ex + "/weights.safetensors"));
      CHECK(read_text(ft + "/" + name + "/weights.safetensors") != read_text(ex + "/weights.safetensors"));
    }
  }
  CHECK(read_text(ft + "/finetune.csv").find(f1["front"][0]["name"].get<std::string>() + ",front,supernet,") !=
        std::string::npos);
  // --resume reports the finished runs without training again; a second run without it is refused.
  const std::string metrics = read_text(ft + "/finetune.json");
  const CliRun again = run_cli(ft_args + " --out " + q(ft) + " --resume");
  REQUIRE(again.code == 0);
  CHECK(again.out_json()["networks"] == report["networks"]);
  CHECK(run_cli(ft_args + " --out " + q(ft)).is_input_error());
  CHECK(read_text(ft + "/finetune.json") == metrics);
  // --from-scratch: no extraction; a reference network (--arch) beside it, from scratch too.
  const std::string name0 = f1["front"][0]["name"].get<std::string>();
  json reference = json::parse(read_text(scratch_path("search_t1/front/" + name0 + ".json")));
  reference["name"] = "reference";
  write_text(scratch_path("search_finetune_reference.json"), reference.dump());
  const std::string fs_dir = scratch_path("search_finetune_scratch");
  const CliRun scratch = run_cli(ft_args + " --out " + q(fs_dir) + " --from-scratch --networks " + name0 +
                                 " --arch " + q(scratch_path("search_finetune_reference.json")));
  INFO(scratch.err);
  REQUIRE(scratch.code == 0);
  const json rows = scratch.out_json()["networks"];
  REQUIRE(rows.size() == 2);
  CHECK(rows[0]["init"] == "scratch");
  CHECK(rows[1]["name"] == "reference");
  CHECK(rows[1]["role"] == "reference");
  CHECK(rows[1]["searched_accuracy"].is_null());
  CHECK_FALSE(fs::exists(fs_dir + "/" + name0 + "/init"));
  // The same network from the same seed's initialisation: the same run, whatever its name.
  CHECK(rows[0]["test_top1"] == rows[1]["test_top1"]);
  // Bad input: a name the front lacks, a directory without a front, a duplicate name.
  CHECK(run_cli(ft_args + " --out " + q(scratch_path("search_finetune_bad")) + " --networks nosuch").is_input_error());
  CHECK(run_cli(ft_args + " --out " + q(scratch_path("search_finetune_bad")) + " --front " + q(sup)).is_input_error());
  CHECK(run_cli(ft_args + " --out " + q(scratch_path("search_finetune_bad")) + " --networks " + name0 +
                " --arch " + q(scratch_path("search_t1/front/" + name0 + ".json"))).is_input_error());
  CHECK_FALSE(fs::exists(scratch_path("search_finetune_bad")));
}
