// Data files compiled into the binary (models/presets/*.yaml, hardware/gpus/*.yaml).
//
// Adding a model or a GPU is adding a file: CMake embeds every file under those
// folders at build time. Paths are relative to the repository root.
#ifndef ECHOSIM_SIMULATOR_CORE_EMBEDDED_DATA_H_
#define ECHOSIM_SIMULATOR_CORE_EMBEDDED_DATA_H_

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace echosim {

struct EmbeddedFile {
  std::string_view path;
  std::string_view contents;
};

// All embedded files, sorted by path.
std::span<const EmbeddedFile> EmbeddedFiles();

// Files whose path starts with `prefix`, sorted by path.
std::vector<EmbeddedFile> EmbeddedFilesUnder(std::string_view prefix);

}  // namespace echosim

#endif  // ECHOSIM_SIMULATOR_CORE_EMBEDDED_DATA_H_
