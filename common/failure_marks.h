#pragma once
/// Phrases a worker's error message carries so that the orchestrator, reading the tail of the
/// worker's log (orchestrator/failure.cpp), can tell failures that retrying cannot fix from
/// transient ones. Part of the worker protocol: a worker of another make may print them too.
#include <string_view>

namespace lv {

/// The model does not take the input the config gives it (model.input_size, batch size, an
/// export's imgsz): fix the config; the same run fails the same way.
inline constexpr std::string_view kModelConfigMismatch = "model/config mismatch";

/// The worker was given a GPU (CUDA_VISIBLE_DEVICES) but its LibTorch cannot use one: a build
/// against a CPU-only LibTorch, or a broken driver.
inline constexpr std::string_view kNoUsableCuda = "no usable CUDA";

}  // namespace lv
