// Test data shared by several test files.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <functional>
#include <string>

#include <catch2/catch.hpp>

#include "core/error.h"

namespace vitnas::test {

// The message of the InputError f throws; fails the test if it throws nothing.
inline std::string input_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  FAIL("expected an InputError");
  return "";
}

// A file path in a per-process scratch folder (parallel test processes do not collide); the
// folder is removed when the test binary exits.
inline std::string scratch_path(const std::string& name) {
  namespace fs = std::filesystem;
  struct Scratch {
    fs::path dir = fs::temp_directory_path() / ("vitnas_test_" + std::to_string(::getpid()));
    Scratch() { fs::create_directories(dir); }
    ~Scratch() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  };
  static Scratch scratch;
  return (scratch.dir / name).string();
}

// A spec exercising what the presets do not: a stem of 2, two FFNs before, independent heads
// with free v_dim, mixed kinds, an attention-free block, a stage that is only its downsample.
inline const char* kCustomSpec = R"({
  "family": "efficientvit", "name": "custom", "img_size": 32, "in_chans": 3, "num_classes": 10,
  "distillation": true,
  "stem": [16, 32],
  "stages": [
    {"embed_dim": 32, "window": 4, "downsample": null, "blocks": [
      {"ffn_before": [64, 48],
       "attention": {"cascade": false, "heads": [
         {"key_dim": 8, "v_dim": 24, "kernel": 3, "kind": "softmax"},
         {"key_dim": 8, "v_dim": 8, "kernel": 1, "kind": "relu_softmax"}]},
       "ffn_after": [64]},
      {"ffn_before": [64], "attention": null, "ffn_after": []}]},
    {"embed_dim": 48, "window": 4,
     "downsample": {"ffn_before": [64], "hidden": 96, "ffn_after": []},
     "blocks": [
      {"ffn_before": [],
       "attention": {"cascade": true, "heads": [
         {"key_dim": 16, "v_dim": 16, "kernel": 3, "kind": "scaling"},
         {"key_dim": 16, "v_dim": 16, "kernel": 5, "kind": "softmax"},
         {"key_dim": 16, "v_dim": 16, "kernel": 3, "kind": "relu_softmax"}]},
       "ffn_after": [96]}]},
    {"embed_dim": 64, "window": 7,
     "downsample": {"ffn_before": [], "hidden": 128, "ffn_after": [128]},
     "blocks": []}]})";

// A plain ViT small enough to train in a test (LayerNorm only, no dropout: its forward is the
// same in train and eval mode, and per-sample, which data-parallel tests rely on).
inline const char* kTinyViTSpec = R"({
  "family": "vit", "name": "tiny_vit", "img_size": 16, "patch_size": 4, "in_chans": 3,
  "num_classes": 10, "embed_dim": 32, "cls_token": true,
  "layers": [
    {"heads": [{"qk_dim": 16, "v_dim": 16, "kind": "softmax"},
               {"qk_dim": 16, "v_dim": 16, "kind": "softmax"}], "mlp_hidden": 64, "act": "gelu"},
    {"heads": [{"qk_dim": 16, "v_dim": 16, "kind": "softmax"},
               {"qk_dim": 16, "v_dim": 16, "kind": "relu_softmax"}], "mlp_hidden": 64, "act": "gelu"}]})";

}  // namespace vitnas::test
