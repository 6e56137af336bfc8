#pragma once
// LibTorch helpers for worker_gpu_test.cpp, which stays free of LibTorch itself: LibTorch
// built with glog (Debian's) defines a CHECK macro that clashes with Catch2's.
#include <cstdint>
#include <filesystem>
#include <vector>

namespace lv::test::gpu {

/// torch::cuda::is_available().
bool cuda_available();

/// LibTorch's intra-op thread count (what a CPU forward uses).
int cpu_threads();

/// A small convolutional classifier: four 3x3 stride-2 convolutions (3 -> 32 -> 64 -> 128 ->
/// 256 channels, ReLU), a spatial mean and a linear layer to `classes` logits. Random weights
/// from `seed`. Device-agnostic: every tensor it uses is a parameter.
void save_conv_classifier(const std::filesystem::path& file, int classes, uint64_t seed);

/// The model's output on the CPU in float32 for `count` inputs [count, 3, size, size], flattened
/// row-major ([count, outputs]).
std::vector<float> cpu_forward(const std::filesystem::path& file, const std::vector<float>& data, int count, int size);

enum class Where { cpu, cuda, cuda_fp16 };

/// Mean milliseconds of one forward of the model on a random batch [batch, 3, size, size] that
/// already lies on the device (no host transfers), after `warmup` forwards; CUDA synchronised
/// before each clock reading.
double forward_ms(const std::filesystem::path& file, Where where, int batch, int size, int reps, int warmup = 3);

/// torch::cuda::synchronize() when CUDA is available, else nothing.
void synchronize();

}  // namespace lv::test::gpu
