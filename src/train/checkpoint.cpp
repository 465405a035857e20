#include "train/checkpoint.h"

#include <map>

#include "core/error.h"

namespace vitnas {

namespace {

const char* const kModel = "model.";
const char* const kEma = "ema.";
const char* const kOptim = "optim.";

void add_prefixed(safetensors::TensorList& out, const std::string& prefix,
                  const safetensors::TensorList& tensors) {
  for (const auto& [key, t] : tensors) out.emplace_back(prefix + key, t);
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

void save_checkpoint(const std::string& path, const Checkpoint& c) {
  safetensors::TensorList tensors;
  add_prefixed(tensors, kModel, c.model);
  add_prefixed(tensors, kEma, c.ema);
  add_prefixed(tensors, kOptim, c.optimizer);
  safetensors::save(path, tensors,
                    {{"format", kCheckpointFormat},
                     {"epoch", std::to_string(c.epoch)},
                     {"step", std::to_string(c.step)},
                     {"seconds", nlohmann::json(c.seconds).dump()},
                     {"loss_scale", nlohmann::json(c.loss_scale).dump()},
                     {"recipe", c.recipe.dump()},
                     {"metrics", c.metrics.dump()}});
}

Checkpoint load_checkpoint(const std::string& path) {
  safetensors::File file = safetensors::load(path);
  const auto& meta = file.metadata;
  auto field = [&](const std::string& key) -> const std::string& {
    auto it = meta.find(key);
    require(it != meta.end(), path + ": not a vitnas checkpoint (no '" + key + "' metadata)");
    return it->second;
  };
  auto json_field = [&](const std::string& key) {
    try {
      return nlohmann::json::parse(field(key));
    } catch (const nlohmann::json::exception&) {
      throw InputError(path + ": metadata '" + key + "' is not valid JSON (corrupt checkpoint)");
    }
  };
  auto integer_field = [&](const std::string& key) {
    nlohmann::json v = json_field(key);
    require(v.is_number_integer() && v.get<int64_t>() >= 0,
            path + ": metadata '" + key + "' is not a non-negative integer");
    return v.get<int64_t>();
  };
  auto number_field = [&](const std::string& key) {
    nlohmann::json v = json_field(key);
    require(v.is_number(), path + ": metadata '" + key + "' is not a number");
    return v.get<double>();
  };

  require(field("format") == kCheckpointFormat,
          path + ": checkpoint format '" + field("format") + "', expected " + kCheckpointFormat);
  Checkpoint c;
  c.epoch = integer_field("epoch");
  c.step = integer_field("step");
  c.seconds = number_field("seconds");
  c.loss_scale = number_field("loss_scale");
  c.recipe = json_field("recipe");
  c.metrics = json_field("metrics");
  require(c.recipe.is_object() && c.metrics.is_array(),
          path + ": metadata 'recipe' / 'metrics' have the wrong shape (corrupt checkpoint)");
  for (auto& [key, t] : file.tensors) {
    if (starts_with(key, kModel)) c.model.emplace_back(key.substr(6), t);
    else if (starts_with(key, kEma)) c.ema.emplace_back(key.substr(4), t);
    else if (starts_with(key, kOptim)) c.optimizer.emplace_back(key.substr(6), t);
    else throw InputError(path + ": unexpected tensor '" + key + "' in a checkpoint");
  }
  require(!c.model.empty() && !c.optimizer.empty(),
          path + ": checkpoint lacks the model or optimizer state");
  return c;
}

}  // namespace vitnas
