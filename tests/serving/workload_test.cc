// Workload parsing and generation: trace formats, malformed input (with line numbers),
// synthetic arrival processes and length distributions.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include "simulator/serving/workload.h"

namespace echosim {
namespace {

namespace fs = std::filesystem;

std::string TempFile(const std::string& name, const std::string& text) {
  const fs::path p = fs::temp_directory_path() / ("echosim_serving_" + name);
  std::ofstream(p, std::ios::binary) << text;
  return p.string();
}

std::vector<Request> ReadAll(const std::string& spec, WorkloadOptions o = {}) {
  std::vector<Request> out;
  auto src = MakeRequestSource(spec, o);
  EXPECT_TRUE(src.ok()) << src.status().ToString();
  if (!src.ok()) return out;
  Request r;
  for (;;) {
    auto more = (*src)->Next(&r);
    EXPECT_TRUE(more.ok()) << more.status().ToString();
    if (!more.ok() || !*more) break;
    out.push_back(r);
  }
  return out;
}

TEST(WorkloadTest, AzureTraceTimesAreRelativeToTheFirstRequest) {
  const std::string f = TempFile("azure.csv",
                                 "TIMESTAMP,ContextTokens,GeneratedTokens\n"
                                 "2023-11-16 18:15:46.6805900,374,44\n"
                                 "2023-11-16 18:15:50.9951690,396,109\n"
                                 "2023-11-16 18:16:00.0000000,10,1\n");
  const auto r = ReadAll("trace:" + f);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].arrival, 0);
  // 50.9951690 - 46.6805900 = 4.314579 s; 60 - 46.68059 = 13.31941 s.
  EXPECT_NEAR(DurationToSeconds(r[1].arrival), 4.314579, 1e-6);
  EXPECT_NEAR(DurationToSeconds(r[2].arrival), 13.31941, 1e-6);
  EXPECT_EQ(r[1].input_tokens, 396);
  EXPECT_EQ(r[1].output_tokens, 109);
  // Time scaling halves the gaps; --duration-s drops later arrivals.
  WorkloadOptions o;
  o.time_scale = 0.5;
  o.duration_s = 5;
  const auto s = ReadAll("trace:" + f, o);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_NEAR(DurationToSeconds(s[1].arrival), 4.314579 / 2, 1e-6);
}

TEST(WorkloadTest, QpsRescalesTheRecordedRate) {
  // 3 requests over 10 s: recorded rate (3 - 1) / 10 = 0.2 req/s; --qps 2 makes gaps 10x shorter.
  const std::string f = TempFile("rate.csv", "arrival_s,input_tokens,output_tokens\n0,5,5\n4,5,5\n10,5,5\n");
  WorkloadOptions o;
  o.target_qps = 2;
  const auto r = ReadAll("trace:" + f, o);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_NEAR(DurationToSeconds(r[2].arrival), 1.0, 1e-9);
}

TEST(WorkloadTest, GenericCsvAndJsonlWithPrefixesAndSessions) {
  const std::string csv = TempFile("generic.csv",
                                   "arrival_s,input_tokens,output_tokens,prefix_id,prefix_tokens\n"
                                   "0.5,100,10,sys,64\n"
                                   "1.5,\"200\",20,,\n");
  const auto c = ReadAll("trace:" + csv);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_NE(c[0].prefix_group, 0u);
  EXPECT_EQ(c[0].prefix_tokens, 64);
  EXPECT_EQ(c[1].prefix_group, 0u);
  EXPECT_EQ(c[1].input_tokens, 200);
  EXPECT_NEAR(DurationToSeconds(c[1].arrival), 1.0, 1e-12);
  const std::string jsonl = TempFile("t.jsonl",
                                     "{\"arrival_s\": 0, \"input_tokens\": 50, \"output_tokens\": 5, \"session_id\": \"a\"}\n"
                                     "\n"
                                     "{\"arrival_s\": 2, \"input_tokens\": 80, \"output_tokens\": 5, \"session_id\": \"a\"}\n");
  const auto j = ReadAll("trace:" + jsonl);
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0].prefix_group, j[1].prefix_group);  // one conversation
  EXPECT_EQ(j[1].prefix_tokens, 85);                // all of a turn is session content
}

TEST(WorkloadTest, MalformedLinesNameTheFileAndLine) {
  const std::string f = TempFile("bad.csv",
                                 "TIMESTAMP,ContextTokens,GeneratedTokens\n"
                                 "2023-11-16 18:15:46.6805900,374,44\n"
                                 "2023-11-16 18:15:47.0000000,abc,44\n"
                                 "2023-11-16 18:15:48.0000000,10,1\n");
  auto src = MakeRequestSource("trace:" + f, {});
  ASSERT_TRUE(src.ok());
  Request r;
  ASSERT_TRUE(*(*src)->Next(&r));
  auto bad = (*src)->Next(&r);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("bad.csv:3: ContextTokens: 'abc' is not an integer"), std::string::npos)
      << bad.status().message();
  // Asked to skip: the bad line is counted and the rest is read.
  WorkloadOptions o;
  o.skip_bad_lines = true;
  auto skip = MakeRequestSource("trace:" + f, o);
  ASSERT_TRUE(skip.ok());
  int n = 0;
  while (*(*skip)->Next(&r)) ++n;
  EXPECT_EQ(n, 2);
  EXPECT_EQ((*skip)->skipped_lines(), 1);
}

TEST(WorkloadTest, BadInputIsAClearError) {
  struct Case {
    std::string text, want;
  };
  const std::vector<Case> lines = {
      {"2023-11-16 18:15:46.6805900,374\n", "expected 3 comma-separated cells, got 2"},
      {"2023-13-16 18:15:46,374,44\n", "month out of range"},
      {"2023-11-16 18:15:46,0,44\n", "ContextTokens: 0 tokens; expected 1 to 100000000"},
      {"2023-11-16 18:15:46,5,-3\n", "GeneratedTokens: -3 tokens"},
      {"yesterday,5,3\n", "expected 'YYYY-MM-DD hh:mm:ss.fffffff' or seconds"},
      {"2023-11-16 18:15:46,\"5,3\n", "unterminated quoted field"},
  };
  for (const Case& c : lines) {
    const std::string f = TempFile("case.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n" + c.text);
    auto src = MakeRequestSource("trace:" + f, {});
    ASSERT_TRUE(src.ok());
    Request r;
    auto st = (*src)->Next(&r);
    ASSERT_FALSE(st.ok()) << c.text;
    EXPECT_NE(st.status().message().find("case.csv:2: "), std::string::npos) << st.status().message();
    EXPECT_NE(st.status().message().find(c.want), std::string::npos) << st.status().message();
  }
  // Unsorted arrivals, unknown headers, empty files, missing files.
  auto unsorted = MakeRequestSource(
      "trace:" + TempFile("unsorted.csv", "arrival_s,input_tokens,output_tokens\n5,1,1\n4,1,1\n"), {});
  ASSERT_TRUE(unsorted.ok());
  Request r;
  ASSERT_TRUE(*(*unsorted)->Next(&r));
  auto back = (*unsorted)->Next(&r);
  ASSERT_FALSE(back.ok());
  EXPECT_NE(back.status().message().find("unsorted.csv:3: arrival time 4 s is before"), std::string::npos)
      << back.status().message();
  auto header = MakeRequestSource("trace:" + TempFile("hdr.csv", "a,b,c\n1,2,3\n"), {});
  ASSERT_FALSE(header.ok());
  EXPECT_NE(header.status().message().find("hdr.csv:1: unrecognised trace header"), std::string::npos);
  auto empty = MakeRequestSource("trace:" + TempFile("empty.csv", "\n\n"), {});
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("the trace is empty"), std::string::npos);
  auto missing = MakeRequestSource("trace:/nonexistent/echosim.csv", {});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  auto json = MakeRequestSource("trace:" + TempFile("bad.jsonl", "{\"arrival_s\": 1, \"input_tokens\": 2.5, \"output_tokens\": 1}\n"), {});
  ASSERT_TRUE(json.ok());
  auto jst = (*json)->Next(&r);
  ASSERT_FALSE(jst.ok());
  EXPECT_NE(jst.status().message().find("bad.jsonl:1: \"input_tokens\": 2.5 is not a token count"), std::string::npos)
      << jst.status().message();
}

TEST(WorkloadTest, SpecErrorsNameTheKeyAndTheChoices) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"poisson:qps=0,input=fixed:10,output=fixed:10", "qps: the rate must be positive"},
      {"poisson:qps=-5,input=fixed:10,output=fixed:10", "qps: the rate must be positive"},
      {"poisson:input=fixed:10,output=fixed:10", "needs qps=RATE"},
      {"poisson:qps=1,input=zipf:3,output=fixed:10", "valid: fixed:N, uniform:MIN:MAX, lognormal:MEAN:SIGMA, quantiles:V0:...:VN, trace:FILE"},
      {"poisson:qps=1,input=fixed:10,output=fixed:0", "0 tokens; expected 1 to 100000000"},
      {"poisson:qps=1,input=uniform:10:5,output=fixed:10", "MAX is below MIN"},
      {"burst:qps=1", "unknown workload kind 'burst'; valid: trace:FILE, poisson:..., gamma:..., constant:..."},
      {"poisson:qps=1,input=fixed:10,output=fixed:10,rate=3", "unknown key 'rate'"},
      {"poisson:qps=1,cv=2,input=fixed:10,output=fixed:10", "only the gamma arrival process takes cv"},
      {"gamma:qps=1,cv=0,input=fixed:10,output=fixed:10", "cv: must be in (0.01, 100]"},
      {"poisson:qps=inf,input=fixed:10,output=fixed:10,requests=3", "goes with the constant arrival process"},
  };
  WorkloadOptions o;
  o.duration_s = 10;
  for (const auto& [spec, want] : cases) {
    auto s = MakeRequestSource(spec, o);
    ASSERT_FALSE(s.ok()) << spec;
    EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument) << spec;
    EXPECT_NE(s.status().message().find(want), std::string::npos) << spec << ": " << s.status().message();
  }
  auto endless = MakeRequestSource("poisson:qps=1,input=fixed:10,output=fixed:10", {});
  ASSERT_FALSE(endless.ok());
  EXPECT_NE(endless.status().message().find("needs an end"), std::string::npos);
}

TEST(WorkloadTest, PoissonAndGammaHaveTheRequestedRateAndBurstiness) {
  // 20,000 inter-arrival gaps at 5 req/s, seed 1: the sample mean of an exponential (or
  // Gamma) gap has relative standard error CV / sqrt(n) = 0.7% (CV 1) and 2.1% (CV 3), so a
  // 5% / 8% band is over 7 / 3.8 standard errors wide; the sample CV is checked the same way.
  for (const auto& [spec, cv] : std::vector<std::pair<std::string, double>>{
           {"poisson:qps=5,input=fixed:10,output=fixed:10,requests=20001", 1.0},
           {"gamma:qps=5,cv=3,input=fixed:10,output=fixed:10,requests=20001", 3.0}}) {
    const auto r = ReadAll(spec);
    ASSERT_EQ(r.size(), 20001u);
    double sum = 0, sq = 0;
    for (size_t i = 1; i < r.size(); ++i) {
      const double g = DurationToSeconds(r[i].arrival - r[i - 1].arrival);
      sum += g;
      sq += g * g;
    }
    const double n = 20000, mean = sum / n, sd = std::sqrt(sq / n - mean * mean);
    EXPECT_NEAR(mean, 0.2, (cv > 1 ? 0.08 : 0.05) * 0.2) << spec;
    EXPECT_NEAR(sd / mean, cv, 0.15 * cv) << spec;
  }
  // constant: exactly 1/qps apart; qps=inf: all at t = 0.
  const auto c = ReadAll("constant:qps=4,input=fixed:10,output=fixed:10,requests=3");
  EXPECT_EQ(c[2].arrival, SecondsToDuration(0.5));
  const auto inf = ReadAll("constant:qps=inf,input=fixed:10,output=fixed:10,requests=5");
  ASSERT_EQ(inf.size(), 5u);
  EXPECT_EQ(inf[4].arrival, 0);
}

TEST(WorkloadTest, LengthDistributions) {
  Rng rng(3);
  auto ln = LengthDistribution::Parse("lognormal:1000:0.5", "input", "input");
  ASSERT_TRUE(ln.ok());
  // Lognormal with mean 1000 and sigma 0.5: CV = sqrt(e^0.25 - 1) = 0.533, so the mean of
  // 40,000 samples has standard error 0.27%; 2% is a wide band.
  double sum = 0;
  for (int i = 0; i < 40000; ++i) sum += ln->Sample(rng);
  EXPECT_NEAR(sum / 40000, 1000, 20);
  auto capped = LengthDistribution::Parse("lognormal:200:1.5:1024", "input", "input");
  ASSERT_TRUE(capped.ok());
  for (int i = 0; i < 10000; ++i) EXPECT_LE(capped->Sample(rng), 1024);
  auto u = LengthDistribution::Parse("uniform:5:7", "input", "input");
  ASSERT_TRUE(u.ok());
  std::map<int, int> seen;
  for (int i = 0; i < 3000; ++i) ++seen[u->Sample(rng)];
  EXPECT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen.begin()->first, 5);
  EXPECT_EQ(seen.rbegin()->first, 7);
}

TEST(WorkloadTest, ResamplesLengthsFromTheSharedAzureTrace) {
  const fs::path trace = fs::path(ECHOSIM_SOURCE_DIR) / ".." / "shared" / "traces" / "serving" / "azure_llm_2023_conv.csv";
  if (!fs::exists(trace)) GTEST_SKIP() << "no trace at " << trace;
  auto d = LengthDistribution::Parse("trace:" + trace.string(), "output", "output");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  // The conversation trace's GeneratedTokens lie in [7, 1000] (its published range).
  Rng rng(1);
  for (int i = 0; i < 1000; ++i) {
    const int v = d->Sample(rng);
    EXPECT_GE(v, 1);
    EXPECT_LE(v, 1000);
  }
  const auto all = ReadAll("trace:" + trace.string());
  EXPECT_GT(all.size(), 19000u);
  EXPECT_LT(DurationToSeconds(all.back().arrival), 3600.0);
}

}  // namespace
}  // namespace echosim
