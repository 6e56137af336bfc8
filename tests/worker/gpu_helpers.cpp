#include "gpu_helpers.h"

#include <torch/script.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstring>

namespace lv::test::gpu {

bool cuda_available() { return torch::cuda::is_available(); }

int cpu_threads() { return torch::get_num_threads(); }

void synchronize() {
  if (torch::cuda::is_available()) torch::cuda::synchronize();
}

void save_conv_classifier(const std::filesystem::path& file, int classes, uint64_t seed) {
  torch::manual_seed(seed);
  torch::jit::Module m("ConvClassifier");
  const int64_t ch[] = {3, 32, 64, 128, 256};
  for (int i = 0; i < 4; ++i) {
    const double std = std::sqrt(2.0 / static_cast<double>(ch[i] * 9));
    m.register_parameter("w" + std::to_string(i + 1), torch::randn({ch[i + 1], ch[i], 3, 3}) * std, false);
    m.register_parameter("b" + std::to_string(i + 1), torch::randn({ch[i + 1]}) * 0.01, false);
  }
  m.register_parameter("fc", torch::randn({ch[4], classes}) * (4.0 / std::sqrt(static_cast<double>(ch[4]))), false);
  m.define(R"(
def forward(self, x):
    x = torch.relu(torch.conv2d(x, self.w1, self.b1, [2, 2], [1, 1]))
    x = torch.relu(torch.conv2d(x, self.w2, self.b2, [2, 2], [1, 1]))
    x = torch.relu(torch.conv2d(x, self.w3, self.b3, [2, 2], [1, 1]))
    x = torch.relu(torch.conv2d(x, self.w4, self.b4, [2, 2], [1, 1]))
    return torch.matmul(x.mean([2, 3]), self.fc)
)");
  m.save(file.string());
}

std::vector<float> cpu_forward(const std::filesystem::path& file, const std::vector<float>& data, int count, int size) {
  c10::InferenceMode guard;
  torch::jit::Module m = torch::jit::load(file.string(), torch::Device(torch::kCPU));
  m.eval();
  const torch::Tensor x =
      torch::from_blob(const_cast<float*>(data.data()), {count, 3, size, size}, torch::kFloat).clone();
  const torch::Tensor y = m.forward({x}).toTensor().to(torch::kFloat).contiguous();
  return std::vector<float>(y.data_ptr<float>(), y.data_ptr<float>() + y.numel());
}

double forward_ms(const std::filesystem::path& file, Where where, int batch, int size, int reps, int warmup) {
  c10::InferenceMode guard;
  const bool cuda = where != Where::cpu;
  const bool half = where == Where::cuda_fp16;
  const torch::Device device = cuda ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  torch::jit::Module m = torch::jit::load(file.string(), torch::Device(torch::kCPU));
  m.eval();
  m.to(device);
  if (half) m.to(torch::kHalf);
  const torch::Tensor x = torch::rand({batch, 3, size, size}).to(device, half ? torch::kHalf : torch::kFloat);
  for (int i = 0; i < warmup; ++i) m.forward({x});
  if (cuda) torch::cuda::synchronize();
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < reps; ++i) m.forward({x});
  if (cuda) torch::cuda::synchronize();
  const auto t1 = std::chrono::steady_clock::now();
  return std::chrono::duration<double, std::milli>(t1 - t0).count() / reps;
}

}  // namespace lv::test::gpu
