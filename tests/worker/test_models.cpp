#include "test_models.h"

#include <torch/script.h>
#include <torch/torch.h>

namespace lv::test {

void save_mean_colour_classifier(const std::filesystem::path& file, double scale, bool probabilities, int spin) {
  torch::jit::Module m("MeanColour");
  m.register_parameter("scale", torch::tensor(scale), false);
  m.register_attribute("spin", c10::IntType::get(), spin);
  m.define(std::string(R"(
def forward(self, x):
    acc = torch.zeros([1], dtype=x.dtype, device=x.device)
    w = torch.ones([128, 128], dtype=x.dtype, device=x.device)
    for i in range(self.spin):
        acc = acc + torch.mm(w, w).sum() * 0.0
    m = x.mean([2, 3]) * self.scale + acc
)") + (probabilities ? "    return torch.softmax(m, 1)\n" : "    return m\n"));
  m.save(file.string());
}

void save_fixed_width_classifier(const std::filesystem::path& file, int classes) {
  torch::jit::Module m("FixedWidth");
  m.register_attribute("classes", c10::IntType::get(), classes);
  m.define(R"(
def forward(self, x):
    return torch.zeros([x.size(0), self.classes])
)");
  m.save(file.string());
}

void save_constant_detector(const std::filesystem::path& file, const std::vector<float>& values, int rows, int cols,
                            const std::string& names_json) {
  torch::jit::Module m("ConstantDetector");
  m.register_buffer("out", torch::tensor(values).reshape({1, rows, cols}));
  m.define(R"(
def forward(self, x):
    return self.out.expand([x.size(0), -1, -1]).contiguous()
)");
  torch::jit::ExtraFilesMap extra;
  if (!names_json.empty()) extra["config.txt"] = names_json;
  m.save(file.string(), extra);
}

}  // namespace lv::test
