// A validation row's scenario (ToScenario) resolves back to the row's own model shape, for
// every built-in preset and for an untied custom shape: WriteModelShape writes every field
// the resolution could otherwise take from the preset.
#include <gtest/gtest.h>

#include <string>

#include "simulator/scenario/simulation.h"
#include "simulator/validation/validation_case.h"

namespace echosim {
namespace {

std::string Serialized(const ModelSpec& m) {
  scenario::ModelShape p;
  WriteModelShape(m, /*every_field=*/true, &p);
  return p.SerializeAsString();
}

RowConfig EightGpuRow(const ModelSpec& shape) {
  RowConfig c;
  c.shape = shape;
  c.gpu = "h100-sxm";
  c.gpus = 8;
  c.dp = 8;
  c.gbs = 8;
  c.seq = 4096;
  return c;
}

void ExpectRoundTrip(const RowConfig& c) {
  scenario::Scenario s = ToScenario(c, "row");
  ASSERT_TRUE(ResolveScenario(&s).ok()) << c.shape.name;
  auto setup = MakeTrainingSetup(s);
  ASSERT_TRUE(setup.ok()) << c.shape.name << ": " << setup.status().ToString();
  const ModelSpec want = ShapeOf(c);
  EXPECT_EQ(Serialized(setup->model), Serialized(want)) << c.shape.name;
  EXPECT_EQ(setup->model.TotalParams(), want.TotalParams()) << c.shape.name;
}

TEST(ToScenarioTest, EveryPresetResolvesToItsOwnShape) {
  for (const std::string& name : ModelPresetNames()) {
    auto preset = FindModelPreset(name);
    ASSERT_TRUE(preset.ok()) << name;
    ExpectRoundTrip(EightGpuRow(*preset));
  }
}

TEST(ToScenarioTest, CustomShapesKeepEveryField) {
  ModelSpec untied;
  untied.name = "custom";
  untied.layers = 4;
  untied.hidden = 512;
  untied.heads = 8;
  untied.kv_heads = 8;
  untied.ffn_hidden = 2048;
  untied.vocab = 1000;
  untied.tied_embeddings = false;
  ExpectRoundTrip(EightGpuRow(untied));
  ModelSpec tied = untied;
  tied.tied_embeddings = true;
  ExpectRoundTrip(EightGpuRow(tied));
  // A preset with a field set to zero that the preset has non-zero (DeepSeek-V3 without MTP).
  auto ds = FindModelPreset("deepseek-v3");
  ASSERT_TRUE(ds.ok());
  ModelSpec no_mtp = *ds;
  no_mtp.mtp_layers = 0;
  ExpectRoundTrip(EightGpuRow(no_mtp));
  // Two configurations that differ only in the shape have different memo keys.
  RowConfig a = EightGpuRow(no_mtp), b = EightGpuRow(*ds);
  EXPECT_NE(ConfigKey(a), ConfigKey(b));
}

}  // namespace
}  // namespace echosim
