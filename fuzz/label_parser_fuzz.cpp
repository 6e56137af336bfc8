// Fuzzes parse_labels() and fix_label_text() (worker/labels.h): any bytes as a label file's text.
// The first byte picks the number of classes. Every line is either a box or an error, never both,
// and a box always holds what the contract promises.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "error.h"
#include "fuzz_util.h"
#include "labels.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const int num_classes = 1 + data[0] % 100;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  lv::LabelFile parsed;
  try {
    parsed = lv::parse_labels(text, num_classes);
  } catch (const lv::Error&) {
    return 0;  // a refusal for bad input is expected behaviour
  }
  int previous = 0;
  for (const lv::LabelBox& b : parsed.boxes) {
    if (b.cls < 0 || b.cls >= num_classes) lv::fuzz::broken("class id out of range");
    for (double v : {b.cx, b.cy, b.w, b.h})
      if (!std::isfinite(v) || v < 0.0 || v > 1.0) lv::fuzz::broken("coordinate outside [0, 1]");
    if (b.w <= 0.0 || b.h <= 0.0) lv::fuzz::broken("zero-size box");
    if (b.line <= previous) lv::fuzz::broken("box lines not increasing");
    previous = b.line;
  }
  for (const lv::LabelIssue& e : parsed.errors) {
    if (e.line < 1 || e.reason.empty()) lv::fuzz::broken("an error without line or reason");
    for (const lv::LabelBox& b : parsed.boxes)
      if (b.line == e.line) lv::fuzz::broken("one line is both a box and an error");
  }
  // Relabel every box to class 0: the text keeps its lines, and parses to the same boxes.
  std::vector<lv::LabelFix> new_class;
  for (const lv::LabelBox& b : parsed.boxes) {
    new_class.resize(static_cast<size_t>(b.line));
    new_class[static_cast<size_t>(b.line - 1)].cls = 0;
  }
  const std::string relabelled = lv::fix_label_text(text, new_class);
  const lv::LabelFile again = lv::parse_labels(relabelled, num_classes);
  if (again.boxes.size() != parsed.boxes.size()) lv::fuzz::broken("fix_label_text changed the number of boxes");
  for (size_t i = 0; i < again.boxes.size(); ++i)
    if (again.boxes[i].cls != 0 || again.boxes[i].line != parsed.boxes[i].line ||
        again.boxes[i].cx != parsed.boxes[i].cx || again.boxes[i].h != parsed.boxes[i].h)
      lv::fuzz::broken("fix_label_text changed more than the class id");
  return 0;
}
