#include "profile/op_signature.h"

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
      {"b", "r", "c", "widths"},                              // stem
      {"b", "r", "c"},                                        // dw
      {"b", "r", "c", "h"},                                   // ffn
      {"b", "r", "c", "win", "heads", "v"},                   // attn_frame
      {"b", "r", "win", "c", "kd", "v", "q", "kind", "add"},  // attn_head
      {"b", "r", "c", "h", "o"},                              // patch_merging
      {"b", "r", "c", "n"}};                                  // head
  return fields[int(op)];
}

// The integer member a key field names in an op ("v" is the frame's v_total, a head's v_dim);
// nullptr for the fields that are not plain integers (widths, kind, add).
int OpSignature::*int_field(OpKind op, const std::string& f) {
  if (f == "b") return &OpSignature::batch;
  if (f == "r") return &OpSignature::side;
  if (f == "c") return &OpSignature::in;
  if (f == "h") return &OpSignature::hidden;
  if (f == "o") return &OpSignature::out;
  if (f == "n") return &OpSignature::classes;
  if (f == "win") return &OpSignature::window;
  if (f == "heads") return &OpSignature::heads;
  if (f == "kd") return &OpSignature::key_dim;
  if (f == "v") return op == OpKind::AttnFrame ? &OpSignature::v_total : &OpSignature::v_dim;
  if (f == "q") return &OpSignature::kernel;
  return nullptr;
}

std::string field_value(const OpSignature& s, const std::string& f) {
  if (const auto member = int_field(s.op, f)) return std::to_string(s.*member);
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

void set_field(OpSignature& s, const std::string& key, const std::string& f, const std::string& v) {
  if (f == "widths") {
    std::stringstream in(v);
    std::string w;
    while (std::getline(in, w, '-')) {
      require(s.stem_len < OpSignature::kMaxStem, "signature '" + key + "': too many stem widths");
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
  if (f == "add") s.cascade_add = n != 0;
  else s.*int_field(s.op, f) = n;
}

}  // namespace

std::string to_string(OpKind k) { return kOpNames[int(k)]; }

std::string OpSignature::key() const {
  std::string s = kOpNames[int(op)];
  for (const auto& f : fields_of(op)) s += " " + f + "=" + field_value(*this, f);
  return s;
}

OpSignature parse_signature(const std::string& key) {
  std::stringstream in(key);
  std::string name;
  in >> name;
  OpSignature s;
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

// ---- factories ---------------------------------------------------------------------------

OpSignature stem_op(int batch, const StemPart& p) {
  if (int(p.widths->size()) > OpSignature::kMaxStem)  // (no require(): no message built per call)
    throw InputError("stem: at most 8 convs are supported");
  OpSignature s = make_signature(OpKind::Stem, batch, p.side, p.in_chans);
  for (int w : *p.widths) s.stem[size_t(s.stem_len++)] = w;
  return s;
}

// ---- the ops of a network ------------------------------------------------------------------

void require_op_family(const ArchSpec& spec) {
  if (spec.family != Family::EfficientViT)  // (no require(): the message is not built per call)
    throw InputError("latency tables of cpu/cuda devices cover the efficientvit family (" +
                     spec.name + " is a vit); use --device mpc for vit networks");
}

void for_each_op(const ArchSpec& spec, int batch,
                 const std::function<void(int row, const OpSignature&)>& visit) {
  walk_ops(spec, batch, [&](const Row& row, const OpSignature& s) { visit(row.index, s); });
}

}  // namespace vitnas
