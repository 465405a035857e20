// Weight key layouts other tools load. vitnas's own names are the official EfficientViT code's
// (and timm's VisionTransformer's for the vit family); timm's `efficientvit_msra` stores the same
// tensors under other names (timm/models/efficientvit_msra.py, class EfficientVitMsra):
//
//   patch_embed.{0,2,4,6}.*     -> patch_embed.conv{1,2,3,4}.*     (the ReLUs sit between)
//   blocks1.p.*                 -> stages.0.blocks.p.*
//   blocksK.{0,1,2}.*  (K >= 2) -> stages.{K-1}.downsample.{res1,patchmerge,res2}.*
//   blocksK.p.*  (K >= 2, p>=3) -> stages.{K-1}.blocks.{p-3}.*
//   *.c.* (Conv2d_BN's conv)    -> *.conv.*         *.l.* (BN_Linear's linear) -> *.linear.*
//   *.attention_bias_idxs       -> not stored (a non-persistent buffer in timm)
#pragma once

#include <string>

#include "core/arch_spec.h"
#include "core/safetensors.h"

namespace vitnas {

enum class WeightNaming { Official, Timm };
WeightNaming parse_weight_naming(const std::string& name);  // "official" | "timm"; InputError else

// timm's key for an official EfficientViT key, or "" for a tensor timm does not store.
std::string timm_key(const std::string& official);

// A state dict (state_dict(model): official names) under `naming`, in the same order. InputError
// for what the naming cannot hold: timm's efficientvit_msra has no distillation head.
safetensors::TensorList rename_weights(const ArchSpec& spec, const safetensors::TensorList& official,
                                       WeightNaming naming);

}  // namespace vitnas
