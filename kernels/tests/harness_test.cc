// CPU tests of the harness's plain-C++ parts: the ComputeOp JSONL parser and its error
// messages, the op -> kernel mapping, statistics, the calibration YAML writer, the
// transformer-layer op encodings and the command-line parser.
#include <sstream>

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "kernels/harness/calibration_yaml.h"
#include "kernels/harness/cli_args.h"
#include "kernels/harness/op_spec.h"
#include "kernels/harness/transformer_ops.h"

namespace echosim::kernels {
namespace {

TEST(OpSpec, ParsesAGemmLine) {
  auto op = ParseOpLine(R"({"name":"attn.qkv.fwd","class":"gemm","dtype":"fp16","m":4096,"n":6144,)"
                        R"("k":4096,"batch":1,"flops":2.06e11,"bytes":1.2e8,"recompute":false})", 1);
  ASSERT_TRUE(op.ok()) << op.status().message();
  EXPECT_EQ(op->kind, OpKind::kGemm);
  EXPECT_EQ(op->dtype, DataType::kFp16);
  EXPECT_EQ(op->m, 4096);
  EXPECT_EQ(op->n, 6144);
  EXPECT_EQ(op->batch, 1);
  EXPECT_DOUBLE_EQ(op->flops, 2.06e11);
  // Extra fields are kept and echoed in the output line, before the measured ones.
  MeasuredOp m{*op, ComputeStats({3.0, 1.0, 2.0}), "cublasLt"};
  const std::string line = MeasuredOpJsonLine(m);
  EXPECT_NE(line.find(R"("recompute":false,"median_us":2.0)"), std::string::npos) << line;
  EXPECT_NE(line.find(R"("repeats":3,"kernel":"cublasLt")"), std::string::npos) << line;
}

// A grouped GEMM issued one GEMM per group over s streams: parsed, and written back (it is part
// of the kernel's identity in the simulator's measured-times cache).
TEST(OpSpec, GroupedGemmStreams) {
  auto op = ParseOpLine(R"({"name":"moe.fc1.fwd","class":"gemm","m":2048,"n":1536,"k":2048,)"
                        R"("batch":16,"concurrency":4})", 1);
  ASSERT_TRUE(op.ok()) << op.status().message();
  EXPECT_EQ(op->batch, 16);
  EXPECT_EQ(op->concurrency, 4);
  EXPECT_EQ(OpToJson(*op).value("concurrency", 0), 4);
  auto plain = ParseOpLine(R"({"name":"g","class":"gemm","m":8,"n":8,"k":16,"batch":2})", 1);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->concurrency, 0);
  EXPECT_FALSE(OpToJson(*plain).contains("concurrency"));
}

TEST(OpSpec, DefaultsDtypeAndBatch) {
  auto op = ParseOpLine(R"({"name":"ln1.fwd","class":"memory_bound","bytes":1000})", 3);
  ASSERT_TRUE(op.ok()) << op.status().message();
  EXPECT_EQ(op->dtype, DataType::kBf16);
  EXPECT_EQ(op->batch, 1);
}

void ExpectError(const std::string& line, int line_no, const std::vector<std::string>& parts) {
  auto op = ParseOpLine(line, line_no);
  ASSERT_FALSE(op.ok()) << line;
  EXPECT_EQ(op.status().code(), StatusCode::kInvalidArgument);
  for (const std::string& p : parts) {
    EXPECT_NE(op.status().message().find(p), std::string::npos)
        << "message '" << op.status().message() << "' lacks '" << p << "'";
  }
}

TEST(OpSpec, ErrorsNameLineAndField) {
  ExpectError(R"({"name":"x","class":"gemm",)", 7, {"line 7", "malformed JSON"});
  ExpectError(R"([1,2])", 2, {"line 2", "JSON object"});
  ExpectError(R"({"name":"x","class":"conv","m":1})", 4, {"line 4", "'class'", "unknown value 'conv'",
                                                            "gemm, attention, memory_bound, optimizer"});
  ExpectError(R"({"name":"x","class":"gemm","n":1,"k":1})", 5, {"line 5", "missing field 'm'", "class gemm"});
  ExpectError(R"({"class":"gemm","m":1,"n":1,"k":1})", 6, {"line 6", "missing field 'name'"});
  ExpectError(R"({"name":"x","m":1})", 1, {"missing field 'class'"});
  ExpectError(R"({"name":"x","class":"gemm","m":1.5,"n":1,"k":1})", 1, {"'m'", "whole number"});
  ExpectError(R"({"name":"x","class":"gemm","m":"8","n":1,"k":1})", 1, {"'m'", "must be a number"});
  ExpectError(R"({"name":"x","class":"gemm","m":-8,"n":1,"k":1})", 1, {"'m'", ">= 0"});
  ExpectError(R"({"name":"x","class":"gemm","m":0,"n":1,"k":1})", 1, {"'m'", ">= 1"});
  ExpectError(R"({"name":"x","class":"gemm","dtype":"fp4","m":1,"n":1,"k":1})", 1,
              {"'dtype'", "bf16, fp16, fp8"});
  ExpectError(R"({"name":"x","class":"gemm","dtype":"fp8","m":16,"n":16,"k":24})", 1, {"'k'", "multiple of 16"});
  ExpectError(R"({"name":"attn.fwd","class":"attention","m":128,"n":128,"k":96})", 1, {"'k'", "64 or 128"});
  ExpectError(R"({"name":"attn.fwd","class":"attention","m":128,"n":64,"k":64})", 1, {"'n'", ">= m"});
  ExpectError(R"({"name":"norm","class":"memory_bound"})", 9, {"line 9", "missing field 'bytes'"});
  ExpectError(R"({"name":"adam","class":"optimizer","bytes":0})", 1, {"'bytes'", "> 0"});
  ExpectError(R"({"name":"g","class":"gemm","m":8,"n":8,"k":16,"batch":4,"concurrency":65})", 3,
              {"line 3", "'concurrency'", "1..64"});
  ExpectError(R"({"name":"n","class":"memory_bound","bytes":8,"concurrency":2})", 1,
              {"'concurrency'", "class gemm"});
  ExpectError(R"({"name":"attn.decode","class":"attention","m":8,"k":128,"batch":32,"flops":1})", 1,
              {"'flops'", "decode"});
}

TEST(OpSpec, TextNamesSourceAndLine) {
  const std::string text = "{\"name\":\"a\",\"class\":\"optimizer\",\"bytes\":34}\n\n"
                           "{\"name\":\"b\",\"class\":\"gemm\",\"m\":1,\"k\":1}\n";
  auto ops = ParseOpsText(text, "ops.jsonl");
  ASSERT_FALSE(ops.ok());
  EXPECT_NE(ops.status().message().find("ops.jsonl: line 3: missing field 'n'"), std::string::npos)
      << ops.status().message();
  auto good = ParseOpsText("{\"name\":\"a\",\"class\":\"optimizer\",\"bytes\":34}\r\n", "x");
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(good->size(), 1u);
  EXPECT_FALSE(ParseOpsText("\n  \n", "empty").ok());
}

TEST(OpSpec, MemoryBoundKernelFromName) {
  EXPECT_EQ(MemKernelForName("norm1.fwd"), MemKernel::kRmsNormFwd);
  EXPECT_EQ(MemKernelForName("final_norm.bwd"), MemKernel::kRmsNormBwd);
  EXPECT_EQ(MemKernelForName("ln1.fwd"), MemKernel::kLayerNormFwd);
  EXPECT_EQ(MemKernelForName("mlp.swiglu.bwd"), MemKernel::kSwigluBwd);
  EXPECT_EQ(MemKernelForName("mlp.act"), MemKernel::kSwigluFwd);
  EXPECT_EQ(MemKernelForName("mlp.gelu.fwd"), MemKernel::kGeluFwd);
  EXPECT_EQ(MemKernelForName("attn.softmax.fwd"), MemKernel::kSoftmaxFwd);
  EXPECT_EQ(MemKernelForName("attn.rope.bwd"), MemKernel::kRopeBwd);
  EXPECT_EQ(MemKernelForName("embedding.fwd"), MemKernel::kEmbeddingFwd);
  EXPECT_EQ(MemKernelForName("residual1.fwd"), MemKernel::kCopy);
  // Sizing: a swiglu forward moves 6 bytes per output element; 6 * 4096 * 10 bytes is
  // ten rows of the 4096-wide layout.
  OpSpec op;
  op.name = "mlp.swiglu.fwd";
  op.kind = OpKind::kMemoryBound;
  op.bytes = 6.0 * 4096 * 10;
  MemPlan p = PlanMemoryBound(op);
  EXPECT_EQ(p.kernel, MemKernel::kSwigluFwd);
  EXPECT_EQ(p.rows, 10);
  EXPECT_EQ(p.cols, kMemRowWidth);
  op.kind = OpKind::kOptimizer;
  op.bytes = 30.0 * 1000;
  EXPECT_EQ(AdamParams(op), 1000);
}

TEST(OpSpec, AttentionEncodings) {
  OpSpec op;
  op.name = "attn.bwd";
  op.kind = OpKind::kAttention;
  op.m = 1024;
  op.n = 2048;
  op.k = 128;
  op.batch = 16;
  auto p = PlanAttention(op);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->mode, AttentionMode::kBackward);
  EXPECT_EQ(p->sq, 1024);
  EXPECT_EQ(p->sk, 2048);
  // Decode: 8 sequences, 32 heads, head_dim 128, 8 * 1000 context tokens in all:
  // flops = 4 * 128 * 32 * 8000, so each sequence attends to 1000 keys.
  op.name = "attn.decode";
  op.m = 8;
  op.n = 0;
  op.batch = 32;
  op.flops = 4.0 * 128 * 32 * 8000;
  p = PlanAttention(op);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->mode, AttentionMode::kDecode);
  EXPECT_EQ(p->batch_heads, 256);
  EXPECT_EQ(p->sq, 1);
  EXPECT_EQ(p->sk, 1000);
  // Prefill of one 100-token sequence without earlier context: pairs = 100 * 101 / 2.
  op.name = "attn.prefill";
  op.m = 100;
  op.flops = 4.0 * 128 * 32 * 5050;
  p = PlanAttention(op);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->mode, AttentionMode::kForward);
  EXPECT_EQ(p->sk, 100);
  // The same 100 queries after 50 cached tokens: 100 * 50 more pairs.
  op.flops = 4.0 * 128 * 32 * (5050 + 5000);
  EXPECT_EQ(PlanAttention(op)->sk, 150);
  // Four new 512-token sequences prefilled together: m = 2048, pairs = 4 * 512 * 513 / 2,
  // so four sequences of 512, not one of 2048 (which would be four times the work).
  op.m = 2048;
  op.flops = 4.0 * 128 * 32 * (4.0 * 512 * 513 / 2);
  p = PlanAttention(op);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->sq, 512);
  EXPECT_EQ(p->sk, 512);
  EXPECT_EQ(p->batch_heads, 32 * 4);
}

TEST(Stats, MedianAndPercentiles) {
  TimingStats s = ComputeStats({5, 1, 4, 2, 3});
  EXPECT_EQ(s.median_us, 3);
  EXPECT_EQ(s.repeats, 5);
  EXPECT_EQ(s.p10_us, 1);  // rank ceil(0.5) = 1
  EXPECT_EQ(s.p90_us, 5);  // rank ceil(4.5) = 5
  s = ComputeStats({1, 2, 3, 4});
  EXPECT_EQ(s.median_us, 2.5);
  std::vector<double> twenty;
  for (int i = 1; i <= 20; ++i) twenty.push_back(i);
  s = ComputeStats(twenty);
  EXPECT_EQ(s.p10_us, 2);   // rank 2
  EXPECT_EQ(s.p90_us, 18);  // rank 18
  EXPECT_EQ(ComputeStats({}).repeats, 0);
}

CalibrationFile SampleFile() {
  CalibrationFile f;
  f.gpu = "h100-sxm";
  f.command = "echosim-kernels calibrate --gpu h100-sxm --out x.yaml";
  f.measured_at = "2026-01-01T00:00:00Z";
  f.device.name = "Test \"GPU\"";
  f.device.cc_major = 9;
  f.device.sm_count = 132;
  f.device.driver_version = "1.2";
  f.device.cuda_runtime_version = "13.0";
  f.device.clocks_known = true;
  f.device.sm_mhz = 1980;
  f.device.max_sm_mhz = 1980;
  f.device.mem_mhz = 2619;
  f.device.locked = true;
  f.warmup = 5;
  f.repeats = 30;
  OpSpec op;
  op.name = "attn.qkv.fwd";
  op.kind = OpKind::kGemm;
  op.m = 4096;
  op.n = 6144;
  op.k = 4096;
  op.flops = 2.0 * 4096 * 6144 * 4096;
  op.bytes = 1.5e8;
  f.samples.push_back({op, ComputeStats({10.5, 10.25, 11.0}), "cublasLt"});
  return f;
}

TEST(CalibrationYaml, ParsesBackWithEveryField) {
  std::ostringstream out;
  WriteCalibrationYaml(SampleFile(), out);
  YAML::Node y = YAML::Load(out.str());
  EXPECT_EQ(y["kind"].as<std::string>(), "kernel_calibration");
  EXPECT_EQ(y["gpu"].as<std::string>(), "h100-sxm");
  EXPECT_EQ(y["device"].as<std::string>(), "Test \"GPU\"");
  EXPECT_EQ(y["compute_capability"].as<std::string>(), "9.0");
  EXPECT_EQ(y["sm_count"].as<int>(), 132);
  EXPECT_EQ(y["clocks"]["locked"].as<bool>(), true);
  EXPECT_EQ(y["clocks"]["mem_mhz"].as<int>(), 2619);
  EXPECT_EQ(y["method"]["repeats"].as<int>(), 30);
  EXPECT_EQ(y["method"]["statistic"].as<std::string>(), "median");
  ASSERT_EQ(y["samples"].size(), 1u);
  YAML::Node s = y["samples"][0];
  EXPECT_EQ(s["class"].as<std::string>(), "gemm");
  EXPECT_EQ(s["dtype"].as<std::string>(), "bf16");
  EXPECT_EQ(s["n"].as<int64_t>(), 6144);
  EXPECT_DOUBLE_EQ(s["flops"].as<double>(), 2.0 * 4096 * 6144 * 4096);
  EXPECT_DOUBLE_EQ(s["median_us"].as<double>(), 10.5);
  EXPECT_DOUBLE_EQ(s["p10_us"].as<double>(), 10.25);
  EXPECT_EQ(s["kernel"].as<std::string>(), "cublasLt");
  EXPECT_EQ(out.str().rfind("# Kernel calibration", 0), 0u);
  std::ostringstream again;
  WriteCalibrationYaml(SampleFile(), again);
  EXPECT_EQ(out.str(), again.str());
}

TEST(CalibrationYaml, NumbersAndGpuNames) {
  EXPECT_EQ(FormatNumber(4096), "4096");
  EXPECT_EQ(FormatNumber(1.375e11), "137500000000");
  EXPECT_EQ(FormatNumber(0.125), "0.125");
  EXPECT_EQ(FormatNumber(1.0 / 3.0), "0.333333");
  EXPECT_TRUE(ValidateGpuName("h100-sxm").ok());
  EXPECT_FALSE(ValidateGpuName("H100 SXM").ok());
  EXPECT_FALSE(ValidateGpuName("").ok());
}

TEST(TransformerOps, Llama8BLayerMatchesTheSimulatorEncoding) {
  // Llama 3 8B: h 4096, 32 heads, 8 kv heads (head_dim 128), ffn 14336, SwiGLU; TP 1,
  // 2048 tokens. QKV width (32 + 2 * 8) * 128 = 6144; fc1 width 2 * 14336.
  LayerShape s;
  s.hidden = 4096;
  s.heads = 32;
  s.kv_heads = 8;
  s.ffn = 14336;
  s.seq = 2048;
  ASSERT_TRUE(ValidateLayerShape(s).ok());
  auto fwd = LayerForwardOps(s);
  ASSERT_EQ(fwd.size(), 11u);
  EXPECT_EQ(fwd[1].name, "attn.qkv.fwd");
  EXPECT_EQ(fwd[1].n, 6144);
  EXPECT_DOUBLE_EQ(fwd[1].flops, 2.0 * 2048 * 6144 * 4096);
  EXPECT_DOUBLE_EQ(fwd[1].bytes, 2.0 * (2048.0 * 4096 + 4096.0 * 6144) + 2.0 * 2048 * 6144);
  EXPECT_EQ(fwd[3].name, "attn.fwd");
  EXPECT_EQ(fwd[3].batch, 32);
  EXPECT_DOUBLE_EQ(fwd[3].flops, 4.0 * 32 * 2048.0 * 2048 * 128 * 0.5);
  EXPECT_EQ(fwd[7].n, 2 * 14336);
  EXPECT_EQ(fwd[8].name, "mlp.swiglu.fwd");
  EXPECT_DOUBLE_EQ(fwd[8].bytes, 2048.0 * 14336 * 2 * 3);
  auto bwd = LayerBackwardOps(s);
  ASSERT_EQ(bwd.size(), 15u);
  EXPECT_EQ(bwd[1].name, "mlp.fc2.dgrad");  // dx[T, f] = dy[T, h] W^T
  EXPECT_EQ(bwd[1].m, 2048);
  EXPECT_EQ(bwd[1].n, 14336);
  EXPECT_EQ(bwd[1].k, 4096);
  EXPECT_EQ(bwd[2].name, "mlp.fc2.wgrad");  // dW[f, h] = x^T dy
  EXPECT_EQ(bwd[2].m, 14336);
  EXPECT_EQ(bwd[2].k, 2048);
  EXPECT_EQ(bwd[10].name, "attn.bwd");
  EXPECT_DOUBLE_EQ(bwd[10].flops, 2.5 * fwd[3].flops);
  EXPECT_EQ(s.LocalParams(), 4096 * 6144 + 4096 * 4096 + 4096 * 2 * 14336 + 14336 * 4096);
  // Decode: 8 sequences pad the GEMM rows to 64, the attention op carries the context.
  auto dec = DecodeLayerOps(s, 8, 1000);
  EXPECT_EQ(dec[1].m, 64);
  EXPECT_EQ(dec[4].name, "attn.decode");
  auto plan = PlanAttention(dec[4]);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->sk, 1000);
  EXPECT_EQ(plan->batch_heads, 8 * 32);
}

TEST(TransformerOps, GridIsDeterministicAndEveryOpParsesBack) {
  GridOptions o;
  auto full = CalibrationGrid(o);
  o.quick = true;
  auto quick = CalibrationGrid(o);
  EXPECT_GT(full.size(), quick.size());
  EXPECT_GT(quick.size(), 50u);
  o.quick = false;
  o.fp8 = true;
  auto with_fp8 = CalibrationGrid(o);
  EXPECT_GT(with_fp8.size(), full.size());
  EXPECT_EQ(CalibrationGrid(o).size(), with_fp8.size());
  int classes[4] = {0, 0, 0, 0};
  for (const OpSpec& op : with_fp8) {
    auto back = ParseOpLine(OpToJson(op).dump(), 1);
    ASSERT_TRUE(back.ok()) << op.name << ": " << back.status().message();
    EXPECT_EQ(back->m, op.m);
    ++classes[static_cast<int>(op.kind)];
  }
  for (int c : classes) EXPECT_GT(c, 0);
}

StatusOr<CliArgs> Parse(std::vector<const char*> args) {
  args.insert(args.begin(), "echosim-kernels");
  return ParseCli(static_cast<int>(args.size()), args.data());
}

void ExpectCliError(std::vector<const char*> args, const std::string& part) {
  auto a = Parse(args);
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find(part), std::string::npos) << a.status().message();
}

TEST(Cli, ParsesEverySubcommand) {
  auto a = Parse({"measure", "--ops", "in.jsonl", "--out", "out.jsonl", "--repeats", "7"});
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(a->command, Subcommand::kMeasure);
  EXPECT_EQ(a->repeats, 7);
  EXPECT_EQ(a->warmup, 5);
  a = Parse({"interference", "--out", "t.csv", "--blocks", "2,4", "--protocol", "ll"});
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->blocks, (std::vector<int>{2, 4}));
  EXPECT_TRUE(a->ll_protocol);
  a = Parse({"stage", "--layers", "2", "--hidden", "4096", "--heads", "32", "--kv-heads", "8", "--ffn", "14336",
             "--seq", "2048", "--micro-batch", "1", "--micro-batches", "4", "--mlp", "gelu", "--out", "s.json"});
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(a->layers, 2);
  EXPECT_EQ(a->micro_batches, 4);
  EXPECT_EQ(a->layer.mlp, MlpType::kGelu);
  a = Parse({"decode", "--hidden", "4096", "--heads", "32", "--kv-heads", "8", "--ffn", "14336", "--layers", "2",
             "--batch-sizes", "1,8", "--context", "128:1024:128", "--out", "d.json"});
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(a->ctx_end, 1024);
  EXPECT_EQ(a->batch_sizes.size(), 2u);
  EXPECT_TRUE(Parse({"info", "--json"})->json);
  EXPECT_FALSE(Parse({"measure", "--ops", "a", "--out", "b"})->tensor_core_attention);
  EXPECT_TRUE(Parse({"measure", "--ops", "a", "--out", "b", "--attention-kernel", "tensor-core"})->tensor_core_attention);
}

TEST(Cli, BadInputNamesTheFlag) {
  ExpectCliError({}, "missing command");
  ExpectCliError({"bench"}, "valid choices: info, measure");
  ExpectCliError({"measure", "--out", "x"}, "missing required flag --ops");
  ExpectCliError({"measure", "--ops", "a", "--out", "b", "--repeats", "0"}, "--repeats: must be in [1");
  ExpectCliError({"measure", "--ops", "a", "--out", "b", "--warmup", "x"}, "--warmup: expected an integer");
  ExpectCliError({"info", "--ops", "a"}, "unknown flag '--ops'");
  ExpectCliError({"measure", "--ops"}, "--ops: missing value");
  ExpectCliError({"calibrate", "--gpu", "H100", "--out", "x"}, "--gpu: 'H100'");
  ExpectCliError({"interference", "--out", "t", "--blocks", "1,,2"}, "--blocks: expected an integer");
  ExpectCliError({"interference", "--out", "t", "--protocol", "ll128"}, "valid choices: simple, ll");
  ExpectCliError({"measure", "--ops", "a", "--out", "b", "--attention-kernel", "wmma"},
                 "--attention-kernel: unknown value 'wmma'; valid choices: scalar, tensor-core");
  ExpectCliError({"info", "--attention-kernel", "scalar"}, "unknown flag '--attention-kernel'");
  ExpectCliError({"stage", "--hidden", "4096", "--heads", "16", "--kv-heads", "16", "--ffn", "1024", "--seq", "8",
                  "--micro-batch", "1", "--micro-batches", "1", "--out", "x"}, "64 or 128");
  ExpectCliError({"stage", "--hidden", "4096", "--heads", "32", "--kv-heads", "5", "--ffn", "1024", "--seq", "8",
                  "--micro-batch", "1", "--micro-batches", "1", "--out", "x"}, "--kv-heads");
  ExpectCliError({"stage", "--hidden", "4096", "--heads", "32", "--kv-heads", "8", "--ffn", "1024", "--seq", "8",
                  "--micro-batch", "1", "--micro-batches", "1", "--dtype", "fp8", "--out", "x"},
                 "valid choices: bf16");
  ExpectCliError({"decode", "--hidden", "4096", "--heads", "32", "--kv-heads", "8", "--ffn", "1024", "--layers", "1",
                  "--batch-sizes", "1", "--context", "10:5:1", "--out", "x"}, "END (5) must be >= START (10)");
  ExpectCliError({"decode", "--hidden", "4096", "--heads", "32", "--kv-heads", "8", "--ffn", "1024", "--layers", "1",
                  "--batch-sizes", "1", "--context", "10", "--out", "x"}, "START:END:STEP");
}

}  // namespace
}  // namespace echosim::kernels
