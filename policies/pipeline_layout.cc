#include "policies/pipeline_layout.h"

#include <cctype>

#include "simulator/core/strings.h"

namespace echosim {
namespace {

constexpr int64_t kMaxExpanded = 100000;

// Recursive-descent expansion of "item*" where item = symbol | '|' | '(' seq ')' and each item
// may carry "*N". Produces the flat symbol string.
class Expander {
 public:
  explicit Expander(const std::string& text) : text_(text) {}

  StatusOr<std::string> Run() {
    ECHOSIM_ASSIGN_OR_RETURN(std::string out, Sequence(0));
    SkipSpaces();
    if (pos_ < text_.size()) return Error("unexpected ')'");
    return out;
  }

 private:
  Status Error(const std::string& what) const {
    return InvalidArgument(StrCat("pipeline layout '", text_, "': at character ", pos_ + 1, ": ",
                                  what, " (valid: E, t, m, L, '|', '*N' after a symbol or a "
                                  "parenthesised group)"));
  }
  void SkipSpaces() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }

  StatusOr<std::string> Sequence(int depth) {
    if (depth > 32) return Error("groups nested more than 32 deep");
    std::string out;
    while (true) {
      SkipSpaces();
      if (pos_ >= text_.size() || text_[pos_] == ')') return out;
      std::string item;
      const char c = text_[pos_];
      if (c == '(') {
        ++pos_;
        ECHOSIM_ASSIGN_OR_RETURN(item, Sequence(depth + 1));
        SkipSpaces();
        if (pos_ >= text_.size() || text_[pos_] != ')') return Error("missing ')'");
        ++pos_;
      } else if (c == 'E' || c == 't' || c == 'm' || c == 'L' || c == '|') {
        item = std::string(1, c);
        ++pos_;
      } else {
        return Error(StrCat("unexpected '", std::string(1, c), "'"));
      }
      SkipSpaces();
      int64_t times = 1;
      if (pos_ < text_.size() && text_[pos_] == '*') {
        ++pos_;
        SkipSpaces();
        if (pos_ >= text_.size() || !std::isdigit(static_cast<unsigned char>(text_[pos_]))) {
          return Error("'*' must be followed by a repeat count");
        }
        times = 0;
        while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) {
          times = times * 10 + (text_[pos_] - '0');
          if (times > kMaxExpanded) return Error(StrCat("repeat count above ", kMaxExpanded));
          ++pos_;
        }
        if (times < 1) return Error("a repeat count must be at least 1");
      }
      if (static_cast<int64_t>(out.size() + item.size() * times) > kMaxExpanded) {
        return Error(StrCat("the layout expands to more than ", kMaxExpanded, " symbols"));
      }
      for (int64_t i = 0; i < times; ++i) out += item;
    }
  }

  const std::string& text_;
  size_t pos_ = 0;
};

}  // namespace

StatusOr<std::vector<LayoutStage>> ParsePipelineLayout(const std::string& text) {
  ECHOSIM_ASSIGN_OR_RETURN(const std::string flat, Expander(text).Run());
  std::vector<LayoutStage> stages(1);
  for (char c : flat) {
    LayoutStage& st = stages.back();
    switch (c) {
      case '|': stages.emplace_back(); break;
      case 't': ++st.layers; break;
      case 'm': ++st.mtp; break;
      case 'E':
        if (st.embedding) {
          return InvalidArgument(StrCat("pipeline layout '", text, "': virtual stage ",
                                        stages.size() - 1, " lists the embedding 'E' twice"));
        }
        st.embedding = true;
        break;
      case 'L':
        if (st.loss) {
          return InvalidArgument(StrCat("pipeline layout '", text, "': virtual stage ",
                                        stages.size() - 1, " lists the loss 'L' twice"));
        }
        st.loss = true;
        break;
      default: break;
    }
  }
  // Where the embedding, the loss and the MTP layers may go (Megatron-Core's layout rules).
  for (size_t v = 0; v < stages.size(); ++v) {
    if (stages[v].embedding && v != 0) {
      return InvalidArgument(StrCat("pipeline layout '", text, "': the embedding 'E' must be in "
                                    "the first virtual stage, found in stage ", v));
    }
    if (stages[v].loss && v + 1 != stages.size()) {
      return InvalidArgument(StrCat("pipeline layout '", text, "': the loss 'L' must be in the "
                                    "last virtual stage, found in stage ", v, " of ", stages.size()));
    }
    if (stages[v].mtp > 0 && v + 1 != stages.size()) {
      return InvalidArgument(StrCat("pipeline layout '", text, "': multi-token-prediction layers "
                                    "'m' must be in the last virtual stage, found in stage ", v,
                                    " of ", stages.size()));
    }
  }
  if (!stages.front().embedding || !stages.back().loss) {
    return InvalidArgument(StrCat("pipeline layout '", text, "': the first virtual stage must hold "
                                  "the embedding 'E' and the last one the loss 'L'"));
  }
  return stages;
}

std::string FormatPipelineLayout(const std::vector<LayoutStage>& stages) {
  std::string out;
  for (size_t v = 0; v < stages.size(); ++v) {
    if (v > 0) out += '|';
    if (stages[v].embedding) out += 'E';
    out += std::string(static_cast<size_t>(stages[v].layers), 't');
    out += std::string(static_cast<size_t>(stages[v].mtp), 'm');
    if (stages[v].loss) out += 'L';
  }
  return out;
}

}  // namespace echosim
