// ModelInput's host side: the pixel normalisation the models apply on their device.
#include "model.h"

namespace lv {

PixelNormalisation normalisation(const std::vector<double>& mean, const std::vector<double>& std) {
  PixelNormalisation p;
  for (size_t c = 0; c < 3; ++c) {
    p.scale[c] = static_cast<float>(1.0 / (255.0 * std[c]));
    p.shift[c] = static_cast<float>(-mean[c] / std[c]);
  }
  return p;
}

void ModelInput::write_floats(int first, int n, int size, float* out) const {
  const size_t plane = static_cast<size_t>(size) * static_cast<size_t>(size);
  std::vector<uint8_t> rows(static_cast<size_t>(n) * 3 * plane);
  write(first, n, size, rows.data());
  for (size_t i = 0; i < rows.size(); ++i) {
    const size_t c = (i / plane) % 3;
    // Two roundings, as the model's multiply and add on its device (never fused).
    const float scaled = static_cast<float>(rows[i]) * pixels.scale[c];
    out[i] = scaled + pixels.shift[c];
  }
}

}  // namespace lv
