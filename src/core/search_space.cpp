// Search spaces: JSON <-> SearchSpace, validation, sampling and membership.
//
// Reading uses json_read.h, as arch_spec.cpp does: strict types, unknown keys rejected, every
// error message starts with the JSON path of the offending value. The one leniency: a choice list
// may be written as a single value. Sampling draws rng() % n rather than using
// std::uniform_int_distribution, whose algorithm differs between standard libraries, so a seed
// names the same samples everywhere.
#include "core/search_space.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/io.h"
#include "core/json_read.h"

namespace vitnas {

using nlohmann::json;
using namespace json_read;

namespace {

// arch_spec.cpp reads kinds the same way (and with the same message).
AttentionKind as_kind(const json& v, const std::string& path) {
  return as_enum(v, path, "kind", kAttentionKinds);
}

// A list of choices; a lone value stands for a one-element list.
template <typename Read>
auto as_list(const json& v, const std::string& path, Read read) {
  std::vector<decltype(read(v, path))> out;
  if (!v.is_array()) {
    out.push_back(read(v, path));
    return out;
  }
  for (size_t i = 0; i < v.size(); ++i) out.push_back(read(v[i], index_path(path, i)));
  return out;
}

// o[key] as a list of choices.
template <typename Read>
auto list(const Object& o, const std::string& key, Read read) {
  return as_list(o.required(key), o.path(key), read);
}

// ---- parsing ---------------------------------------------------------------------------

const char* const kDownsampleKeys[] = {"downsample_ratio", "downsample_ffn_before",
                                       "downsample_ffn_after"};

StageChoices parse_stage(const json& j, const std::string& path, size_t index) {
  const Object o(j, path,
                 {"embed_dim", "depth", "window", "heads", "key_dim", "kernel", "kinds", "cascade",
                  "attention", "ffn_ratio", "ffn_before", "ffn_after", "downsample_ratio",
                  "downsample_ffn_before", "downsample_ffn_after"});
  StageChoices c;
  c.embed_dim = list(o, "embed_dim", as_int);
  c.depth = list(o, "depth", as_int);
  // One window per stage; [7] is accepted like 7 so every key may be written as a list.
  const auto windows = list(o, "window", as_int);
  if (windows.size() != 1) fail(o.path("window"), "expected one window side per stage");
  c.window = windows[0];
  c.heads = list(o, "heads", as_int);
  c.key_dim = list(o, "key_dim", as_int);
  c.kernel = list(o, "kernel", as_int);
  c.kinds = list(o, "kinds", as_kind);
  c.cascade = list(o, "cascade", as_bool);
  c.attention = list(o, "attention", as_bool);
  c.ffn_ratio = list(o, "ffn_ratio", as_number);
  c.ffn_before = list(o, "ffn_before", as_int);
  c.ffn_after = list(o, "ffn_after", as_int);
  if (index == 0) {
    for (const char* key : kDownsampleKeys) {
      if (o.has(key)) fail(o.path(key), "must be absent for the first stage (the stem feeds it)");
    }
    return c;
  }
  c.downsample_ratio = list(o, "downsample_ratio", as_number);
  c.downsample_ffn_before = list(o, "downsample_ffn_before", as_int);
  c.downsample_ffn_after = list(o, "downsample_ffn_after", as_int);
  return c;
}

// ---- validation ------------------------------------------------------------------------

// A set of choices: at least one, none repeated (a repeat would skew uniform sampling).
template <typename T>
void require_choices(const std::vector<T>& v, const std::string& path) {
  if (v.empty()) fail(path, "must not be empty (list at least one choice)");
  if (v.size() > size_t(kMaxRepeats))
    fail(path, std::to_string(v.size()) + " choices, above the limit " +
                   std::to_string(kMaxRepeats));
  for (size_t i = 0; i < v.size(); ++i) {
    for (size_t k = 0; k < i; ++k) {
      if (v[i] == v[k]) fail(index_path(path, i), "repeats an earlier choice");
    }
  }
}

// Choices in [min, max] (max: a documented limit of arch_spec.h).
void require_in(const std::vector<int>& v, int min, int max, const std::string& path) {
  require_choices(v, path);
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] < min)
      fail(index_path(path, i), "must be >= " + std::to_string(min) + ", got " +
                                    std::to_string(v[i]));
    if (v[i] > max)
      fail(index_path(path, i), std::to_string(v[i]) + " is above the limit " +
                                    std::to_string(max));
  }
}

// Ratios must give a usable width (>= 1 channel, no int overflow) at every width they scale.
void require_ratios(const std::vector<double>& v, const std::vector<int>& widths,
                    const std::string& path) {
  require_choices(v, path);
  for (size_t i = 0; i < v.size(); ++i) {
    for (int w : widths) {
      const double x = v[i] * w;
      if (!(x >= 0.5) || x > kMaxWidth)  // !(>=) also catches NaN
        fail(index_path(path, i), "ratio " + json(v[i]).dump() + " gives an unusable width at " +
                                      std::to_string(w) + " channels");
    }
  }
}

void validate_stage(const StageChoices& c, size_t index, const std::vector<int>& prev_widths,
                    const std::string& path) {
  const auto p = [&](const char* key) { return key_path(path, key); };
  require_in(c.embed_dim, 1, kMaxWidth, p("embed_dim"));
  require_in(c.depth, 1, kMaxRepeats, p("depth"));
  if (c.window < 1 || c.window > kMaxImgSize)
    fail(p("window"), "must be in [1, " + std::to_string(kMaxImgSize) + "], got " +
                          std::to_string(c.window));
  require_in(c.heads, 1, kMaxRepeats, p("heads"));
  require_in(c.key_dim, 1, kMaxWidth, p("key_dim"));
  require_in(c.kernel, 1, kMaxKernel, p("kernel"));
  for (size_t i = 0; i < c.kernel.size(); ++i) {
    if (c.kernel[i] % 2 == 0)
      fail(index_path(p("kernel"), i), "must be odd (pad k/2 keeps the size), got " +
                                           std::to_string(c.kernel[i]));
  }
  require_choices(c.kinds, p("kinds"));
  require_choices(c.cascade, p("cascade"));
  require_choices(c.attention, p("attention"));
  require_ratios(c.ffn_ratio, c.embed_dim, p("ffn_ratio"));
  require_in(c.ffn_before, 0, kMaxRepeats, p("ffn_before"));
  require_in(c.ffn_after, 0, kMaxRepeats, p("ffn_after"));
  // Heads split the width into equal chunks, so every width needs a head count that divides it.
  for (int w : c.embed_dim) {
    if (head_choices(c, w).empty())
      fail(p("heads"), "no choice divides embed_dim " + std::to_string(w));
  }
  if (index == 0) {
    const bool any = !c.downsample_ratio.empty() || !c.downsample_ffn_before.empty() ||
                     !c.downsample_ffn_after.empty();
    if (any)
      fail(p("downsample_ratio"), "downsample fields must be empty for the first stage");
    return;
  }
  require_ratios(c.downsample_ratio, prev_widths, p("downsample_ratio"));
  require_in(c.downsample_ffn_before, 0, kMaxRepeats, p("downsample_ffn_before"));
  require_in(c.downsample_ffn_after, 0, kMaxRepeats, p("downsample_ffn_after"));
}

// ---- sampling --------------------------------------------------------------------------
// sample(), largest(), smallest() and build_arch() are one construction; only the chooser
// differs. Each choice comes with its JSON path in the ArchSpec (outside() names the same paths).

// Every draw consumes exactly one rng() value; the modulo bias is < n / 2^64.
struct RandomChoice {
  std::mt19937_64& rng;
  template <typename T>
  T operator()(const std::vector<T>& choices, const std::string&) const {
    return choices[static_cast<size_t>(rng() % choices.size())];
  }
};

// The largest (or smallest) choice: numbers and booleans by value; attention kinds by cost, so
// the largest is the first of softmax, relu_softmax, scaling the space offers.
struct ExtremeChoice {
  bool largest;
  template <typename T>
  T operator()(const std::vector<T>& choices, const std::string&) const {
    const bool want_max = std::is_same_v<T, AttentionKind> ? !largest : largest;
    return want_max ? *std::max_element(choices.begin(), choices.end())
                    : *std::min_element(choices.begin(), choices.end());
  }
};

// A Decide callback's choice: the values as numbers (search_space.h says how).
struct DecidedChoice {
  const Decide& decide;
  template <typename T>
  T operator()(const std::vector<T>& choices, const std::string& path) const {
    std::vector<double> values;
    for (const T& c : choices) {
      if constexpr (std::is_enum_v<T>)
        values.push_back(static_cast<double>(static_cast<int>(c)));
      else
        values.push_back(static_cast<double>(c));
    }
    const size_t i = decide(path, values);
    if (i >= choices.size())
      throw std::logic_error(path + ": a Decide callback chose index " + std::to_string(i) +
                             " of " + std::to_string(choices.size()) + " choices");
    return choices[i];
  }
};

// The hidden widths of `count` FFNs, one ratio chosen per FFN.
template <typename Choose>
std::vector<int> choose_ffns(int count, const std::vector<double>& ratios, int width,
                             const Choose& choose, const std::string& path) {
  std::vector<int> hidden;
  for (int i = 0; i < count; ++i)
    hidden.push_back(scaled_width(choose(ratios, index_path(path, size_t(i))), width));
  return hidden;
}

template <typename Choose>
BlockSpec choose_block(const StageChoices& c, int width, const Choose& choose,
                       const std::string& path) {
  BlockSpec b;
  const int n_before = choose(c.ffn_before, path + ".ffn_before");
  const int n_after = choose(c.ffn_after, path + ".ffn_after");
  b.ffn_before = choose_ffns(n_before, c.ffn_ratio, width, choose, path + ".ffn_before");
  b.ffn_after = choose_ffns(n_after, c.ffn_ratio, width, choose, path + ".ffn_after");
  const std::string ap = path + ".attention";
  if (!choose(c.attention, ap)) return b;
  AttentionSpec att;
  att.cascade = choose(c.cascade, ap + ".cascade");
  const int heads = choose(head_choices(c, width), ap + ".heads");
  for (int h = 0; h < heads; ++h) {
    const std::string hp = index_path(ap + ".heads", size_t(h));
    HeadSpec head;
    head.key_dim = choose(c.key_dim, hp + ".key_dim");
    head.v_dim = width / heads;
    head.kernel = choose(c.kernel, hp + ".kernel");
    head.kind = choose(c.kinds, hp + ".kind");
    att.heads.push_back(head);
  }
  b.attention = att;
  return b;
}

// The draw order is the one search_space.h documents for sample().
template <typename Choose>
ArchSpec choose_arch(const SearchSpace& s, const Choose& choose, const std::string& name) {
  validate(s);  // an invalid space could divide by an empty list
  ArchSpec a;
  a.family = Family::EfficientViT;
  a.name = name;
  a.img_size = choose(s.img_size, "img_size");
  a.in_chans = s.in_chans;
  a.num_classes = s.num_classes;
  int prev_width = 0;
  for (size_t i = 0; i < s.stages.size(); ++i) {
    const StageChoices& c = s.stages[i];
    const std::string sp = index_path("stages", i);
    StageSpec st;
    st.embed_dim = choose(c.embed_dim, sp + ".embed_dim");
    st.window = c.window;
    const int depth = choose(c.depth, sp + ".blocks");
    if (i > 0) {
      const std::string dp = sp + ".downsample";
      DownsampleSpec d;
      d.hidden = scaled_width(choose(c.downsample_ratio, dp + ".hidden"), prev_width);
      const int n_before = choose(c.downsample_ffn_before, dp + ".ffn_before");
      const int n_after = choose(c.downsample_ffn_after, dp + ".ffn_after");
      d.ffn_before =
          choose_ffns(n_before, s.stages[i - 1].ffn_ratio, prev_width, choose, dp + ".ffn_before");
      d.ffn_after = choose_ffns(n_after, c.ffn_ratio, st.embed_dim, choose, dp + ".ffn_after");
      st.downsample = d;
    }
    for (int b = 0; b < depth; ++b)
      st.blocks.push_back(choose_block(c, st.embed_dim, choose, index_path(sp + ".blocks", size_t(b))));
    a.efficientvit.stages.push_back(st);
    prev_width = st.embed_dim;
  }
  const int first_width = a.efficientvit.stages[0].embed_dim;
  for (int d : s.stem_divisors) a.efficientvit.stem.push_back(first_width / d);
  validate(a);  // a failure here is a bug in this file, not in the space
  return a;
}

// ---- membership: the first value of an ArchSpec the space does not offer ------------------

template <typename T>
bool in(const std::vector<T>& choices, const T& x) {
  return std::find(choices.begin(), choices.end(), x) != choices.end();
}

std::string text(int v) { return std::to_string(v); }
std::string text(bool v) { return v ? "true" : "false"; }
std::string text(AttentionKind k) { return to_string(k); }

template <typename T>
std::string text(const std::vector<T>& choices) {
  std::string out = "(";
  for (size_t i = 0; i < choices.size(); ++i) out += (i ? ", " : "") + text(choices[i]);
  return out + ")";
}

using Why = std::optional<std::string>;

// "path: 24 is not a choice of the space (8, 16)" unless x is one of the choices.
template <typename T>
Why choice(const std::vector<T>& choices, const T& x, const std::string& path) {
  if (in(choices, x)) return std::nullopt;
  return path + ": " + text(x) + " is not a choice of the space " + text(choices);
}

Why ffns_outside(const std::vector<int>& hidden, const std::vector<int>& counts,
                 const std::vector<double>& ratios, int width, const std::string& path) {
  if (Why w = choice(counts, static_cast<int>(hidden.size()), path + " (FFN count)")) return w;
  const std::vector<int> ok = hidden_choices(ratios, width);
  for (size_t i = 0; i < hidden.size(); ++i)
    if (Why w = choice(ok, hidden[i], index_path(path, i) + " (hidden width at " +
                                          std::to_string(width) + " channels)"))
      return w;
  return std::nullopt;
}

Why block_outside(const StageChoices& c, int width, const BlockSpec& b, const std::string& path) {
  if (Why w = ffns_outside(b.ffn_before, c.ffn_before, c.ffn_ratio, width, path + ".ffn_before"))
    return w;
  if (Why w = ffns_outside(b.ffn_after, c.ffn_after, c.ffn_ratio, width, path + ".ffn_after"))
    return w;
  if (Why w = choice(c.attention, b.attention.has_value(), path + ".attention (present)")) return w;
  if (!b.attention) return std::nullopt;
  const AttentionSpec& att = *b.attention;
  const std::string ap = path + ".attention";
  const int heads = static_cast<int>(att.heads.size());
  if (Why w = choice(c.cascade, att.cascade, ap + ".cascade")) return w;
  if (Why w = choice(head_choices(c, width), heads, ap + ".heads (count)")) return w;
  for (size_t i = 0; i < att.heads.size(); ++i) {
    const HeadSpec& h = att.heads[i];
    const std::string hp = index_path(ap + ".heads", i);
    if (Why w = choice(c.key_dim, h.key_dim, hp + ".key_dim")) return w;
    if (Why w = choice({width / heads}, h.v_dim, hp + ".v_dim")) return w;
    if (Why w = choice(c.kernel, h.kernel, hp + ".kernel")) return w;
    if (Why w = choice(c.kinds, h.kind, hp + ".kind")) return w;
  }
  return std::nullopt;
}

// ---- size ------------------------------------------------------------------------------

// log10(10^a + 10^b) without overflow; -inf is the empty sum.
double log10_add(double a, double b) {
  if (std::isinf(a) && a < 0) return b;
  const double hi = std::max(a, b), lo = std::min(a, b);
  return hi + std::log10(1.0 + std::pow(10.0, lo - hi));
}

// Number of FFN lists: sum over counts n of (number of ratios)^n.
double ffn_lists(const std::vector<int>& counts, size_t ratios) {
  double n = 0;
  for (int c : counts) n += std::pow(static_cast<double>(ratios), c);
  return n;
}

}  // namespace

// ---- public API ------------------------------------------------------------------------

SearchSpace space_from_json(const json& j) {
  const Object o(j, "", {"name", "img_size", "in_chans", "num_classes", "stem_divisors", "stages"});
  SearchSpace s;
  s.name = o.string("name");
  s.img_size = list(o, "img_size", as_int);
  if (o.has("in_chans")) s.in_chans = o.integer("in_chans");
  if (o.has("num_classes")) s.num_classes = o.integer("num_classes");
  if (o.has("stem_divisors")) s.stem_divisors = list(o, "stem_divisors", as_int);
  const json& stages = as_array(o.required("stages"), "stages");
  for (size_t i = 0; i < stages.size(); ++i)
    s.stages.push_back(parse_stage(stages[i], index_path("stages", i), i));
  validate(s);
  return s;
}

json space_to_json(const SearchSpace& s) {
  json stages = json::array();
  for (size_t i = 0; i < s.stages.size(); ++i) {
    const StageChoices& c = s.stages[i];
    json kinds = json::array(), cascade = json::array(), attention = json::array();
    for (AttentionKind k : c.kinds) kinds.push_back(to_string(k));
    for (bool b : c.cascade) cascade.push_back(b);
    for (bool b : c.attention) attention.push_back(b);
    json st = {{"embed_dim", c.embed_dim}, {"depth", c.depth},         {"window", c.window},
               {"heads", c.heads},         {"key_dim", c.key_dim},     {"kernel", c.kernel},
               {"kinds", kinds},           {"cascade", cascade},       {"attention", attention},
               {"ffn_ratio", c.ffn_ratio}, {"ffn_before", c.ffn_before},
               {"ffn_after", c.ffn_after}};
    if (i > 0) {
      st["downsample_ratio"] = c.downsample_ratio;
      st["downsample_ffn_before"] = c.downsample_ffn_before;
      st["downsample_ffn_after"] = c.downsample_ffn_after;
    }
    stages.push_back(st);
  }
  return {{"name", s.name},
          {"img_size", s.img_size},
          {"in_chans", s.in_chans},
          {"num_classes", s.num_classes},
          {"stem_divisors", s.stem_divisors},
          {"stages", stages}};
}

SearchSpace load_space(const std::string& path) {
  const json j = read_json_file(path);
  try {
    return space_from_json(j);
  } catch (const InputError& e) {
    throw InputError(path + ": " + e.what());  // which file, then which value
  }
}

void validate(const SearchSpace& s) {
  require_in(s.img_size, 1, kMaxImgSize, "img_size");
  if (s.in_chans < 1 || s.in_chans > kMaxWidth)
    fail("in_chans", "must be in [1, " + std::to_string(kMaxWidth) + "], got " +
                         std::to_string(s.in_chans));
  if (s.num_classes < 1 || s.num_classes > kMaxClasses)
    fail("num_classes", "must be in [1, " + std::to_string(kMaxClasses) + "], got " +
                            std::to_string(s.num_classes));
  if (s.stages.size() > size_t(kMaxRepeats)) fail("stages", "more stages than the limit");
  require_in(s.stem_divisors, 1, kMaxWidth, "stem_divisors");
  // The last stem conv outputs the first stage's width (ArchSpec's rule), so its divisor is 1.
  if (s.stem_divisors.back() != 1)
    fail(index_path("stem_divisors", s.stem_divisors.size() - 1),
         "the last divisor must be 1 (the stem ends at stages[0].embed_dim), got " +
             std::to_string(s.stem_divisors.back()));
  if (s.stages.empty()) fail("stages", "needs at least one stage");
  for (size_t i = 0; i < s.stages.size(); ++i)
    validate_stage(s.stages[i], i, i > 0 ? s.stages[i - 1].embed_dim : std::vector<int>{},
                   index_path("stages", i));
  for (size_t k = 0; k < s.stem_divisors.size(); ++k) {
    for (int w : s.stages[0].embed_dim) {
      if (w % s.stem_divisors[k] != 0)
        fail(index_path("stem_divisors", k),
             std::to_string(s.stem_divisors[k]) + " does not divide stages[0].embed_dim choice " +
                 std::to_string(w));
    }
  }
}

ArchSpec sample(const SearchSpace& s, std::mt19937_64& rng) {
  return choose_arch(s, RandomChoice{rng}, "sample");
}

ArchSpec build_arch(const SearchSpace& s, const Decide& decide, const std::string& name) {
  return choose_arch(s, DecidedChoice{decide}, name);
}

ArchSpec largest(const SearchSpace& s) { return choose_arch(s, ExtremeChoice{true}, "largest"); }
ArchSpec smallest(const SearchSpace& s) { return choose_arch(s, ExtremeChoice{false}, "smallest"); }

std::vector<ArchSpec> sample_distinct(const SearchSpace& s, int count, uint64_t seed,
                                      const std::vector<ArchSpec>& exclude, const std::string& prefix) {
  std::mt19937_64 rng(seed);
  std::vector<ArchSpec> drawn;
  auto seen = [&](const ArchSpec& a) {
    for (const auto& e : exclude)
      if (same_network(a, e)) return true;
    for (const auto& d : drawn)
      if (same_network(a, d)) return true;
    return false;
  };
  for (int tries = 0; int(drawn.size()) < count && tries < 100 * count; ++tries) {
    ArchSpec a = sample(s, rng);
    a.name = prefix + std::to_string(drawn.size());
    if (!seen(a)) drawn.push_back(std::move(a));
  }
  return drawn;
}

std::optional<std::string> outside(const SearchSpace& s, const ArchSpec& a) {
  if (a.family != Family::EfficientViT) return "family: only efficientvit networks are in a space";
  if (a.distillation) return "distillation: a space's networks have no distillation head";
  if (Why w = choice(s.img_size, a.img_size, "img_size")) return w;
  if (Why w = choice({s.in_chans}, a.in_chans, "in_chans")) return w;
  if (Why w = choice({s.num_classes}, a.num_classes, "num_classes")) return w;
  const EfficientViTSpec& e = a.efficientvit;
  if (Why w = choice({int(s.stages.size())}, int(e.stages.size()), "stages (count)")) return w;
  if (Why w = choice({int(s.stem_divisors.size())}, int(e.stem.size()), "stem (count)")) return w;
  for (size_t i = 0; i < s.stages.size(); ++i) {
    const StageChoices& c = s.stages[i];
    const StageSpec& st = e.stages[i];
    const std::string sp = index_path("stages", i);
    const int w = st.embed_dim;
    if (Why why = choice(c.embed_dim, w, sp + ".embed_dim")) return why;
    if (Why why = choice({c.window}, st.window, sp + ".window")) return why;
    if (Why why = choice(c.depth, int(st.blocks.size()), sp + ".blocks (depth)")) return why;
    if (i == 0 && st.downsample) return sp + ".downsample: the first stage has none";
    if (i > 0) {
      const int prev = e.stages[i - 1].embed_dim;
      if (!st.downsample) return sp + ".downsample: missing";
      const DownsampleSpec& d = *st.downsample;
      const std::string dp = sp + ".downsample";
      if (Why why = choice(hidden_choices(c.downsample_ratio, prev), d.hidden, dp + ".hidden"))
        return why;
      if (Why why = ffns_outside(d.ffn_before, c.downsample_ffn_before,
                                 s.stages[i - 1].ffn_ratio, prev, dp + ".ffn_before"))
        return why;
      if (Why why = ffns_outside(d.ffn_after, c.downsample_ffn_after, c.ffn_ratio, w,
                                 dp + ".ffn_after"))
        return why;
    }
    for (size_t b = 0; b < st.blocks.size(); ++b)
      if (Why why = block_outside(c, w, st.blocks[b], index_path(sp + ".blocks", b))) return why;
  }
  for (size_t k = 0; k < s.stem_divisors.size(); ++k)
    if (Why w = choice({e.stages[0].embed_dim / s.stem_divisors[k]}, e.stem[k],
                       index_path("stem", k)))
      return w;
  return std::nullopt;
}

bool contains(const SearchSpace& s, const ArchSpec& a) { return !outside(s, a).has_value(); }

int scaled_width(double ratio, int width) { return static_cast<int>(std::lround(ratio * width)); }

std::vector<int> hidden_choices(const std::vector<double>& ratios, int width) {
  std::vector<int> out;
  for (double r : ratios) out.push_back(scaled_width(r, width));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<int> head_choices(const StageChoices& stage, int embed_dim) {
  std::vector<int> out;
  for (int h : stage.heads) {
    if (h > 0 && embed_dim % h == 0) out.push_back(h);
  }
  return out;
}

std::vector<int> stage_sides(const SearchSpace& s, int img_size) {
  int side = img_size;
  for (size_t i = 0; i < s.stem_divisors.size(); ++i) side = downsampled_side(side);
  std::vector<int> sides;
  for (size_t i = 0; i < s.stages.size(); ++i) {
    if (i > 0) side = downsampled_side(side);
    sides.push_back(side);
  }
  return sides;
}

int64_t space_size_log10(const SearchSpace& s) {
  const double minus_inf = -INFINITY;
  double total = std::log10(static_cast<double>(s.img_size.size()));
  for (size_t i = 0; i < s.stages.size(); ++i) {
    const StageChoices& c = s.stages[i];
    const size_t ratios = c.ffn_ratio.size();
    const double n_false = in(c.attention, false) ? 1 : 0;
    const double n_true = in(c.attention, true) ? static_cast<double>(c.cascade.size()) : 0;
    const double per_head =
        static_cast<double>(c.key_dim.size() * c.kernel.size() * c.kinds.size());
    double downsample = 0;  // log10 of the downsample's choices; rough: widths treated as fixed
    if (i > 0) {
      downsample = std::log10(c.downsample_ratio.size() *
                              ffn_lists(c.downsample_ffn_before, s.stages[i - 1].ffn_ratio.size()) *
                              ffn_lists(c.downsample_ffn_after, ratios));
    }
    double stage = minus_inf;
    for (int w : c.embed_dim) {
      double mixers = 0;
      for (int h : head_choices(c, w)) mixers += std::pow(per_head, h);
      const double block = ffn_lists(c.ffn_before, ratios) * ffn_lists(c.ffn_after, ratios) *
                           (n_false + n_true * mixers);
      for (int d : c.depth) stage = log10_add(stage, d * std::log10(block) + downsample);
    }
    total += stage;
  }
  return static_cast<int64_t>(std::llround(total));
}

}  // namespace vitnas
