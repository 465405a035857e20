#include "profile/block_signature.h"

#include <algorithm>
#include <map>
#include <sstream>
#include <vector>

#include "core/error.h"

namespace vitnas {

namespace {

constexpr const char* kOpNames[kOpKinds] = {"stem", "dw", "ffn", "attn_frame", "attn_head",
                                            "patch_merging", "head"};

// The fields each op's key lists, in canonical order. Unlisted fields stay 0.
const std::vector<std::string>& fields_of(OpKind op) {
  static const std::vector<std::string> fields[kOpKinds] = {
      {"b", "r", "c", "widths"},                           // stem
      {"b", "r", "c"},                                     // dw
      {"b", "r", "c", "h"},                                // ffn
      {"b", "r", "c", "win", "heads", "v"},                // attn_frame
      {"b", "r", "win", "c", "kd", "v", "q", "kind", "add"},  // attn_head
      {"b", "r", "c", "h", "o"},                           // patch_merging
      {"b", "r", "c", "n"}};                               // head
  return fields[int(op)];
}

std::string field_value(const BlockSignature& s, const std::string& f) {
  if (f == "b") return std::to_string(s.batch);
  if (f == "r") return std::to_string(s.res);
  if (f == "c") return std::to_string(s.in);
  if (f == "h") return std::to_string(s.hidden);
  if (f == "o" || f == "n") return std::to_string(s.out);
  if (f == "win") return std::to_string(s.window);
  if (f == "heads") return std::to_string(s.heads);
  if (f == "v") return std::to_string(s.op == OpKind::AttnFrame ? s.hidden : s.out);
  if (f == "kd") return std::to_string(s.hidden);
  if (f == "q") return std::to_string(s.kernel);
  if (f == "kind") return to_string(s.kind);
  if (f == "add") return s.cascade_add ? "1" : "0";
  std::string w;  // widths
  for (int i = 0; i < s.stem_len; ++i) w += (i ? "-" : "") + std::to_string(s.stem[size_t(i)]);
  return w;
}

int parse_int(const std::string& key, const std::string& field, const std::string& value) {
  size_t used = 0;
  int v = 0;
  try {
    v = std::stoi(value, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  require(used == value.size() && v >= 0,
          "signature '" + key + "': field " + field + " must be a non-negative integer");
  return v;
}

void set_field(BlockSignature& s, const std::string& key, const std::string& f, const std::string& v) {
  if (f == "widths") {
    std::stringstream in(v);
    std::string w;
    while (std::getline(in, w, '-')) {
      require(s.stem_len < BlockSignature::kMaxStem, "signature '" + key + "': too many stem widths");
      s.stem[size_t(s.stem_len++)] = parse_int(key, f, w);
    }
    return;
  }
  if (f == "kind") {
    const auto kind = attention_kind_from_string(v);
    if (!kind) throw InputError("signature '" + key + "': unknown attention kind '" + v + "'");
    s.kind = *kind;
    return;
  }
  const int n = parse_int(key, f, v);
  if (f == "b") s.batch = n;
  else if (f == "r") s.res = n;
  else if (f == "c") s.in = n;
  else if (f == "h" || f == "kd") s.hidden = n;
  else if (f == "o" || f == "n") s.out = n;
  else if (f == "win") s.window = n;
  else if (f == "heads") s.heads = n;
  else if (f == "v") (s.op == OpKind::AttnFrame ? s.hidden : s.out) = n;
  else if (f == "q") s.kernel = n;
  else if (f == "add") s.cascade_add = n != 0;
}

// splitmix64's finaliser: a cheap, well-mixed combination of small integers.
uint64_t mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  return h;
}

}  // namespace

std::string to_string(OpKind k) { return kOpNames[int(k)]; }

std::string BlockSignature::key() const {
  std::string s = kOpNames[int(op)];
  for (const auto& f : fields_of(op)) s += " " + f + "=" + field_value(*this, f);
  return s;
}

uint64_t BlockSignature::hash() const {
  // Fast path: every field fits 16 bits (8 for the small ones), so two packed words identify
  // the op exactly and one mix per word hashes them (the predictor's inner loop).
  const bool small = batch < 65536 && res < 65536 && in < 65536 && out < 65536 && hidden < 65536 &&
                     window < 256 && kernel < 256 && heads < 256 && batch >= 0 && res >= 0 &&
                     in >= 0 && out >= 0 && hidden >= 0 && window >= 0 && kernel >= 0 && heads >= 0;
  uint64_t h;
  if (small) {
    const uint64_t w0 = uint64_t(op) | uint64_t(batch) << 8 | uint64_t(res) << 24 | uint64_t(in) << 40;
    const uint64_t w1 = uint64_t(out) | uint64_t(hidden) << 16 | uint64_t(window) << 32 |
                        uint64_t(kernel) << 40 | uint64_t(heads) << 48 | uint64_t(kind) << 56 |
                        uint64_t(cascade_add) << 60;
    h = mix(mix(0, w0), w1);
  } else {
    h = mix(1, uint64_t(op));
    for (int v : {batch, res, in, out, hidden, window, kernel, heads, int(kind), int(cascade_add)})
      h = mix(h, uint64_t(uint32_t(v)));
  }
  for (int i = 0; i < stem_len; ++i) h = mix(h, uint64_t(uint32_t(stem[size_t(i)])));
  return h;
}

BlockSignature parse_signature(const std::string& key) {
  std::stringstream in(key);
  std::string name;
  in >> name;
  BlockSignature s;
  const auto* it = std::find(std::begin(kOpNames), std::end(kOpNames), name);
  require(it != std::end(kOpNames), "signature '" + key + "': unknown op '" + name + "'");
  s.op = OpKind(it - std::begin(kOpNames));
  std::map<std::string, std::string> values;
  std::string token;
  while (in >> token) {
    const auto eq = token.find('=');
    require(eq != std::string::npos, "signature '" + key + "': expected field=value, got '" + token + "'");
    values[token.substr(0, eq)] = token.substr(eq + 1);
  }
  const auto& fields = fields_of(s.op);
  for (const auto& f : fields) {
    require(values.count(f) > 0, "signature '" + key + "': missing field " + f);
    set_field(s, key, f, values[f]);
  }
  require(values.size() == fields.size(), "signature '" + key + "': unknown fields for " + name);
  return s;
}

void for_each_op(const ArchSpec& spec, int batch,
                 const std::function<void(int block, const BlockSignature&)>& visit) {
  require(spec.family == Family::EfficientViT,
          "latency tables of cpu/cuda devices cover the efficientvit family (" + spec.name +
              " is a vit); use --device mpc for vit networks");
  const EfficientViTSpec& e = spec.efficientvit;
  auto base = [batch](OpKind op, int res, int in) { return BlockSignature::of(op, batch, res, in); };
  auto dw_ffns = [&](int block, int res, int dim, const std::vector<int>& hiddens) {
    for (int hidden : hiddens) {
      visit(block, base(OpKind::DW, res, dim));
      BlockSignature ffn = base(OpKind::FFN, res, dim);
      ffn.hidden = hidden;
      visit(block, ffn);
    }
  };

  int block = 0;
  BlockSignature stem = base(OpKind::Stem, spec.img_size, spec.in_chans);
  require(int(e.stem.size()) <= BlockSignature::kMaxStem, "stem: at most 8 convs are supported");
  int side = spec.img_size;
  for (int w : e.stem) {
    stem.stem[size_t(stem.stem_len++)] = w;
    side = downsampled_side(side);
  }
  visit(block++, stem);

  int prev = e.stem.back();
  for (const StageSpec& s : e.stages) {
    if (s.downsample) {
      const DownsampleSpec& d = *s.downsample;
      dw_ffns(block++, side, prev, d.ffn_before);
      BlockSignature pm = base(OpKind::PatchMerging, side, prev);
      pm.hidden = d.hidden;
      pm.out = s.embed_dim;
      visit(block++, pm);
      side = downsampled_side(side);
      dw_ffns(block++, side, s.embed_dim, d.ffn_after);
    }
    const int window = std::min(s.window, side);
    for (const BlockSpec& b : s.blocks) {
      dw_ffns(block, side, s.embed_dim, b.ffn_before);
      if (b.attention) {
        const auto& heads = b.attention->heads;
        BlockSignature frame = base(OpKind::AttnFrame, side, s.embed_dim);
        frame.window = window;
        frame.heads = int(heads.size());
        for (const HeadSpec& h : heads) frame.hidden += h.v_dim;
        visit(block, frame);
        for (size_t i = 0; i < heads.size(); ++i) {
          BlockSignature head = base(OpKind::AttnHead, side, s.embed_dim / int(heads.size()));
          head.window = window;
          head.hidden = heads[i].key_dim;
          head.out = heads[i].v_dim;
          head.kernel = heads[i].kernel;
          head.kind = heads[i].kind;
          head.cascade_add = b.attention->cascade && i > 0;
          visit(block, head);
        }
      }
      dw_ffns(block, side, s.embed_dim, b.ffn_after);
      ++block;
    }
    prev = s.embed_dim;
  }
  BlockSignature head = base(OpKind::Head, side, prev);
  head.out = spec.num_classes;
  visit(block, head);
}

}  // namespace vitnas
