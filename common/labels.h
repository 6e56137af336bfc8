#pragma once
/// YOLO label files (DESIGN §5): finding an image's label file and parsing its lines.
/// Torch-free and OpenCV-free so that its tests compile in a second.
#include <array>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lv {

/// One well-formed label line: `class cx cy w h`, coordinates normalised to [0, 1].
struct LabelBox {
  int cls = 0;
  double cx = 0, cy = 0, w = 0, h = 0;
  int line = 0;  ///< 1-based line number in the label file
};

/// A label line that was refused, with the reason.
struct LabelIssue {
  int line = 0;
  std::string reason;
};

struct LabelFile {
  std::vector<LabelBox> boxes;     ///< the well-formed lines, in file order
  std::vector<LabelIssue> errors;  ///< the refused lines, in file order
};

/// Parses label text. A UTF-8 byte order mark at the start is ignored; a line that is not
/// UTF-8 is refused (its bytes quoted with printable()). Blank lines are skipped. A line with the wrong number of fields, a
/// field that is not a finite number, a class id that is not an integer in [0, num_classes),
/// a coordinate outside [0, 1] or a zero-size box is refused with its line number.
LabelFile parse_labels(std::string_view text, int num_classes);

/// The YOLO label path of an image: the last path component named `images` or `JPEGImages`
/// replaced by `labels`, the extension by `.txt`; nullopt when no component has such a name.
std::optional<std::filesystem::path> yolo_label_path(const std::filesystem::path& image);

/// The `.txt` beside the image (the fallback of the YOLO rule).
std::filesystem::path sibling_label_path(const std::filesystem::path& image);

/// The label file of an image on disk: the YOLO path when anything has that name (a file, a
/// folder, a FIFO, a link, dangling or not), else the sibling `.txt` likewise, else nullopt
/// (the image has zero boxes). Check it with label_file_refusal() before reading it.
std::optional<std::filesystem::path> find_label_file(const std::filesystem::path& image);

/// "" when `label_file` may be read: after following links it lies inside `canonical_root`
/// (see path_guard.h) and is a regular file; else why not, for the image's error ("symlink
/// resolves outside the input root (/etc/passwd)", "is a folder, not a file", "is a FIFO, not
/// a file"...). Never opens the file, so a FIFO cannot block.
std::string label_file_refusal(const std::filesystem::path& canonical_root, const std::filesystem::path& label_file);

/// What to do with one line of a label file (see fix_label_text).
struct LabelFix {
  int cls = -1;                             ///< the new class id, or -1 to keep the line's
  std::optional<std::array<double, 4>> box; ///< new normalised cx, cy, w, h, or keep the line's
  bool remove = false;                      ///< drop the line (and its newline)
};

/// One YOLO label line without its newline: `class cx cy w h`, coordinates with 6 decimals.
std::string yolo_line(int cls, const std::array<double, 4>& box);

/// The label text with some lines changed: `fixes[i]` applies to the 1-based line i + 1
/// (lines beyond `fixes` are kept). A class change replaces only the first field; a box change
/// rewrites the four coordinate fields (6 decimals); leading blanks, a '\r' before the newline,
/// other lines and a byte order mark are kept verbatim. `added` lines (yolo_line) are appended,
/// each ending with a newline; a last line without one gets one first.
std::string fix_label_text(std::string_view text, const std::vector<LabelFix>& fixes,
                           const std::vector<std::string>& added = {});

}  // namespace lv
