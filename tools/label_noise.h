#pragma once
/// The kinds of label error the demo dataset maker injects and its truth file records, one
/// kind at most per garment. Plain C++, shared by the maker (OpenCV) and the scorers.
#include <optional>
#include <string_view>

namespace lv::demo {

enum class LabelNoise {
  none,        ///< the line is right
  class_swap,  ///< the line names another class
  missing,     ///< the garment has no line (a label left out)
  location,    ///< the line's box overlaps the garment only partly (IoU 0.2-0.5)
  spurious,    ///< the line's box holds no garment (background)
  duplicate,   ///< the line repeats an earlier line of the same garment (IoU > 0.9)
};

inline constexpr LabelNoise kLabelNoises[] = {LabelNoise::none,     LabelNoise::class_swap, LabelNoise::missing,
                                              LabelNoise::location, LabelNoise::spurious,   LabelNoise::duplicate};

/// The truth file's spelling: "none", "class", "missing", "location", "spurious", "duplicate".
inline std::string_view to_string(LabelNoise n) {
  switch (n) {
    case LabelNoise::none: return "none";
    case LabelNoise::class_swap: return "class";
    case LabelNoise::missing: return "missing";
    case LabelNoise::location: return "location";
    case LabelNoise::spurious: return "spurious";
    case LabelNoise::duplicate: return "duplicate";
  }
  return "none";
}

/// The kind spelled `s` (as to_string writes it), or nothing.
inline std::optional<LabelNoise> parse_label_noise(std::string_view s) {
  for (const LabelNoise n : kLabelNoises)
    if (to_string(n) == s) return n;
  return std::nullopt;
}

}  // namespace lv::demo
