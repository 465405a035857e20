// The SVG writer's axes and bars against hand-computed geometry, and `vitnas report` on the
// result folders the README's figures come from (experiments/results/, experiments/tables/).
#include <filesystem>
#include <regex>

#include <catch2/catch.hpp>

#include "cli_runner.h"
#include "core/svg_plot.h"

using namespace vitnas;
using namespace vitnas::test;

namespace {

int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("svg: nice axes are whole 1, 2 or 5 x 10^k ticks covering the data", "[report]") {
  const AxisTicks a = nice_axis(0, 10);  // 10 / 6 = 1.67 -> step 2
  CHECK(a.lo == 0);
  CHECK(a.hi == 10);
  CHECK(a.step == 2);
  const AxisTicks b = nice_axis(0.3, 87);  // 14.5 -> step 20, [0, 100]
  CHECK(b.lo == 0);
  CHECK(b.hi == 100);
  CHECK(b.step == 20);
  const AxisTicks c = nice_axis(-3, 0.04);  // 0.507 -> step 1, [-3, 1]
  CHECK(c.lo == -3);
  CHECK(c.hi == 1);
  CHECK(c.step == 1);
  const AxisTicks d = nice_axis(5, 5);  // one value: widened by 5% to [4.75, 5.25], step 0.1
  CHECK(d.lo == Approx(4.7));
  CHECK(d.hi == Approx(5.3));
  CHECK(d.step == Approx(0.1));
}

TEST_CASE("svg: bars are proportional to their values, labels escaped, the unit on the axis", "[report]") {
  const BarChart chart{"t", "latency (ms)", {{"a<b", 5, "#000"}, {"c", 10, "#000"}}};
  const std::string svg = render_bars_svg(chart);
  // Axis 0..10 over the plot width 720 - 190 (labels) - 20 = 510: bars of 255 and 510 from x=190.
  CHECK(svg.find("<rect x=\"190\" y=\"42\" width=\"255\"") != std::string::npos);
  CHECK(svg.find("<rect x=\"190\" y=\"60\" width=\"510\"") != std::string::npos);
  CHECK(svg.find(">a&lt;b</text>") != std::string::npos);
  CHECK(svg.find(">latency (ms)</text>") != std::string::npos);
  CHECK(svg.find("height=\"126\"") != std::string::npos);  // 40 + 2 rows of 18 + 50
  for (const char* tick : {">0<", ">2<", ">4<", ">6<", ">8<", ">10<"}) CHECK(svg.find(tick) != std::string::npos);
}

TEST_CASE("svg: a plot has its title, both axis labels, every tick and a legend entry", "[report]") {
  Plot plot{"front", "latency (ms)", "top-1 (%)", {{"series & co", "#123", {0, 10}, {0, 100}, true, 3, {}}}, {}};
  const std::string svg = render_svg(plot);
  for (const char* text : {">front<", ">latency (ms)<", ">top-1 (%)<", ">series &amp; co<", ">100<", ">8<"})
    CHECK(svg.find(text) != std::string::npos);
  CHECK(count(svg, "<circle") == 3);  // two points and the legend's marker
}

TEST_CASE("cli report: every section from the committed results, one self-contained page", "[report][cli]") {
  const std::string src = VITNAS_SOURCE_DIR, out = scratch_path("report.html");
  const std::string train = scratch_path("report_train");
  std::filesystem::create_directories(train);
  std::filesystem::copy_file(src + "/experiments/results/prune_fmnist/trained_deit_metrics.jsonl",
                             train + "/metrics.jsonl", std::filesystem::copy_options::overwrite_existing);
  const CliRun r = run_cli(
      "report --out " + q(out) + " --search " + q(src + "/experiments/results/search_fmnist_front") +
      " --table " + q(src + "/experiments/tables/fmnist_cpu_1t_b16.json") + " --arch " +
      q(src + "/experiments/train/efficientvit_fmnist.json") + " --validation " +
      q(src + "/experiments/tables/cpu_1t_b16_validation.csv") + " --prune " +
      q(src + "/experiments/results/prune_fmnist/r0.4_taylor") + " --train " + q(train));
  INFO(r.err);
  REQUIRE(r.code == 0);
  const std::string html = read_text(out);
  for (const char* h : {"<h2>Search (", "<h2>Latency per block (", "<h2>Latency validation (",
                        "<h2>Pruning (", "<h2>Training ("})
    CHECK(count(html, h) == 1);
  CHECK(count(html, "<svg") == 6);  // front, bars, scatter, kept, top-1, loss
  CHECK(count(html, "<svg") == count(html, "</svg>"));
  CHECK(html.find("<script") == std::string::npos);
  CHECK(count(html, "http") == count(html, "xmlns=\"http://www.w3.org/2000/svg\""));  // nothing fetched
  // Units on the axes.
  for (const char* label : {">predicted latency (ms)<", ">predicted latency (ms per batch of 16)<",
                            ">measured latency (ms)<", ">top-1 (%)<", ">epoch<"})
    CHECK(html.find(label) != std::string::npos);

  const std::string analysis = scratch_path("analysis.html");
  REQUIRE(run_cli("report --out " + q(analysis) + " --prune " +
                  q(src + "/experiments/results/prune_fmnist/analyse_efficientvit")).code == 0);
  CHECK(read_text(analysis).find("<h2>Pruning analysis (") != std::string::npos);
}

TEST_CASE("cli report: an input folder of the wrong kind is a one-line error and no page", "[report][cli]") {
  const std::string src = VITNAS_SOURCE_DIR, never = scratch_path("never.html");
  const std::string search = src + "/experiments/results/search_fmnist_front";
  const std::string prune = src + "/experiments/results/prune_fmnist/r0.4_taylor";
  for (const std::string& args :
       {"--search " + q(prune), "--prune " + q(search), "--train " + q(search),
        "--validation " + q(src + "/experiments/tables/fmnist_cpu_1t_b16.json"),
        "--table " + q(search + "/front.json"), std::string("--arch m0"), std::string(), "--search " + q(scratch_path("nowhere"))}) {
    INFO(args);
    const CliRun r = run_cli("report --out " + q(never) + " " + args);
    CHECK(r.is_input_error());
    CHECK_FALSE(std::filesystem::exists(never));
  }
}
