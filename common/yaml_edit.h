#pragma once
/// Editing one value of a YAML config in place, keeping every comment, blank line and other key
/// byte for byte (the batch-size finder writes `processing.batch_size` into the user's file).
#include <filesystem>
#include <string>

namespace lv {

/// Returns `text` with `section.key` set to the plain scalar `value`: the old value's bytes are
/// replaced where it stands (a comment after it stays); a missing key is added as the
/// section's first key, indented like its siblings; a missing section is appended. The result
/// is parsed again and must differ from `text` in that key alone. Throws lv::Error (exit 2)
/// naming `file` and the line when the section or key cannot be edited so (flow style
/// `{...}`, a value that is not a scalar, an alias, a block scalar).
std::string set_yaml_value(const std::string& text, const std::string& section, const std::string& key,
                           const std::string& value, const std::filesystem::path& file);

/// set_yaml_value on a file, written back atomically. Throws lv::Error naming the file.
void set_yaml_value_in_file(const std::filesystem::path& file, const std::string& section, const std::string& key,
                            const std::string& value);

}  // namespace lv
