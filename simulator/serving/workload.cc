#include "simulator/serving/workload.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>

#include <nlohmann/json.hpp>

#include "simulator/core/strings.h"

namespace echosim {
namespace {

constexpr int kMaxSkipMessages = 5;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

}  // namespace

Status SplitCsvLine(std::string_view line, std::vector<std::string>* cells) {
  ECHOSIM_ASSIGN_OR_RETURN(std::vector<std::string> raw, echosim::SplitCsvLine(line));
  cells->clear();
  for (const std::string& c : raw) cells->push_back(std::string(Trim(c)));
  return Status::Ok();
}

namespace {

StatusOr<int64_t> ParseInteger(std::string_view text, const char* what) {
  text = Trim(text);
  if (text.empty()) return InvalidArgument(StrCat(what, ": empty, expected an integer"));
  size_t i = 0;
  bool neg = false;
  if (text[0] == '+' || text[0] == '-') {
    neg = text[0] == '-';
    i = 1;
  }
  if (i == text.size()) return InvalidArgument(StrCat(what, ": '", text, "' is not an integer"));
  int64_t v = 0;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (c < '0' || c > '9') {
      return InvalidArgument(StrCat(what, ": '", text, "' is not an integer"));
    }
    if (v > (std::numeric_limits<int64_t>::max() - (c - '0')) / 10) {
      return InvalidArgument(StrCat(what, ": '", text, "' is out of range"));
    }
    v = v * 10 + (c - '0');
  }
  return neg ? -v : v;
}

StatusOr<int32_t> ParseTokenCount(std::string_view text, const char* what) {
  ECHOSIM_ASSIGN_OR_RETURN(int64_t v, ParseInteger(text, what));
  if (v < 1 || v > 100'000'000) {
    return InvalidArgument(StrCat(what, ": ", v, " tokens; expected 1 to 100000000"));
  }
  return static_cast<int32_t>(v);
}

StatusOr<double> ParseNumber(std::string_view text, const char* what) {
  text = Trim(text);
  const std::string s(text);
  if (s.empty()) return InvalidArgument(StrCat(what, ": empty, expected a number"));
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || errno == ERANGE || !std::isfinite(v)) {
    return InvalidArgument(StrCat(what, ": '", s, "' is not a finite number"));
  }
  return v;
}

// FNV-1a of a group name, never 0 (0 means "no group").
uint64_t HashName(std::string_view s, uint64_t salt) {
  uint64_t h = 1469598103934665603ULL ^ salt;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h == 0 ? 1 : h;
}
constexpr uint64_t kPrefixSalt = 0x70726566ULL;   // "pref"
constexpr uint64_t kSessionSalt = 0x73657373ULL;  // "sess"

int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  // Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's algorithm).
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

void ApplyGroups(const TraceRecord& rec, Request* r) {
  r->prefix_group = 0;
  r->prefix_tokens = 0;
  if (!rec.session_id.empty()) {
    // A session's turns extend one conversation: all of a turn is the session's content.
    r->prefix_group = HashName(rec.session_id, kSessionSalt);
    r->prefix_tokens = r->input_tokens + r->output_tokens;
  } else if (!rec.prefix_id.empty()) {
    r->prefix_group = HashName(rec.prefix_id, kPrefixSalt);
    r->prefix_tokens = rec.prefix_tokens < 0 ? r->input_tokens : std::min(rec.prefix_tokens, r->input_tokens);
  }
}

// ----------------------------------------------------------------------------------------
// Trace files, read one line at a time.

class TraceFile {
 public:
  // Opens `path`, detects the format and reads the header (CSV).
  static StatusOr<std::unique_ptr<TraceFile>> Open(const std::string& path) {
    auto f = std::unique_ptr<TraceFile>(new TraceFile());
    f->path_ = path;
    f->in_.open(path, std::ios::binary);
    if (!f->in_) return NotFound(StrCat("cannot open trace file '", path, "'"));
    std::string first;
    int64_t line_no = 0;
    while (std::getline(f->in_, first)) {
      ++line_no;
      if (!Trim(first).empty()) break;
    }
    if (Trim(first).empty()) return InvalidArgument(StrCat(path, ": the trace is empty"));
    const bool jsonl = (path.size() >= 6 && path.compare(path.size() - 6, 6, ".jsonl") == 0) ||
                       Trim(first).front() == '{';
    if (jsonl) {
      f->columns_.format = TraceFormat::kJsonl;
      f->pending_first_ = std::move(first);
      f->has_pending_ = true;
      f->line_ = line_no - 1;
    } else {
      auto cols = ParseTraceHeader(first);
      if (!cols.ok()) return InvalidArgument(StrCat(path, ":", line_no, ": ", cols.status().message()));
      f->columns_ = *cols;
      f->line_ = line_no;
    }
    return f;
  }

  // Next record; false at end of file. `*error` is set (and true returned) for a bad line.
  bool Next(TraceRecord* rec, Status* error) {
    std::string line;
    for (;;) {
      if (has_pending_) {
        line = std::move(pending_first_);
        has_pending_ = false;
      } else if (!std::getline(in_, line)) {
        return false;
      }
      ++line_;
      if (!Trim(line).empty()) break;
    }
    Status st = columns_.format == TraceFormat::kJsonl ? ParseJsonlTraceLine(line, rec)
                                                       : ParseCsvTraceLine(line, columns_, rec);
    *error = st.ok() ? st : InvalidArgument(StrCat(path_, ":", line_, ": ", st.message()));
    return true;
  }
  int64_t line() const { return line_; }
  const std::string& path() const { return path_; }

 private:
  TraceFile() = default;
  std::string path_;
  std::ifstream in_;
  TraceColumns columns_;
  std::string pending_first_;
  bool has_pending_ = false;
  int64_t line_ = 0;
};

class TraceSource : public RequestSource {
 public:
  static StatusOr<std::unique_ptr<RequestSource>> Open(const std::string& path,
                                                       const WorkloadOptions& o) {
    auto src = std::unique_ptr<TraceSource>(new TraceSource());
    src->options_ = o;
    ECHOSIM_ASSIGN_OR_RETURN(src->file_, TraceFile::Open(path));
    src->scale_ = o.time_scale;
    if (o.target_qps > 0) {
      // One streaming pass for the recorded rate: (n - 1) / (last - first).
      ECHOSIM_ASSIGN_OR_RETURN(auto scan, TraceFile::Open(path));
      TraceRecord rec;
      Status err;
      int64_t n = 0;
      double first = 0, last = 0;
      while (scan->Next(&rec, &err)) {
        if (!err.ok()) {
          if (o.skip_bad_lines) continue;
          return err;
        }
        if (n == 0) first = rec.arrival_s;
        last = rec.arrival_s;
        ++n;
      }
      if (n < 2 || !(last > first)) {
        return InvalidArgument(StrCat("--qps: the trace '", path,
                                      "' needs two requests at different times to rescale its rate"));
      }
      const double recorded_qps = static_cast<double>(n - 1) / (last - first);
      src->scale_ = o.time_scale * recorded_qps / o.target_qps;
    }
    return std::unique_ptr<RequestSource>(std::move(src));
  }

  StatusOr<bool> Next(Request* r) override {
    if (options_.max_requests > 0 && emitted_ >= options_.max_requests) return false;
    TraceRecord rec;
    Status err;
    for (;;) {
      if (!file_->Next(&rec, &err)) return false;
      if (err.ok() && started_ && rec.arrival_s < last_s_) {
        err = InvalidArgument(StrCat(file_->path(), ":", file_->line(), ": arrival time ",
                                     FormatDouble(rec.arrival_s, 12), " s is before the previous line's ",
                                     FormatDouble(last_s_, 12), " s; traces must be sorted by arrival"));
      }
      if (err.ok()) break;
      if (!options_.skip_bad_lines) return err;
      ++skipped_;
      if (messages_.size() < kMaxSkipMessages) messages_.push_back(err.message());
    }
    if (!started_) {
      first_s_ = rec.arrival_s;
      started_ = true;
    }
    last_s_ = rec.arrival_s;
    const double t = (rec.arrival_s - first_s_) * scale_;
    if (options_.duration_s > 0 && t >= options_.duration_s) return false;
    r->id = emitted_++;
    r->arrival = SecondsToDuration(t);
    r->input_tokens = rec.input_tokens;
    r->output_tokens = rec.output_tokens;
    ApplyGroups(rec, r);
    return true;
  }
  int64_t skipped_lines() const override { return skipped_; }
  const std::vector<std::string>& skip_messages() const override { return messages_; }

 private:
  TraceSource() = default;
  WorkloadOptions options_;
  std::unique_ptr<TraceFile> file_;
  double scale_ = 1.0;
  bool started_ = false;
  double first_s_ = 0, last_s_ = 0;
  int64_t emitted_ = 0;
  int64_t skipped_ = 0;
  std::vector<std::string> messages_;
};

// ----------------------------------------------------------------------------------------
// Synthetic arrivals.

class SyntheticSource : public RequestSource {
 public:
  SyntheticSource(SyntheticSpec spec, const WorkloadOptions& o)
      : spec_(std::move(spec)), options_(o), rng_(o.seed) {}

  StatusOr<bool> Next(Request* r) override {
    const int64_t limit = spec_.requests > 0 ? spec_.requests : options_.max_requests;
    if (limit > 0 && emitted_ >= limit) return false;
    if (options_.max_requests > 0 && emitted_ >= options_.max_requests) return false;
    if (emitted_ > 0 && !std::isinf(spec_.qps)) {
      const double mean_gap = 1.0 / spec_.qps;
      switch (spec_.arrivals) {
        case SyntheticSpec::Arrivals::kPoisson: t_s_ += rng_.Exponential(mean_gap); break;
        case SyntheticSpec::Arrivals::kConstant: t_s_ += mean_gap; break;
        case SyntheticSpec::Arrivals::kGamma: {
          const double k = 1.0 / (spec_.cv * spec_.cv);
          t_s_ += rng_.Gamma(k, mean_gap / k);
          break;
        }
      }
    }
    if (options_.duration_s > 0 && t_s_ >= options_.duration_s) return false;
    if (limit <= 0 && options_.duration_s <= 0) {
      return InvalidArgument("a synthetic workload needs an end: --duration-s, requests=N or --max-requests");
    }
    r->id = emitted_++;
    r->arrival = SecondsToDuration(t_s_);
    r->input_tokens = spec_.input.Sample(rng_);
    r->output_tokens = spec_.output.Sample(rng_);
    r->prefix_group = 0;
    r->prefix_tokens = 0;
    if (spec_.prefix_groups > 0) {
      r->prefix_group = 1 + rng_.Below(static_cast<uint64_t>(spec_.prefix_groups));
      r->prefix_tokens = std::min(spec_.prefix_tokens, r->input_tokens);
    }
    return true;
  }

 private:
  SyntheticSpec spec_;
  WorkloadOptions options_;
  Rng rng_;
  double t_s_ = 0;
  int64_t emitted_ = 0;
};

StatusOr<std::shared_ptr<const std::vector<int32_t>>> LoadTraceColumn(const std::string& path,
                                                                       std::string_view column) {
  ECHOSIM_ASSIGN_OR_RETURN(auto file, TraceFile::Open(path));
  auto values = std::make_shared<std::vector<int32_t>>();
  TraceRecord rec;
  Status err;
  while (file->Next(&rec, &err)) {
    if (!err.ok()) return err;
    values->push_back(column == "input" ? rec.input_tokens : rec.output_tokens);
  }
  if (values->empty()) return InvalidArgument(StrCat(path, ": the trace has no requests"));
  return std::shared_ptr<const std::vector<int32_t>>(std::move(values));
}

}  // namespace

const std::vector<std::string>& RequestSource::skip_messages() const {
  static const std::vector<std::string> kNone;
  return kNone;
}

StatusOr<TraceColumns> ParseTraceHeader(std::string_view header) {
  std::vector<std::string> cells;
  ECHOSIM_RETURN_IF_ERROR(SplitCsvLine(header, &cells).WithContext("header"));
  TraceColumns c;
  c.count = cells.size();
  for (size_t i = 0; i < cells.size(); ++i) {
    std::string name = Lower(cells[i]);
    if (i == 0 && name.size() >= 3 && static_cast<unsigned char>(name[0]) == 0xEF) name = name.substr(3);  // BOM
    const int idx = static_cast<int>(i);
    if (name == "timestamp") {
      c.format = TraceFormat::kAzure;
      c.arrival = idx;
    } else if (name == "contexttokens") {
      c.input = idx;
    } else if (name == "generatedtokens") {
      c.output = idx;
    } else if (name == "arrival_s" || name == "arrival_time_s" || name == "timestamp_s") {
      c.format = TraceFormat::kCsv;
      c.arrival = idx;
    } else if (name == "input_tokens" || name == "prompt_tokens") {
      c.input = idx;
    } else if (name == "output_tokens" || name == "generated_tokens") {
      c.output = idx;
    } else if (name == "prefix_id") {
      c.prefix_id = idx;
    } else if (name == "prefix_tokens") {
      c.prefix_tokens = idx;
    } else if (name == "session_id") {
      c.session_id = idx;
    }
  }
  if (c.arrival < 0 || c.input < 0 || c.output < 0) {
    return InvalidArgument(StrCat("unrecognised trace header '", Trim(header),
                                  "'; expected the Azure trace header TIMESTAMP,ContextTokens,"
                                  "GeneratedTokens or a CSV header with arrival_s, input_tokens, "
                                  "output_tokens [, prefix_id, prefix_tokens, session_id]"));
  }
  return c;
}

StatusOr<double> ParseTimestampSeconds(std::string_view text) {
  text = Trim(text);
  // "YYYY-MM-DD hh:mm:ss[.fraction]" (also with 'T' between date and time).
  if (text.size() >= 19 && text[4] == '-' && text[7] == '-' && (text[10] == ' ' || text[10] == 'T') &&
      text[13] == ':' && text[16] == ':') {
    auto num = [&](size_t pos, size_t len, int64_t lo, int64_t hi, const char* what) -> StatusOr<int64_t> {
      int64_t v = 0;
      for (size_t i = pos; i < pos + len; ++i) {
        if (text[i] < '0' || text[i] > '9') {
          return InvalidArgument(StrCat("timestamp '", text, "': bad ", what));
        }
        v = v * 10 + (text[i] - '0');
      }
      if (v < lo || v > hi) return InvalidArgument(StrCat("timestamp '", text, "': ", what, " out of range"));
      return v;
    };
    ECHOSIM_ASSIGN_OR_RETURN(int64_t y, num(0, 4, 1, 9999, "year"));
    ECHOSIM_ASSIGN_OR_RETURN(int64_t mo, num(5, 2, 1, 12, "month"));
    ECHOSIM_ASSIGN_OR_RETURN(int64_t d, num(8, 2, 1, 31, "day"));
    ECHOSIM_ASSIGN_OR_RETURN(int64_t h, num(11, 2, 0, 23, "hour"));
    ECHOSIM_ASSIGN_OR_RETURN(int64_t mi, num(14, 2, 0, 59, "minute"));
    ECHOSIM_ASSIGN_OR_RETURN(int64_t s, num(17, 2, 0, 60, "second"));
    double frac = 0;
    if (text.size() > 19) {
      if (text[19] != '.' || text.size() == 20) {
        return InvalidArgument(StrCat("timestamp '", text, "': expected '.fraction' after the seconds"));
      }
      double scale = 0.1;
      for (size_t i = 20; i < text.size(); ++i) {
        if (text[i] < '0' || text[i] > '9') {
          return InvalidArgument(StrCat("timestamp '", text, "': bad fraction of a second"));
        }
        frac += (text[i] - '0') * scale;
        scale *= 0.1;
      }
    }
    const int64_t days = DaysFromCivil(y, mo, d);
    return static_cast<double>(days * 86400 + h * 3600 + mi * 60 + s) + frac;
  }
  auto v = ParseNumber(text, "timestamp");
  if (!v.ok()) {
    return InvalidArgument(StrCat("timestamp '", text,
                                  "': expected 'YYYY-MM-DD hh:mm:ss.fffffff' or seconds"));
  }
  if (*v < 0) return InvalidArgument(StrCat("timestamp '", text, "': negative"));
  return *v;
}

Status ParseCsvTraceLine(std::string_view line, const TraceColumns& c, TraceRecord* out) {
  std::vector<std::string> cells;
  ECHOSIM_RETURN_IF_ERROR(SplitCsvLine(line, &cells));
  if (cells.size() != c.count) {
    return InvalidArgument(StrCat("expected ", c.count, " comma-separated cells, got ", cells.size()));
  }
  TraceRecord r;
  if (c.format == TraceFormat::kAzure) {
    ECHOSIM_ASSIGN_OR_RETURN(r.arrival_s, ParseTimestampSeconds(cells[c.arrival]));
  } else {
    ECHOSIM_ASSIGN_OR_RETURN(r.arrival_s, ParseNumber(cells[c.arrival], "arrival_s"));
    if (r.arrival_s < 0) return InvalidArgument(StrCat("arrival_s: ", r.arrival_s, " is negative"));
  }
  const bool azure = c.format == TraceFormat::kAzure;
  ECHOSIM_ASSIGN_OR_RETURN(r.input_tokens,
                           ParseTokenCount(cells[c.input], azure ? "ContextTokens" : "input_tokens"));
  ECHOSIM_ASSIGN_OR_RETURN(r.output_tokens,
                           ParseTokenCount(cells[c.output], azure ? "GeneratedTokens" : "output_tokens"));
  if (c.prefix_id >= 0) r.prefix_id = cells[c.prefix_id];
  if (c.session_id >= 0) r.session_id = cells[c.session_id];
  if (c.prefix_tokens >= 0 && !cells[c.prefix_tokens].empty()) {
    ECHOSIM_ASSIGN_OR_RETURN(int64_t p, ParseInteger(cells[c.prefix_tokens], "prefix_tokens"));
    if (p < 0 || p > 100'000'000) return InvalidArgument(StrCat("prefix_tokens: ", p, " out of range"));
    r.prefix_tokens = static_cast<int32_t>(p);
  }
  *out = std::move(r);
  return Status::Ok();
}

Status ParseJsonlTraceLine(std::string_view line, TraceRecord* out) {
  const nlohmann::json j = nlohmann::json::parse(line.begin(), line.end(), nullptr, false);
  if (j.is_discarded()) return InvalidArgument("not valid JSON");
  if (!j.is_object()) return InvalidArgument("expected a JSON object");
  TraceRecord r;
  auto number = [&](const char* key, bool required, double* v) -> Status {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) {
      if (required) return InvalidArgument(StrCat("missing \"", key, "\""));
      return Status::Ok();
    }
    if (!it->is_number()) return InvalidArgument(StrCat("\"", key, "\" must be a number"));
    *v = it->get<double>();
    if (!std::isfinite(*v)) return InvalidArgument(StrCat("\"", key, "\" must be finite"));
    return Status::Ok();
  };
  auto tokens = [&](const char* key, bool required, int32_t* v) -> Status {
    double d = -1;
    ECHOSIM_RETURN_IF_ERROR(number(key, required, &d));
    if (d == -1 && !required) return Status::Ok();
    if (d != std::floor(d) || d < (required ? 1 : 0) || d > 1e8) {
      return InvalidArgument(StrCat("\"", key, "\": ", d, " is not a token count (",
                                    required ? 1 : 0, " to 100000000)"));
    }
    *v = static_cast<int32_t>(d);
    return Status::Ok();
  };
  auto name = [&](const char* key, std::string* v) -> Status {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return Status::Ok();
    if (it->is_string()) {
      *v = it->get<std::string>();
    } else if (it->is_number_integer()) {
      *v = it->dump();
    } else {
      return InvalidArgument(StrCat("\"", key, "\" must be a string or an integer"));
    }
    return Status::Ok();
  };
  double arrival = 0;
  ECHOSIM_RETURN_IF_ERROR(number("arrival_s", true, &arrival));
  if (arrival < 0) return InvalidArgument(StrCat("\"arrival_s\": ", arrival, " is negative"));
  r.arrival_s = arrival;
  ECHOSIM_RETURN_IF_ERROR(tokens("input_tokens", true, &r.input_tokens));
  ECHOSIM_RETURN_IF_ERROR(tokens("output_tokens", true, &r.output_tokens));
  ECHOSIM_RETURN_IF_ERROR(tokens("prefix_tokens", false, &r.prefix_tokens));
  ECHOSIM_RETURN_IF_ERROR(name("prefix_id", &r.prefix_id));
  ECHOSIM_RETURN_IF_ERROR(name("session_id", &r.session_id));
  *out = std::move(r);
  return Status::Ok();
}

StatusOr<LengthDistribution> LengthDistribution::Parse(std::string_view text,
                                                       std::string_view column,
                                                       const std::string& field) {
  LengthDistribution d;
  d.text_ = std::string(text);
  const size_t colon = text.find(':');
  const std::string kind(text.substr(0, colon));
  std::vector<std::string_view> args;
  if (colon != std::string_view::npos) {
    std::string_view rest = text.substr(colon + 1);
    if (kind == "trace") {
      args.push_back(rest);
    } else {
      for (;;) {
        const size_t c = rest.find(':');
        args.push_back(rest.substr(0, c));
        if (c == std::string_view::npos) break;
        rest = rest.substr(c + 1);
      }
    }
  }
  auto want = [&](size_t n, const char* form) -> Status {
    if (args.size() != n) {
      return InvalidArgument(StrCat(field, ": '", text, "' should be ", form));
    }
    return Status::Ok();
  };
  auto count = [&](std::string_view s) -> StatusOr<int32_t> {
    auto v = ParseTokenCount(s, field.c_str());
    if (!v.ok()) return InvalidArgument(StrCat(v.status().message(), " (in '", text, "')"));
    return v;
  };
  if (kind == "fixed") {
    ECHOSIM_RETURN_IF_ERROR(want(1, "fixed:N"));
    d.kind_ = Kind::kFixed;
    ECHOSIM_ASSIGN_OR_RETURN(d.a_, count(args[0]));
    d.mean_ = d.a_;
  } else if (kind == "uniform") {
    ECHOSIM_RETURN_IF_ERROR(want(2, "uniform:MIN:MAX"));
    d.kind_ = Kind::kUniform;
    ECHOSIM_ASSIGN_OR_RETURN(d.a_, count(args[0]));
    ECHOSIM_ASSIGN_OR_RETURN(d.b_, count(args[1]));
    if (d.b_ < d.a_) return InvalidArgument(StrCat(field, ": '", text, "': MAX is below MIN"));
    d.mean_ = 0.5 * (static_cast<double>(d.a_) + d.b_);
  } else if (kind == "lognormal") {
    if (args.size() != 3) ECHOSIM_RETURN_IF_ERROR(want(2, "lognormal:MEAN:SIGMA[:MAX]"));
    d.kind_ = Kind::kLognormal;
    ECHOSIM_ASSIGN_OR_RETURN(double mean, ParseNumber(args[0], field.c_str()));
    ECHOSIM_ASSIGN_OR_RETURN(d.sigma_, ParseNumber(args[1], field.c_str()));
    if (!(mean >= 1 && mean <= 1e8) || !(d.sigma_ >= 0 && d.sigma_ <= 5)) {
      return InvalidArgument(StrCat(field, ": '", text,
                                    "': MEAN must be in [1, 1e8] tokens and SIGMA in [0, 5]"));
    }
    d.b_ = 100'000'000;
    if (args.size() == 3) {
      ECHOSIM_ASSIGN_OR_RETURN(d.b_, count(args[2]));
      if (d.b_ < mean) return InvalidArgument(StrCat(field, ": '", text, "': MAX is below MEAN"));
    }
    d.mean_ = mean;
    d.mu_ = std::log(mean) - 0.5 * d.sigma_ * d.sigma_;
  } else if (kind == "quantiles") {
    if (args.size() < 2 || args.size() > 1001) {
      return InvalidArgument(StrCat(field, ": '", text, "' should be quantiles:V0:V1:...:VN with 2 to 1001 values"));
    }
    d.kind_ = Kind::kQuantiles;
    double sum = 0;
    for (size_t i = 0; i < args.size(); ++i) {
      ECHOSIM_ASSIGN_OR_RETURN(int32_t v, count(args[i]));
      if (!d.quantiles_.empty() && v < d.quantiles_.back()) {
        return InvalidArgument(StrCat(field, ": '", text, "': quantiles must not decrease"));
      }
      d.quantiles_.push_back(v);
    }
    // Mean of the piecewise-linear inverse CDF: the average of each segment's midpoint.
    for (size_t i = 0; i + 1 < d.quantiles_.size(); ++i) sum += 0.5 * (d.quantiles_[i] + d.quantiles_[i + 1]);
    d.mean_ = sum / static_cast<double>(d.quantiles_.size() - 1);
  } else if (kind == "trace") {
    ECHOSIM_RETURN_IF_ERROR(want(1, "trace:FILE"));
    d.kind_ = Kind::kEmpirical;
    auto values = LoadTraceColumn(std::string(args[0]), column);
    if (!values.ok()) return values.status().WithContext(field);
    d.values_ = *values;
    double sum = 0;
    for (int32_t v : *d.values_) sum += v;
    d.mean_ = sum / static_cast<double>(d.values_->size());
  } else {
    return InvalidArgument(StrCat(field, ": unknown length distribution '", kind,
                                  "'; valid: fixed:N, uniform:MIN:MAX, lognormal:MEAN:SIGMA, quantiles:V0:...:VN, trace:FILE"));
  }
  return d;
}

int32_t LengthDistribution::Sample(Rng& rng) const {
  switch (kind_) {
    case Kind::kFixed: return a_;
    case Kind::kUniform: return a_ + static_cast<int32_t>(rng.Below(static_cast<uint64_t>(b_ - a_) + 1));
    case Kind::kLognormal: {
      // Values above MAX are drawn again (a length filter, as benchmark datasets apply);
      // after 64 tries the value is clamped, so sampling always ends.
      long long v = 0;
      for (int tries = 0; tries < 64; ++tries) {
        v = std::max(1LL, std::llround(std::exp(mu_ + sigma_ * rng.Normal())));
        if (v <= b_) break;
      }
      return static_cast<int32_t>(std::clamp<long long>(v, 1, b_));
    }
    case Kind::kEmpirical: return (*values_)[rng.Below(values_->size())];
    case Kind::kQuantiles: {
      const double x = rng.Uniform() * static_cast<double>(quantiles_.size() - 1);
      const size_t i = std::min(static_cast<size_t>(x), quantiles_.size() - 2);
      const double v = quantiles_[i] + (x - static_cast<double>(i)) * (quantiles_[i + 1] - quantiles_[i]);
      return static_cast<int32_t>(std::max<long long>(1, std::llround(v)));
    }
  }
  return 1;
}

double LengthDistribution::Mean() const { return mean_; }
std::string LengthDistribution::Describe() const { return text_; }

StatusOr<SyntheticSpec> ParseSyntheticSpec(std::string_view spec) {
  SyntheticSpec s;
  const size_t colon = spec.find(':');
  const std::string kind(spec.substr(0, colon));
  if (kind == "poisson") {
    s.arrivals = SyntheticSpec::Arrivals::kPoisson;
  } else if (kind == "gamma") {
    s.arrivals = SyntheticSpec::Arrivals::kGamma;
  } else if (kind == "constant") {
    s.arrivals = SyntheticSpec::Arrivals::kConstant;
  } else {
    return InvalidArgument(StrCat("--workload: unknown workload kind '", kind,
                                  "'; valid: trace:FILE, poisson:..., gamma:..., constant:..."));
  }
  if (colon == std::string_view::npos) {
    return InvalidArgument(StrCat("--workload: '", spec, "' needs parameters, e.g. ", kind,
                                  ":qps=5,input=fixed:1000,output=fixed:200"));
  }
  bool has_qps = false, has_input = false, has_output = false, has_cv = false;
  bool has_groups = false, has_prefix = false;
  std::string_view rest = spec.substr(colon + 1);
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      return InvalidArgument(StrCat("--workload: '", item, "' should be KEY=VALUE; keys: qps, cv, input, output, requests, prefix_groups, prefix_tokens"));
    }
    const std::string key(item.substr(0, eq));
    const std::string_view value = item.substr(eq + 1);
    const std::string field = "--workload " + key;
    if (key == "qps" && value == "inf") {
      s.qps = std::numeric_limits<double>::infinity();
      has_qps = true;
    } else if (key == "qps") {
      ECHOSIM_ASSIGN_OR_RETURN(s.qps, ParseNumber(value, field.c_str()));
      if (!(s.qps > 0)) return InvalidArgument(StrCat(field, ": the rate must be positive, got ", value));
      if (s.qps > 1e7) return InvalidArgument(StrCat(field, ": ", value, " requests/s is beyond any cluster (max 1e7)"));
      has_qps = true;
    } else if (key == "cv") {
      ECHOSIM_ASSIGN_OR_RETURN(s.cv, ParseNumber(value, field.c_str()));
      if (!(s.cv > 0.01 && s.cv <= 100)) return InvalidArgument(StrCat(field, ": must be in (0.01, 100], got ", value));
      has_cv = true;
    } else if (key == "input") {
      ECHOSIM_ASSIGN_OR_RETURN(s.input, LengthDistribution::Parse(value, "input", field));
      has_input = true;
    } else if (key == "output") {
      ECHOSIM_ASSIGN_OR_RETURN(s.output, LengthDistribution::Parse(value, "output", field));
      has_output = true;
    } else if (key == "requests") {
      ECHOSIM_ASSIGN_OR_RETURN(s.requests, ParseInteger(value, field.c_str()));
      if (s.requests < 1) return InvalidArgument(StrCat(field, ": must be at least 1"));
    } else if (key == "prefix_groups") {
      ECHOSIM_ASSIGN_OR_RETURN(s.prefix_groups, ParseInteger(value, field.c_str()));
      if (s.prefix_groups < 1 || s.prefix_groups > 1'000'000'000) return InvalidArgument(StrCat(field, ": must be 1 to 1e9"));
      has_groups = true;
    } else if (key == "prefix_tokens") {
      ECHOSIM_ASSIGN_OR_RETURN(s.prefix_tokens, ParseTokenCount(value, field.c_str()));
      has_prefix = true;
    } else {
      return InvalidArgument(StrCat("--workload: unknown key '", key,
                                    "'; valid keys: qps, cv (gamma), input, output, requests, prefix_groups, prefix_tokens"));
    }
  }
  if (!has_qps) return InvalidArgument(StrCat("--workload: ", kind, " needs qps=RATE (requests/s)"));
  if (!has_input) return InvalidArgument(StrCat("--workload: ", kind, " needs input=DIST (e.g. input=lognormal:1000:0.5)"));
  if (!has_output) return InvalidArgument(StrCat("--workload: ", kind, " needs output=DIST (e.g. output=fixed:200)"));
  if (has_cv && s.arrivals != SyntheticSpec::Arrivals::kGamma) {
    return InvalidArgument("--workload cv: only the gamma arrival process takes cv");
  }
  if (std::isinf(s.qps) && s.arrivals != SyntheticSpec::Arrivals::kConstant) {
    return InvalidArgument("--workload qps=inf (every request at t=0) goes with the constant arrival process");
  }
  if (has_groups != has_prefix) {
    return InvalidArgument("--workload: prefix_groups and prefix_tokens go together");
  }
  return s;
}

StatusOr<std::unique_ptr<RequestSource>> MakeRequestSource(const std::string& spec,
                                                           const WorkloadOptions& o) {
  if (!(o.time_scale > 0) || !std::isfinite(o.time_scale)) {
    return InvalidArgument(StrCat("--time-scale must be a positive number, got ", o.time_scale));
  }
  if (o.target_qps < 0 || !std::isfinite(o.target_qps)) {
    return InvalidArgument(StrCat("--qps must be a positive number, got ", o.target_qps));
  }
  if (o.duration_s < 0 || !std::isfinite(o.duration_s)) {
    return InvalidArgument(StrCat("--duration-s must be positive, got ", o.duration_s));
  }
  if (spec.rfind("trace:", 0) == 0) {
    if (spec.size() == 6) return InvalidArgument("--workload trace: needs a file, trace:FILE");
    return TraceSource::Open(spec.substr(6), o);
  }
  if (o.target_qps > 0) {
    return InvalidArgument("--qps rescales a trace; for a synthetic workload set qps= in --workload");
  }
  ECHOSIM_ASSIGN_OR_RETURN(SyntheticSpec s, ParseSyntheticSpec(spec));
  if (std::isinf(s.qps) && s.requests <= 0 && o.max_requests <= 0) {
    return InvalidArgument("--workload qps=inf needs a request count: requests=N or --max-requests");
  }
  if (s.requests <= 0 && o.max_requests <= 0 && o.duration_s <= 0) {
    return InvalidArgument("a synthetic workload needs an end: --duration-s, requests=N or --max-requests");
  }
  return std::unique_ptr<RequestSource>(std::make_unique<SyntheticSource>(std::move(s), o));
}

}  // namespace echosim
