// The accuracy page (docs/accuracy.md) and its plots, generated from a ValidationReport
// by `echosim validate --markdown FILE [--plots-dir DIR]`.
//
// The page holds the summary per source (held-out, leave-one-source-out, and in-sample
// with the shipped constants), the constants fitted with and without each source, the
// held-out errors by GPU, three SVG plots (predicted vs measured step time; held-out
// error by model size; by GPU count) and every row of every source, skipped rows with
// their reason. Its content is a function of the report's deterministic fields only
// (no wall time, no thread count), so regenerating it on an unchanged tree changes
// nothing.
#ifndef ECHOSIM_SIMULATOR_VALIDATION_ACCURACY_PAGE_H_
#define ECHOSIM_SIMULATOR_VALIDATION_ACCURACY_PAGE_H_

#include <string>
#include <utility>
#include <vector>

#include "simulator/core/status.h"
#include "simulator/validation/published.h"

namespace echosim {

// Plot files of the page: (file name, SVG document).
std::vector<std::pair<std::string, std::string>> AccuracyPlots(const ValidationReport& report);

// The page. `plots_link_dir` is the plots' directory relative to the page ("" = no plots);
// `command` is the command line printed at the top as the way to regenerate it.
std::string AccuracyMarkdown(const ValidationReport& report, const std::string& plots_link_dir,
                             const std::string& command);

// Writes the page to `markdown_path` and, when `plots_dir` is not empty, the plots into
// `plots_dir` (created if missing), linked from the page by their relative path.
Status WriteAccuracyPage(const ValidationReport& report, const std::string& markdown_path,
                         const std::string& plots_dir, const std::string& command);

}  // namespace echosim

#endif  // ECHOSIM_SIMULATOR_VALIDATION_ACCURACY_PAGE_H_
