#include "simulator/scenario/yaml_proto.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <exception>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <system_error>
#include <utility>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

namespace echosim {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumDescriptor;
using google::protobuf::EnumValueDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::FileDescriptor;
using google::protobuf::Message;
using google::protobuf::OneofDescriptor;
using google::protobuf::Reflection;

// Deepest chain of nested messages accepted on input.
constexpr int kMaxDepth = 64;
// Most YAML nodes visited while reading one document. Aliases let a short text
// name the same subtree many times; this bounds the work.
constexpr int64_t kMaxNodes = int64_t{1} << 20;
// User text quoted in error messages is cut to this many bytes.
constexpr size_t kMaxQuotedBytes = 64;

// ---------------------------------------------------------------------------
// Text helpers.

bool IsAsciiDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAsciiAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// 'text' for error messages, shortened when long.
std::string QuoteForError(std::string_view text) {
  if (text.size() <= kMaxQuotedBytes) return "'" + std::string(text) + "'";
  return "'" + std::string(text.substr(0, kMaxQuotedBytes)) + "...'";
}

// True when `s` is well-formed UTF-8 (no overlong forms, surrogates or values
// above U+10FFFF), as proto3 requires of string fields.
bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto lead = static_cast<unsigned char>(s[i]);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    size_t length;
    uint32_t code_point;
    uint32_t smallest;
    if ((lead & 0xE0) == 0xC0) {
      length = 2, code_point = lead & 0x1F, smallest = 0x80;
    } else if ((lead & 0xF0) == 0xE0) {
      length = 3, code_point = lead & 0x0F, smallest = 0x800;
    } else if ((lead & 0xF8) == 0xF0) {
      length = 4, code_point = lead & 0x07, smallest = 0x10000;
    } else {
      return false;
    }
    if (s.size() - i < length) return false;
    for (size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(s[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      code_point = (code_point << 6) | (next & 0x3F);
    }
    if (code_point < smallest || code_point > 0x10FFFF ||
        (code_point >= 0xD800 && code_point <= 0xDFFF)) {
      return false;
    }
    i += length;
  }
  return true;
}

// ---------------------------------------------------------------------------
// Scalar parsing. Each parser returns the value, or an InvalidArgument holding
// only the "what" part of the message; the caller adds location and path.

StatusOr<bool> ParseBool(std::string_view text) {
  const std::string lower = AsciiLower(text);
  if (lower == "true" || lower == "yes" || lower == "on") return true;
  if (lower == "false" || lower == "no" || lower == "off") return false;
  return InvalidArgument("expected a boolean (true/false), got " + QuoteForError(text));
}

// A decimal integer split into sign and magnitude.
struct DecimalInteger {
  bool negative = false;
  bool magnitude_overflows = false;  // the magnitude does not fit in 64 bits
  uint64_t magnitude = 0;
};

// Reads [+-]?[0-9]+; nullopt when `text` has any other form.
std::optional<DecimalInteger> SplitDecimal(std::string_view text) {
  DecimalInteger out;
  if (!text.empty() && (text.front() == '+' || text.front() == '-')) {
    out.negative = text.front() == '-';
    text.remove_prefix(1);
  }
  if (text.empty() || !std::all_of(text.begin(), text.end(), IsAsciiDigit)) return std::nullopt;
  const auto result = std::from_chars(text.data(), text.data() + text.size(), out.magnitude);
  if (result.ec == std::errc::result_out_of_range) {
    out.magnitude_overflows = true;
  } else if (result.ec != std::errc() || result.ptr != text.data() + text.size()) {
    return std::nullopt;
  }
  return out;
}

StatusOr<uint64_t> ParseUnsigned(std::string_view text, uint64_t max, std::string_view type_name) {
  const std::optional<DecimalInteger> parsed = SplitDecimal(text);
  if (!parsed) return InvalidArgument("expected an unsigned integer, got " + QuoteForError(text));
  if (parsed->negative) {
    return InvalidArgument("expected an unsigned integer, got negative value " +
                           QuoteForError(text));
  }
  if (parsed->magnitude_overflows || parsed->magnitude > max) {
    return InvalidArgument("value " + QuoteForError(text) + " is out of range for " +
                           std::string(type_name) + " (at most " + std::to_string(max) + ")");
  }
  return parsed->magnitude;
}

StatusOr<int64_t> ParseSigned(std::string_view text, int64_t min, int64_t max,
                              std::string_view type_name) {
  const std::optional<DecimalInteger> parsed = SplitDecimal(text);
  if (!parsed) return InvalidArgument("expected an integer, got " + QuoteForError(text));
  // The magnitude limit on each side, as unsigned to cover INT64_MIN.
  const uint64_t limit =
      parsed->negative ? uint64_t{0} - static_cast<uint64_t>(min) : static_cast<uint64_t>(max);
  if (parsed->magnitude_overflows || parsed->magnitude > limit) {
    return InvalidArgument("value " + QuoteForError(text) + " is out of range for " +
                           std::string(type_name) + " (" + std::to_string(min) + " to " +
                           std::to_string(max) + ")");
  }
  if (!parsed->negative) return static_cast<int64_t>(parsed->magnitude);
  // Two's complement negation of a magnitude <= 2^63.
  return static_cast<int64_t>(uint64_t{0} - parsed->magnitude);
}

// Finite decimal floating-point text of type T (float or double).
template <typename T>
StatusOr<T> ParseFloating(std::string_view text, std::string_view type_name) {
  std::string_view digits = text;
  if (!digits.empty() && digits.front() == '+') digits.remove_prefix(1);
  // from_chars also reads "inf"/"nan"; only digits, '.', '-' may start a number here.
  const bool starts_like_number =
      !digits.empty() && (IsAsciiDigit(digits.front()) || digits.front() == '.' ||
                          (digits.front() == '-' && digits.size() > 1 &&
                           (IsAsciiDigit(digits[1]) || digits[1] == '.')));
  T value{};
  const auto result = starts_like_number
                          ? std::from_chars(digits.data(), digits.data() + digits.size(), value)
                          : std::from_chars_result{digits.data(), std::errc::invalid_argument};
  if (result.ec == std::errc::result_out_of_range && result.ptr == digits.data() + digits.size()) {
    return InvalidArgument("value " + QuoteForError(text) + " is out of range for " +
                           std::string(type_name));
  }
  if (result.ec != std::errc() || result.ptr != digits.data() + digits.size()) {
    return InvalidArgument("expected a number, got " + QuoteForError(text));
  }
  if (!std::isfinite(value)) {
    return InvalidArgument("expected a finite number, got " + QuoteForError(text));
  }
  return value;
}

// ---------------------------------------------------------------------------
// Descriptor helpers.

std::vector<const FieldDescriptor*> FieldsByNumber(const Descriptor* descriptor) {
  std::vector<const FieldDescriptor*> fields;
  fields.reserve(descriptor->field_count());
  for (int i = 0; i < descriptor->field_count(); ++i) fields.push_back(descriptor->field(i));
  std::sort(fields.begin(), fields.end(), [](const FieldDescriptor* a, const FieldDescriptor* b) {
    return a->number() < b->number();
  });
  return fields;
}

std::string FieldNameList(const Descriptor* descriptor) {
  std::string out;
  for (const FieldDescriptor* field : FieldsByNumber(descriptor)) {
    if (!out.empty()) out += ", ";
    out += field->name();
  }
  return out.empty() ? "(none)" : out;
}

std::string EnumNameList(const EnumDescriptor* descriptor) {
  std::string out;
  for (int i = 0; i < descriptor->value_count(); ++i) {
    if (!out.empty()) out += ", ";
    out += descriptor->value(i)->name();
  }
  return out;
}

// How error messages name the message at `path`: the path itself, or the type
// name at the top level.
std::string ScopeName(const std::string& path, const Descriptor* descriptor) {
  return path.empty() ? descriptor->name() : path;
}

std::string JoinPath(const std::string& path, std::string_view name) {
  return path.empty() ? std::string(name) : path + "." + std::string(name);
}

// What a field of this type expects, for error messages.
std::string ExpectedValue(const FieldDescriptor* field) {
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_BOOL: return "expected a boolean (true/false)";
    case FieldDescriptor::CPPTYPE_INT32:
    case FieldDescriptor::CPPTYPE_INT64: return "expected an integer";
    case FieldDescriptor::CPPTYPE_UINT32:
    case FieldDescriptor::CPPTYPE_UINT64: return "expected an unsigned integer";
    case FieldDescriptor::CPPTYPE_FLOAT:
    case FieldDescriptor::CPPTYPE_DOUBLE: return "expected a number";
    case FieldDescriptor::CPPTYPE_STRING: return "expected a string";
    case FieldDescriptor::CPPTYPE_ENUM:
      return "expected one of " + EnumNameList(field->enum_type());
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return "expected a map with fields " + FieldNameList(field->message_type());
  }
  return "expected a value";
}

// Proto3 enums are open: any int32 is a valid value of the field.
bool EnumIsOpen(const EnumDescriptor* descriptor) {
  return descriptor->file()->syntax() == FileDescriptor::SYNTAX_PROTO3;
}

// ---------------------------------------------------------------------------
// Reading.

std::string DescribeNode(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null: return "null";
    case YAML::NodeType::Scalar: return QuoteForError(node.Scalar());
    case YAML::NodeType::Sequence: return "a sequence";
    case YAML::NodeType::Map: return "a map";
    case YAML::NodeType::Undefined: return "nothing";
  }
  return "an unknown node";
}

// Walks a YAML node tree alongside a message, setting fields through reflection.
class YamlReader {
 public:
  // `source` starts every error. With `use_marks` it is followed by the node's
  // 1-based line:column (file input); without, it stands alone (overrides).
  YamlReader(std::string source, bool use_marks)
      : source_(std::move(source)), use_marks_(use_marks) {}

  // Reads the map `node` into `msg`, whose dotted path is `path` ("" at the top).
  Status ReadMessage(const YAML::Node& node, Message* msg, const std::string& path, int depth);

  // Reads `value` into `field` of `msg`. Null leaves the field untouched.
  Status ReadField(const YAML::Node& value, Message* msg, const FieldDescriptor* field,
                   const std::string& path, int depth);

  Status Error(const YAML::Mark& mark, const std::string& path, const std::string& what) const {
    std::string out = source_;
    if (use_marks_ && !mark.is_null()) {
      out += ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
    }
    out += ": ";
    if (!path.empty()) out += path + ": ";
    return InvalidArgument(out + what);
  }
  Status Error(const YAML::Node& node, const std::string& path, const std::string& what) const {
    return Error(node.Mark(), path, what);
  }

 private:
  // Sets (or, with `add`, appends to) scalar field `field` from the scalar `node`.
  Status ReadScalar(const YAML::Node& node, Message* msg, const FieldDescriptor* field, bool add,
                    const std::string& path);

  Status CountNode(const YAML::Node& node, const std::string& path) {
    if (++nodes_visited_ > kMaxNodes) {
      return Error(node, path,
                   "document too large (more than " + std::to_string(kMaxNodes) +
                       " values after expanding aliases)");
    }
    return Status::Ok();
  }

  std::string source_;
  bool use_marks_;
  int64_t nodes_visited_ = 0;
};

Status YamlReader::ReadMessage(const YAML::Node& node, Message* msg, const std::string& path,
                               int depth) {
  const Descriptor* descriptor = msg->GetDescriptor();
  if (depth > kMaxDepth) {
    return Error(node, path,
                 "messages nested deeper than " + std::to_string(kMaxDepth) + " levels");
  }
  if (!node.IsMap()) {
    return Error(
        node, path,
        "expected a map with fields " + FieldNameList(descriptor) + ", got " + DescribeNode(node));
  }
  // Where each field, and each oneof, was first given (for duplicate errors).
  std::map<int, YAML::Mark> field_marks;
  std::map<const OneofDescriptor*, std::pair<std::string, YAML::Mark>> oneof_marks;
  for (auto it = node.begin(); it != node.end(); ++it) {
    const YAML::Node key = it->first;
    const YAML::Node value = it->second;
    ECHOSIM_RETURN_IF_ERROR(CountNode(key, path));
    if (!key.IsScalar()) {
      return Error(key, path, "map keys must be field names, got " + DescribeNode(key));
    }
    const std::string& name = key.Scalar();
    const std::string field_path = JoinPath(path, name);
    const FieldDescriptor* field = descriptor->FindFieldByName(name);
    if (field == nullptr) {
      const std::string shown = name.size() <= kMaxQuotedBytes
                                    ? field_path
                                    : JoinPath(path, name.substr(0, kMaxQuotedBytes) + "...");
      return Error(key, shown,
                   "unknown field; valid fields of " + ScopeName(path, descriptor) + ": " +
                       FieldNameList(descriptor));
    }
    const auto [previous, inserted] = field_marks.emplace(field->number(), key.Mark());
    if (!inserted) {
      return Error(key, field_path,
                   "duplicate field (first given at line " +
                       std::to_string(previous->second.line + 1) + ")");
    }
    const OneofDescriptor* oneof = field->real_containing_oneof();
    if (oneof != nullptr && !value.IsNull()) {
      const auto [other, first] = oneof_marks.emplace(oneof, std::make_pair(name, key.Mark()));
      if (!first) {
        return Error(key, field_path,
                     "only one field of oneof '" + oneof->name() + "' may be set; '" +
                         other->second.first + "' was given at line " +
                         std::to_string(other->second.second.line + 1));
      }
    }
    ECHOSIM_RETURN_IF_ERROR(ReadField(value, msg, field, field_path, depth));
  }
  return Status::Ok();
}

Status YamlReader::ReadField(const YAML::Node& value, Message* msg, const FieldDescriptor* field,
                             const std::string& path, int depth) {
  ECHOSIM_RETURN_IF_ERROR(CountNode(value, path));
  if (value.IsNull()) return Status::Ok();
  const Reflection* reflection = msg->GetReflection();
  const bool is_message = field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE;

  if (field->is_repeated()) {
    if (!value.IsSequence()) {
      return Error(value, path, "expected a sequence, got " + DescribeNode(value));
    }
    reflection->ClearField(msg, field);
    size_t index = 0;
    for (auto it = value.begin(); it != value.end(); ++it, ++index) {
      const YAML::Node item = *it;
      const std::string item_path = path + "[" + std::to_string(index) + "]";
      ECHOSIM_RETURN_IF_ERROR(CountNode(item, item_path));
      if (is_message) {
        ECHOSIM_RETURN_IF_ERROR(
            ReadMessage(item, reflection->AddMessage(msg, field), item_path, depth + 1));
      } else {
        ECHOSIM_RETURN_IF_ERROR(ReadScalar(item, msg, field, /*add=*/true, item_path));
      }
    }
    return Status::Ok();
  }
  if (is_message) {
    if (!value.IsMap()) {
      return Error(value, path, ExpectedValue(field) + ", got " + DescribeNode(value));
    }
    return ReadMessage(value, reflection->MutableMessage(msg, field), path, depth + 1);
  }
  return ReadScalar(value, msg, field, /*add=*/false, path);
}

Status YamlReader::ReadScalar(const YAML::Node& node, Message* msg, const FieldDescriptor* field,
                              bool add, const std::string& path) {
  if (!node.IsScalar()) {
    return Error(node, path, ExpectedValue(field) + ", got " + DescribeNode(node));
  }
  const std::string& text = node.Scalar();
  const Reflection* reflection = msg->GetReflection();
  // Turns a parser's bare error into a located one.
  auto located = [&](const Status& status) { return Error(node, path, status.message()); };

  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_BOOL: {
      const StatusOr<bool> value = ParseBool(text);
      if (!value.ok()) return located(value.status());
      add ? reflection->AddBool(msg, field, *value) : reflection->SetBool(msg, field, *value);
      return Status::Ok();
    }
    case FieldDescriptor::CPPTYPE_INT32: {
      const StatusOr<int64_t> value = ParseSigned(text, std::numeric_limits<int32_t>::min(),
                                                  std::numeric_limits<int32_t>::max(), "int32");
      if (!value.ok()) return located(value.status());
      const auto v = static_cast<int32_t>(*value);
      add ? reflection->AddInt32(msg, field, v) : reflection->SetInt32(msg, field, v);
      return Status::Ok();
    }
    case FieldDescriptor::CPPTYPE_INT64: {
      const StatusOr<int64_t> value = ParseSigned(text, std::numeric_limits<int64_t>::min(),
                                                  std::numeric_limits<int64_t>::max(), "int64");
      if (!value.ok()) return located(value.status());
      add ? reflection->AddInt64(msg, field, *value) : reflection->SetInt64(msg, field, *value);
      return Status::Ok();
    }
    case FieldDescriptor::CPPTYPE_UINT32: {
      const StatusOr<uint64_t> value =
          ParseUnsigned(text, std::numeric_limits<uint32_t>::max(), "uint32");
      if (!value.ok()) return located(value.status());
      const auto v = static_cast<uint32_t>(*value);
      add ? reflection->AddUInt32(msg, field, v) : reflection->SetUInt32(msg, field, v);
      return Status::Ok();
    }
    case FieldDescriptor::CPPTYPE_UINT64: {
      const StatusOr<uint64_t> value =
          ParseUnsigned(text, std::numeric_limits<uint64_t>::max(), "uint64");
      if (!value.ok()) return located(value.status());
      add ? reflection->AddUInt64(msg, field, *value) : reflection->SetUInt64(msg, field, *value);
      return Status::Ok();
    }
    case FieldDescriptor::CPPTYPE_FLOAT: {
      const StatusOr<float> value = ParseFloating<float>(text, "float");
      if (!value.ok()) return located(value.status());
      add ? reflection->AddFloat(msg, field, *value) : reflection->SetFloat(msg, field, *value);
      return Status::Ok();
    }
    case FieldDescriptor::CPPTYPE_DOUBLE: {
      const StatusOr<double> value = ParseFloating<double>(text, "double");
      if (!value.ok()) return located(value.status());
      add ? reflection->AddDouble(msg, field, *value) : reflection->SetDouble(msg, field, *value);
      return Status::Ok();
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      if (field->type() == FieldDescriptor::TYPE_STRING && !IsValidUtf8(text)) {
        return Error(node, path, "expected a UTF-8 string, got invalid UTF-8 bytes");
      }
      add ? reflection->AddString(msg, field, text) : reflection->SetString(msg, field, text);
      return Status::Ok();
    }
    case FieldDescriptor::CPPTYPE_ENUM: {
      const EnumDescriptor* enum_type = field->enum_type();
      int number = 0;
      if (const EnumValueDescriptor* named = enum_type->FindValueByName(text)) {
        number = named->number();
      } else {
        const StatusOr<int64_t> value = ParseSigned(text, std::numeric_limits<int32_t>::min(),
                                                    std::numeric_limits<int32_t>::max(), "enum");
        if (!value.ok() || (!EnumIsOpen(enum_type) &&
                            enum_type->FindValueByNumber(static_cast<int>(*value)) == nullptr)) {
          return Error(node, path,
                       "unknown value " + QuoteForError(text) + "; valid values of " +
                           enum_type->name() + ": " + EnumNameList(enum_type));
        }
        number = static_cast<int>(*value);
      }
      add ? reflection->AddEnumValue(msg, field, number)
          : reflection->SetEnumValue(msg, field, number);
      return Status::Ok();
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: break;  // handled by ReadField
  }
  return Error(node, path, ExpectedValue(field) + ", got " + DescribeNode(node));
}

// Records where each YAML document starts; other events are ignored.
class DocumentStarts : public YAML::EventHandler {
 public:
  const std::vector<YAML::Mark>& starts() const { return starts_; }

  void OnDocumentStart(const YAML::Mark& mark) override { starts_.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

 private:
  std::vector<YAML::Mark> starts_;
};

// Parses `text`, which must hold at most one YAML document, and returns it (a
// null node when there is none). Errors are located through `reader`; parser
// messages get `what_prefix`. yaml-cpp's LoadAll loops forever on input such as
// "," (the stray token yields empty documents without being consumed), so the
// documents are counted by a pass that stops at the second one, and the first is
// then built with YAML::Load.
StatusOr<YAML::Node> LoadSingleDocument(std::string_view text, const YamlReader& reader,
                                        const std::string& what_prefix) {
  const std::string owned(text);
  try {
    std::istringstream stream(owned);
    YAML::Parser parser(stream);
    DocumentStarts documents;
    while (documents.starts().size() < 2 && parser.HandleNextDocument(documents)) {
    }
    if (documents.starts().size() == 2) {
      const YAML::Mark& second = documents.starts()[1];
      const bool stuck = second.pos == documents.starts()[0].pos;
      if (stuck && second.pos >= 0 && static_cast<size_t>(second.pos) < owned.size()) {
        return reader.Error(
            second, "", what_prefix + "unexpected " + QuoteForError(owned.substr(second.pos, 1)));
      }
      return reader.Error(second, "", "expected a single YAML document; another one starts here");
    }
    return YAML::Load(owned);
  } catch (const YAML::DeepRecursion& e) {
    return reader.Error(e.mark, "", what_prefix + "nested too deeply");
  } catch (const YAML::ParserException& e) {
    return reader.Error(e.mark, "", what_prefix + e.msg);
  }
}

// ---------------------------------------------------------------------------
// Writing.

// Whether the plain (unquoted) YAML scalar `s` could be read as something other
// than this exact string, by yaml-cpp or by YAML 1.1/1.2 core-schema readers.
bool NeedsQuotes(std::string_view s) {
  if (s.empty()) return true;
  auto safe_first = [](char c) {
    return IsAsciiAlpha(c) || IsAsciiDigit(c) || c == '_' || c == '/' || c == '.';
  };
  auto safe_rest = [&](char c) { return safe_first(c) || c == '-' || c == '+'; };
  if (!safe_first(s.front()) || !std::all_of(s.begin() + 1, s.end(), safe_rest)) return true;
  const std::string lower = AsciiLower(s);
  for (const char* word : {"null", "true", "false", "yes", "no", "on", "off", "y", "n"}) {
    if (lower == word) return true;
  }
  if (lower.size() >= 2 && lower[0] == '0' &&
      (lower[1] == 'x' || lower[1] == 'o' || lower[1] == 'b')) {
    return true;  // hex / octal / binary integers
  }
  if (lower == ".inf" || lower == ".nan") return true;
  // Digits with '_' or '.' only: YAML 1.1 integers and floats such as 1_000.
  if (IsAsciiDigit(s.front()) && std::all_of(s.begin(), s.end(), [](char c) {
        return IsAsciiDigit(c) || c == '_' || c == '.';
      })) {
    return true;
  }
  double ignored = 0;
  const auto result = std::from_chars(s.data(), s.data() + s.size(), ignored);
  return result.ec != std::errc::invalid_argument && result.ptr == s.data() + s.size();
}

std::string FormatString(std::string_view s) {
  if (!NeedsQuotes(s)) return std::string(s);
  std::string out = "\"";
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::string_view rest = s.substr(i);
    // Characters YAML may treat as line breaks or a byte order mark: escape them.
    if (rest.substr(0, 2) == "\xC2\x85") {
      out += "\\u0085";
      ++i;
    } else if (rest.substr(0, 3) == "\xE2\x80\xA8") {
      out += "\\u2028";
      i += 2;
    } else if (rest.substr(0, 3) == "\xE2\x80\xA9") {
      out += "\\u2029";
      i += 2;
    } else if (rest.substr(0, 3) == "\xEF\xBB\xBF") {
      out += "\\ufeff";
      i += 2;
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c == 0x7F) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
  return out;
}

template <typename T>
std::string FormatFloating(T value) {
  if (std::isnan(value)) return ".nan";
  if (std::isinf(value)) return value > 0 ? ".inf" : "-.inf";
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, result.ptr);
}

std::string FormatEnum(const EnumDescriptor* enum_type, int number) {
  const EnumValueDescriptor* value = enum_type->FindValueByNumber(number);
  return value != nullptr ? FormatString(value->name()) : std::to_string(number);
}

// Scalar field `field` of `msg`: element `index` when repeated, else the value.
std::string FormatScalar(const Message& msg, const FieldDescriptor* field, int index) {
  const Reflection* r = msg.GetReflection();
  const bool rep = field->is_repeated();
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_BOOL:
      return (rep ? r->GetRepeatedBool(msg, field, index) : r->GetBool(msg, field)) ? "true"
                                                                                    : "false";
    case FieldDescriptor::CPPTYPE_INT32:
      return std::to_string(rep ? r->GetRepeatedInt32(msg, field, index) : r->GetInt32(msg, field));
    case FieldDescriptor::CPPTYPE_INT64:
      return std::to_string(rep ? r->GetRepeatedInt64(msg, field, index) : r->GetInt64(msg, field));
    case FieldDescriptor::CPPTYPE_UINT32:
      return std::to_string(rep ? r->GetRepeatedUInt32(msg, field, index)
                                : r->GetUInt32(msg, field));
    case FieldDescriptor::CPPTYPE_UINT64:
      return std::to_string(rep ? r->GetRepeatedUInt64(msg, field, index)
                                : r->GetUInt64(msg, field));
    case FieldDescriptor::CPPTYPE_FLOAT:
      return FormatFloating(rep ? r->GetRepeatedFloat(msg, field, index) : r->GetFloat(msg, field));
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return FormatFloating(rep ? r->GetRepeatedDouble(msg, field, index)
                                : r->GetDouble(msg, field));
    case FieldDescriptor::CPPTYPE_STRING:
      return FormatString(rep ? r->GetRepeatedString(msg, field, index) : r->GetString(msg, field));
    case FieldDescriptor::CPPTYPE_ENUM:
      return FormatEnum(field->enum_type(), rep ? r->GetRepeatedEnumValue(msg, field, index)
                                                : r->GetEnumValue(msg, field));
    case FieldDescriptor::CPPTYPE_MESSAGE: break;
  }
  return "~";
}

// Orders map entries by key so that output does not depend on hash order.
bool MapKeyLess(const Message& a, const Message& b) {
  const FieldDescriptor* key = a.GetDescriptor()->map_key();
  const Reflection* ra = a.GetReflection();
  const Reflection* rb = b.GetReflection();
  switch (key->cpp_type()) {
    case FieldDescriptor::CPPTYPE_BOOL: return ra->GetBool(a, key) < rb->GetBool(b, key);
    case FieldDescriptor::CPPTYPE_INT32: return ra->GetInt32(a, key) < rb->GetInt32(b, key);
    case FieldDescriptor::CPPTYPE_INT64: return ra->GetInt64(a, key) < rb->GetInt64(b, key);
    case FieldDescriptor::CPPTYPE_UINT32: return ra->GetUInt32(a, key) < rb->GetUInt32(b, key);
    case FieldDescriptor::CPPTYPE_UINT64: return ra->GetUInt64(a, key) < rb->GetUInt64(b, key);
    case FieldDescriptor::CPPTYPE_STRING: return ra->GetString(a, key) < rb->GetString(b, key);
    default: return false;  // map keys cannot have other types
  }
}

class YamlWriter {
 public:
  std::string Finish() && { return std::move(out_); }

  // Writes the fields of `msg` as "key: value" lines at `indent` spaces.
  void WriteFields(const Message& msg, int indent) {
    const Reflection* reflection = msg.GetReflection();
    const Descriptor* descriptor = msg.GetDescriptor();
    open_types_.push_back(descriptor);
    for (const FieldDescriptor* field : FieldsByNumber(descriptor)) {
      if (field->real_containing_oneof() != nullptr && !reflection->HasField(msg, field)) continue;
      // An unset `optional` scalar stays unset: printing its zero value would set it on reading.
      if (!field->is_repeated() && field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE &&
          field->has_presence() && !reflection->HasField(msg, field)) {
        continue;
      }
      WriteField(msg, field, indent);
    }
    open_types_.pop_back();
  }

 private:
  static std::string Indented(int indent, std::string_view text) {
    std::string line(static_cast<size_t>(indent), ' ');
    line.append(text);
    line += '\n';
    return line;
  }
  void Line(int indent, std::string_view text) { out_ += Indented(indent, text); }

  void WriteField(const Message& msg, const FieldDescriptor* field, int indent) {
    const Reflection* reflection = msg.GetReflection();
    const std::string key = field->name() + ":";
    if (field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) {
      if (!field->is_repeated()) {
        Line(indent, key + " " + FormatScalar(msg, field, -1));
        return;
      }
      std::string items;
      for (int i = 0; i < reflection->FieldSize(msg, field); ++i) {
        if (i > 0) items += ", ";
        items += FormatScalar(msg, field, i);
      }
      Line(indent, key + " [" + items + "]");
      return;
    }

    const Descriptor* type = field->message_type();
    if (!field->is_repeated()) {
      const bool recursive =
          std::find(open_types_.begin(), open_types_.end(), type) != open_types_.end();
      if (recursive && !reflection->HasField(msg, field)) {
        Line(indent, key + " ~");
      } else {
        const size_t start = out_.size();
        Line(indent, key);
        const size_t body = out_.size();
        WriteFields(reflection->GetMessage(msg, field), indent + 2);
        // No lines (no fields, or only unset oneof members): an explicit empty map.
        if (out_.size() == body) {
          out_.replace(start, out_.size() - start, Indented(indent, key + " {}"));
        }
      }
      return;
    }

    std::vector<const Message*> items;
    for (int i = 0; i < reflection->FieldSize(msg, field); ++i) {
      items.push_back(&reflection->GetRepeatedMessage(msg, field, i));
    }
    if (field->is_map()) {
      std::stable_sort(items.begin(), items.end(),
                       [](const Message* a, const Message* b) { return MapKeyLess(*a, *b); });
    }
    if (items.empty()) {
      Line(indent, key + " []");
      return;
    }
    Line(indent, key);
    for (const Message* item : items) {
      // The element's fields sit at indent + 4; the first line carries the "- ".
      const size_t start = out_.size();
      WriteFields(*item, indent + 4);
      if (out_.size() == start) {
        Line(indent + 2, "- {}");
      } else {
        out_.replace(start + static_cast<size_t>(indent) + 2, 2, "- ");
      }
    }
  }

  std::string out_;
  std::vector<const Descriptor*> open_types_;  // message types being written, outermost first
};

}  // namespace

Status YamlToProto(std::string_view yaml_text, std::string_view source_name, Message* msg) {
  YamlReader reader(std::string(source_name), /*use_marks=*/true);
  try {
    ECHOSIM_ASSIGN_OR_RETURN(const YAML::Node document,
                             LoadSingleDocument(yaml_text, reader, "malformed YAML: "));
    std::unique_ptr<Message> parsed(msg->New());
    if (!document.IsNull()) {
      if (!document.IsMap()) {
        return reader.Error(document, "",
                            "the document must be a map of " + msg->GetDescriptor()->name() +
                                " fields (" + FieldNameList(msg->GetDescriptor()) + "), got " +
                                DescribeNode(document));
      }
      ECHOSIM_RETURN_IF_ERROR(reader.ReadMessage(document, parsed.get(), "", 0));
    }
    msg->GetReflection()->Swap(msg, parsed.get());
    return Status::Ok();
  } catch (const YAML::Exception& e) {
    return reader.Error(e.mark, "", "YAML error: " + e.msg);
  } catch (const std::exception& e) {
    return Internal(std::string(source_name) + ": unexpected error reading YAML: " + e.what());
  }
}

Status ApplyOverride(std::string_view assignment, Message* msg) {
  const std::string context = "--set " + std::string(assignment);
  const size_t equals = assignment.find('=');
  if (equals == std::string_view::npos) {
    return InvalidArgument(context + ": expected dotted.path=value (missing '=')");
  }
  const std::string_view path_text = Trim(assignment.substr(0, equals));
  const std::string_view value_text = assignment.substr(equals + 1);
  if (path_text.empty()) return InvalidArgument(context + ": missing field path before '='");

  std::vector<std::string_view> names;
  for (size_t start = 0;;) {
    const size_t dot = path_text.find('.', start);
    names.push_back(path_text.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (names.back().empty()) {
      return InvalidArgument(context + ": empty field name in '" + std::string(path_text) + "'");
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }

  YamlReader reader(context, /*use_marks=*/false);
  try {
    // Work on a copy so that `msg` is unchanged on error.
    std::unique_ptr<Message> work(msg->New());
    work->CopyFrom(*msg);
    Message* target = work.get();
    std::string path;
    const FieldDescriptor* field = nullptr;
    for (size_t i = 0; i < names.size(); ++i) {
      const Descriptor* descriptor = target->GetDescriptor();
      field = descriptor->FindFieldByName(std::string(names[i]));
      if (field == nullptr) {
        return InvalidArgument(context + ": unknown field '" + std::string(names[i]) +
                               "'; valid fields of " + ScopeName(path, descriptor) + ": " +
                               FieldNameList(descriptor));
      }
      path = JoinPath(path, names[i]);
      if (i + 1 == names.size()) break;
      if (field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE || field->is_repeated()) {
        return InvalidArgument(context + ": " + path + " is " +
                               (field->is_repeated() ? "a repeated field" : "not a message") +
                               "; it has no field '" + std::string(names[i + 1]) + "'");
      }
      target = target->GetReflection()->MutableMessage(target, field);
    }

    // A one-value assignment has no anchors to refer to: a string field's value that starts
    // with '*' or '&' (a hybrid layer pattern, "*EME...") is taken as written, not as a YAML
    // alias or anchor.
    const std::string_view trimmed = Trim(value_text);
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_STRING && !field->is_repeated() &&
        !trimmed.empty() && (trimmed.front() == '*' || trimmed.front() == '&')) {
      target->GetReflection()->SetString(target, field, std::string(trimmed));
      msg->GetReflection()->Swap(msg, work.get());
      return Status::Ok();
    }
    ECHOSIM_ASSIGN_OR_RETURN(const YAML::Node value,
                             LoadSingleDocument(value_text, reader, "malformed value: "));
    if (value.IsNull()) {
      target->GetReflection()->ClearField(target, field);
    } else {
      if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && !field->is_repeated() &&
          !value.IsMap()) {
        return InvalidArgument(
            context + ": " + path + " is a message; set one of its fields instead (" + path +
            ".<field>=...); valid fields of " + path + ": " + FieldNameList(field->message_type()));
      }
      ECHOSIM_RETURN_IF_ERROR(
          reader.ReadField(value, target, field, path, static_cast<int>(names.size())));
    }
    msg->GetReflection()->Swap(msg, work.get());
    return Status::Ok();
  } catch (const YAML::Exception& e) {
    return InvalidArgument(context + ": YAML error: " + e.msg);
  } catch (const std::exception& e) {
    return Internal(context + ": unexpected error: " + e.what());
  }
}

std::string ProtoToYaml(const Message& msg) {
  YamlWriter writer;
  writer.WriteFields(msg, 0);
  std::string out = std::move(writer).Finish();
  return out.empty() ? "{}\n" : out;
}

}  // namespace echosim
