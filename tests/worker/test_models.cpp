#include "test_models.h"

#include <torch/script.h>
#include <torch/torch.h>

#include <cmath>

#include <fmt/core.h>

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

void save_input_checking_classifier(const std::filesystem::path& file, const std::vector<float>& expected,
                                    int rows, int size) {
  torch::jit::Module m("InputChecking");
  m.register_buffer("expected", torch::tensor(expected).reshape({rows, 3, size, size}));
  m.define(R"py(
def forward(self, x):
    hit = 0.0
    if x.size() == self.expected.size():
        if torch.equal(x, self.expected):
            hit = 1.0
    return torch.tensor([hit, 1.0 - hit]).repeat(x.size(0), 1)
)py");
  m.save(file.string());
}

void save_failing_classifier(const std::filesystem::path& file) {
  torch::jit::Module m("Failing");
  m.define(R"(
def forward(self, x):
    if bool(x.mean() > 0.5):
        x = x + torch.ones([5])
    return torch.softmax(x.mean([2, 3]), 1)
)");
  m.save(file.string());
}

void save_oom_above_classifier(const std::filesystem::path& file, int limit) {
  torch::jit::Module m("OomAbove");
  m.define(fmt::format(R"py(
def forward(self, x):
    assert x.size(0) <= {}, "CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 79.15 GiB total capacity)"
    return torch.softmax(x.mean([2, 3]), 1)
)py", limit));
  m.save(file.string());
}

void save_exact_batch_classifier(const std::filesystem::path& file, int batch) {
  torch::jit::Module m("ExactBatch");
  m.define(fmt::format(R"py(
def forward(self, x):
    assert x.size(0) == {0}, "expected a batch of {0}"
    return torch.softmax(x.mean([2, 3]), 1)
)py", batch));
  m.save(file.string());
}

void save_batch_range_classifier(const std::filesystem::path& file, int min, int max) {
  torch::jit::Module m("BatchRange");
  m.define(fmt::format(R"py(
def forward(self, x):
    assert x.size(0) >= {0} and x.size(0) <= {1}, "expected a batch of {0} to {1} rows"
    return torch.softmax(x.mean([2, 3]), 1)
)py", min, max));
  m.save(file.string());
}

void save_conv_classifier(const std::filesystem::path& file, int classes, int width) {
  torch::manual_seed(7);
  torch::jit::Module m("ConvClassifier");
  auto param = [&](const char* name, std::vector<int64_t> shape, int64_t fan_in) {
    m.register_parameter(name, torch::randn(shape) / std::sqrt(static_cast<double>(fan_in)), false);
  };
  const int64_t w = width;
  param("w1", {w, 3, 5, 5}, 3 * 25);
  param("b1", {w}, 1);
  param("w2", {2 * w, w, 3, 3}, w * 9);
  param("b2", {2 * w}, 1);
  param("w3", {4 * w, 2 * w, 3, 3}, 2 * w * 9);
  param("b3", {4 * w}, 1);
  param("f1", {128, 64 * w}, 64 * w);
  param("c1", {128}, 1);
  param("f2", {classes, 128}, 128);
  param("c2", {classes}, 1);
  m.define(R"(
def forward(self, x):
    x = torch.relu(torch.conv2d(x, self.w1, self.b1, [2, 2], [2, 2]))
    x = torch.max_pool2d(torch.relu(torch.conv2d(x, self.w2, self.b2, [1, 1], [1, 1])), [2, 2])
    x = torch.max_pool2d(torch.relu(torch.conv2d(x, self.w3, self.b3, [1, 1], [1, 1])), [2, 2])
    x = torch.relu(torch.linear(x.flatten(1), self.f1, self.c1))
    return torch.linear(x, self.f2, self.c2)
)");
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

void save_two_class_yolov8(const std::filesystem::path& file) {
  // anchor:        0      1      2     3
  const std::vector<float> v = {
      32,   32.5f, 9.6f, 50,     // cx (input pixels)
      32,   32,    32,   32,     // cy
      32,   32,    6.4f, 8,      // w
      16,   16,    6.4f, 8,      // h
      0.9f, 0.85f, 0.02f, 0.01f, // cat
      0.05f, 0.1f, 0.95f, 0.97f, // dog
  };
  save_constant_detector(file, v, 6, 4, R"({"stride": 32, "names": {"0": "cat", "1": "dog"}})");
}

void save_ultralytics_like_detector(const std::filesystem::path& file, int size, const std::string& config_txt,
                                    bool batch_one_only) {
  const int64_t a = static_cast<int64_t>(size / 8) * (size / 8);
  torch::Tensor anchors = torch::zeros({1, 6, a});
  const double s = size;
  const double first[] = {s / 2, s / 2, s / 2, s / 4, 0.9, 0.05};  // cx cy w h cat dog
  for (int64_t r = 0; r < 6; ++r) anchors[0][r][0] = first[r];
  torch::jit::Module m("UltralyticsLike");
  m.register_attribute("anchors", c10::TensorType::get(), anchors, /*is_param=*/false, /*is_buffer=*/false);
  m.register_attribute("numel", c10::IntType::get(), int64_t{3} * size * size);
  m.define(std::string(R"(
def forward(self, x):
)") + (batch_one_only ? "    x = x.reshape([1, self.numel]).reshape([1, 3, -1, x.size(3)])\n" : "") + R"(
    g = torch.avg_pool2d(x, [8, 8]).mean(1, keepdim=True).flatten(2)
    return g * 0.0 + self.anchors
)");
  torch::jit::ExtraFilesMap extra;
  if (!config_txt.empty()) extra["config.txt"] = config_txt;
  m.save(file.string(), extra);
}

void save_dynamic_detector(const std::filesystem::path& file, const std::string& config_txt) {
  torch::jit::Module m("DynamicDetector");
  m.define(R"(
def forward(self, x):
    s = float(x.size(2))
    row = torch.tensor([s / 2.0, s / 2.0, 10.0, 10.0, 0.9, 0.05], dtype=x.dtype, device=x.device)
    return row.reshape([1, 6, 1]).expand([x.size(0), 6, 1]) + x.mean() * 0.0
)");
  torch::jit::ExtraFilesMap extra;
  if (!config_txt.empty()) extra["config.txt"] = config_txt;
  m.save(file.string(), extra);
}

void save_half_conv_classifier(const std::filesystem::path& file, const std::string& config_txt) {
  torch::jit::Module m("HalfConv");
  m.register_parameter("w", (torch::eye(3) * 10).reshape({3, 3, 1, 1}).to(torch::kHalf), false);
  m.register_parameter("b", torch::tensor({0.0, 1.0, 2.0}).to(torch::kHalf), false);
  m.define(R"(
def forward(self, x):
    return torch.conv2d(x, self.w, self.b).mean([2, 3])
)");
  torch::jit::ExtraFilesMap extra;
  if (!config_txt.empty()) extra["config.txt"] = config_txt;
  m.save(file.string(), extra);
}

void save_keyword_text_model(const std::filesystem::path& file, int vocab,
                             const std::vector<std::vector<int64_t>>& class_ids, const std::string& names_json,
                             bool embed, int spin) {
  torch::Tensor weight = torch::zeros({vocab, static_cast<int64_t>(class_ids.size())});
  for (size_t c = 0; c < class_ids.size(); ++c)
    for (int64_t id : class_ids[c]) weight[id % vocab][static_cast<int64_t>(c)] = 5.0;
  torch::jit::Module m("KeywordText");
  m.register_buffer("weight", weight);
  m.register_attribute("vocab", c10::IntType::get(), vocab);
  m.register_attribute("spin", c10::IntType::get(), spin);
  m.define(std::string(R"(
def forward(self, input_ids, attention_mask):
    acc = torch.zeros([1])
    w = torch.ones([128, 128])
    for i in range(self.spin):
        acc = acc + torch.mm(w, w).sum() * 0.0
    votes = torch.embedding(self.weight, torch.remainder(input_ids, self.vocab))
    votes = votes * attention_mask.unsqueeze(2).to(votes.dtype) + acc
)") + (embed ? "    return votes\n" : "    return votes.sum(1)\n"));
  torch::jit::ExtraFilesMap extra;
  if (!names_json.empty()) extra["config.txt"] = names_json;
  m.save(file.string(), extra);
}

void save_random_text_classifier(const std::filesystem::path& file, int64_t buckets, int dim, int classes,
                                 int conv_layers) {
  torch::manual_seed(11);
  torch::jit::Module m("RandomText");
  m.register_parameter("emb", torch::randn({buckets, dim}) * 0.1, false);
  m.register_parameter("fc", torch::randn({classes, dim}) / std::sqrt(static_cast<double>(dim)), false);
  std::string body = "    x = torch.embedding(self.emb, input_ids)\n";  // [B, L, D]
  if (conv_layers > 0) body += "    x = x.transpose(1, 2)\n";          // [B, D, L]
  for (int i = 0; i < conv_layers; ++i) {
    m.register_parameter(fmt::format("w{}", i), torch::randn({dim, dim, 3}) / std::sqrt(3.0 * dim), false);
    body += fmt::format("    x = torch.relu(torch.conv1d(x, self.w{}, None, [1], [1]))\n", i);
  }
  if (conv_layers > 0) body += "    x = x.transpose(1, 2)\n";
  body += "    m = attention_mask.unsqueeze(2).to(x.dtype)\n"
          "    x = (x * m).sum(1) / m.sum(1).clamp_min(1.0)\n"
          "    return torch.linear(x, self.fc)\n";
  m.define("def forward(self, input_ids, attention_mask):\n" + body);
  m.save(file.string());
}

void save_quadrant_detector(const std::filesystem::path& file, int spin) {
  torch::jit::Module m("QuadrantDetector");
  // One anchor per 16 x 16 cell of the 32 x 32 input, row by row: cx, cy, w, h in input pixels.
  m.register_buffer("boxes", torch::tensor({8.f, 24.f, 8.f, 24.f, 8.f, 8.f, 24.f, 24.f, 16.f, 16.f, 16.f, 16.f, 16.f,
                                            16.f, 16.f, 16.f})
                                 .reshape({1, 4, 4}));
  m.register_attribute("spin", c10::IntType::get(), spin);
  m.define(R"(
def forward(self, x):
    acc = torch.zeros([1], dtype=x.dtype, device=x.device)
    w = torch.ones([128, 128], dtype=x.dtype, device=x.device)
    for i in range(self.spin):
        acc = acc + torch.mm(w, w).sum() * 0.0
    scores = torch.avg_pool2d(x, [16, 16]).flatten(2) + acc
    return torch.cat([self.boxes.expand([x.size(0), -1, -1]), scores], 1)
)");
  torch::jit::ExtraFilesMap extra{{"config.txt", R"({"stride": 16, "task": "detect", "batch": 1, "imgsz": [32, 32], )"
                                                 R"("names": {"0": "red", "1": "green", "2": "blue"}})"}};
  m.save(file.string(), extra);
}

}  // namespace lv::test
