import json

import numpy as np
import pandas as pd
import pytest

import echosim
from conftest import SMALL


def test_summary_and_breakdown():
    r = echosim.train(**SMALL)
    s = r.summary
    for key in ("step_time_s", "tokens_per_s_per_gpu", "model_tflops_per_gpu", "mfu",
                "peak_memory_bytes", "fits_in_memory", "breakdown", "gpus", "tp", "pp", "dp",
                "simulated_ranks", "events", "sim_wall_s", "memory_per_stage"):
        assert key in s
    assert (s["gpus"], s["tp"], s["pp"], s["dp"]) == (16, 2, 2, 4)
    b = r.breakdown
    parts = (b["compute_s"] + b["exposed_comm_s"] + b["pipeline_bubble_s"] + b["other_s"]
             + b["host_bound_s"])
    # The breakdown partitions the step of the rank it describes.
    assert abs(parts - s["step_time_s"]) < 1e-6 * s["step_time_s"]
    assert r.step_time_s == s["step_time_s"] and 0 < r.mfu < 1


def test_timeline_dataframe():
    r = echosim.train(**SMALL)
    tl = r.timeline
    assert isinstance(tl, pd.DataFrame)
    for col in ("rank", "stream", "name", "start_s", "end_s", "layer", "microbatch", "bytes"):
        assert col in tl.columns
    assert len(tl) > 100
    assert (tl["end_s"] >= tl["start_s"]).all()
    assert tl["end_s"].max() <= r.step_time_s + 1e-12
    assert set(tl["stage"]) == {0, 1}
    assert np.issubdtype(tl["start_s"].dtype, np.floating)
    comm = tl[tl["kind"] == "collective"]
    assert len(comm) > 0 and (comm["bytes"] > 0).all()
    assert (tl.loc[tl["kind"] == "kernel", "bytes"] == 0).all()
    assert tl["layer"].isna().any() and tl["layer"].notna().any()


def test_memory_per_stage_matches_summary():
    r = echosim.train(**SMALL)
    mem = r.memory
    assert list(mem["stage"]) == [0, 1]
    assert mem["total_bytes"].max() == r.summary["peak_memory_bytes"]


def test_chrome_trace_written(tmp_path):
    r = echosim.train(**SMALL)
    path = tmp_path / "timeline.json"
    assert r.to_chrome_trace(path) is None
    trace = json.loads(path.read_text())
    spans = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    assert len(spans) == len(r.timeline)
    assert path.read_text() == r.to_chrome_trace()


def test_deterministic():
    a, b = echosim.train(**SMALL), echosim.train(**SMALL)
    sa, sb = dict(a.summary), dict(b.summary)
    sa.pop("sim_wall_s"), sb.pop("sim_wall_s")
    assert sa == sb
    assert a.to_chrome_trace() == b.to_chrome_trace()
    pd.testing.assert_frame_equal(a.timeline, b.timeline)


def test_run_scenario_and_resolved(repo):
    sc = echosim.Scenario.load(repo / "scenarios" / "llama3-70b-h100-64.yaml")
    r = echosim.run(sc)
    assert r.scenario.get("cluster.gpus") == 64
    assert r.scenario.get("parallelism.dp") == r.summary["dp"]
    # The resolved scenario reproduces the run.
    again = echosim.run(r.scenario).summary
    assert again["step_time_s"] == r.summary["step_time_s"]
    assert sc.run(timeline=False).timeline.empty


def test_bandwidth_what_if_moves_step_time():
    slow = echosim.train(**SMALL, nic_gbps=50).step_time_s
    fast = echosim.train(**SMALL, nic_gbps=800).step_time_s
    assert slow > fast


def test_set_overrides_forms():
    a = echosim.train(**SMALL, set={"cluster.network.nic_gbps": 100})
    b = echosim.train(**SMALL, set=["cluster.network.nic_gbps=100"])
    c = echosim.train(**SMALL, nic_gbps=100)
    assert a.step_time_s == b.step_time_s == c.step_time_s


def test_presets():
    models = echosim.models()
    assert "gpt3-175b" in models.index and "llama3.1-405b" in models.index
    assert models.loc["gpt3-175b", "layers"] == 96
    assert abs(models.loc["gpt3-175b", "params"] / 175e9 - 1) < 0.02
    assert models.loc["gpt3-175b", "head_dim"] == 128
    assert models.loc["qwen3-30b-a3b", "head_dim"] == 128  # not hidden / heads = 64
    gpus = echosim.gpus()
    assert {"h100-sxm", "a100-80gb", "b200"} <= set(gpus.index)
    assert gpus.loc["h100-sxm", "peak_tflops_bf16"] > 900
    assert "interleaved_1f1b" in echosim.schedules().index


def test_hybrid_model_from_python():
    nano = echosim.models().loc["nemotron3-nano"]
    assert nano["layer_pattern"].count("M") == 23 and nano["layer_pattern"].count("*") == 6
    assert (nano["mamba_heads"], nano["mamba_state"], nano["mamba_chunk"]) == (64, 128, 128)
    assert nano["position"] == "none"
    base = dict(model="nemotron3-nano", gpu="gb200", gpus=8, ep=8, global_batch=16, micro_batch=2,
                seq_len=4096, dtype="fp8")
    r = echosim.train(**base)
    assert r.step_time_s > 0
    # One Mamba layer fewer (attention instead) is a different step.
    pattern = "*" + nano["layer_pattern"][1:]
    other = echosim.train(**base, set={"workload.training.shape.layer_pattern": pattern})
    assert other.step_time_s != r.step_time_s


def test_moe_overlap_fp8_attention_and_folding_from_python():
    # Without the host launch model: what overlap and fp8 attention do to the GPU's work.
    base = dict(model="qwen3-30b-a3b", gpu="h100-sxm", gpus=16, tp=2, ep=16, global_batch=32,
                seq_len=2048, dtype="fp8", sequence_parallel=True, expert_tp=1, host_launch_us=0)
    plain = echosim.train(**base)
    fast = echosim.train(**base, ep_comm_overlap=True, fp8_attention=True)
    assert fast.step_time_s < plain.step_time_s
    assert "edp" in plain.breakdown["exposed_comm_by_dim_s"]
    oss = echosim.models().loc["gpt-oss-120b"]
    assert (oss["sliding_window"], oss["full_attention_every"], oss["head_dim"]) == (128, 2, 64)
    # Qwen3's QK-norm: on in the preset, a flag to turn it off (its passes cost time).
    assert bool(echosim.models().loc["qwen3-30b-a3b", "qk_norm"])
    ds = echosim.models().loc["deepseek-v3"]
    assert (ds["kv_lora_rank"], ds["dense_layers"], ds["mtp_layers"]) == (512, 3, 1)
    assert not bool(echosim.models().loc["llama3-8b", "qk_norm"])
    no_qk_norm = echosim.train(**base, qk_norm=False)
    assert no_qk_norm.step_time_s < plain.step_time_s
    # Without folding, EP 16 cannot be carved out of DP 8: the error names the flag.
    try:
        echosim.train(**{**base, "expert_tp": None})
    except Exception as e:  # noqa: BLE001 - the binding's error type
        assert "--expert-tp 1 lets EP span the TP ranks" in str(e)
    else:
        raise AssertionError("expected an error")


def test_recompute_modules_from_python():
    base = dict(model="qwen3-30b-a3b", gpu="h100-sxm", gpus=16, ep=16, global_batch=32,
                seq_len=2048, recompute="selective")
    default = echosim.train(**base)  # core attention
    as_list = echosim.train(**base, recompute_modules=["layernorm", "moe_act"])
    as_text = echosim.train(**base, recompute_modules="layernorm,moe_act")
    assert as_list.summary["step_time_s"] == as_text.summary["step_time_s"]
    assert as_list.summary["peak_memory_bytes"] < default.summary["peak_memory_bytes"]
    try:
        echosim.train(**base, recompute_modules=["mlp"])
    except Exception as e:  # noqa: BLE001 - the binding's error type
        assert "'mlp' recomputes a dense MLP" in str(e)
    else:
        raise AssertionError("expected an error")


def test_latent_attention_model_with_a_pipeline_layout():
    base = dict(model="deepseek-v3", gpu="gb200", gpus=256, gpus_per_node=64, pp=4, vpp=4, ep=64,
                global_batch=256, dtype="fp8", recompute="selective",
                recompute_modules=["mla_up_proj"])
    run = echosim.train(**base, pipeline_layout="Et*4|(t*4|)*14tmL")
    assert run.step_time_s > 0
    names = set(run.timeline["name"])
    assert "attn.kv_up.fwd" in names and "moe.shared.fc1.fwd" in names
    try:
        echosim.train(**base, pipeline_layout="Et*4|(t*4|)*13tmL")
    except Exception as e:  # noqa: BLE001 - the binding's error type
        assert "the layout lists 15 virtual stages" in str(e)
    else:
        raise AssertionError("expected an error")


def test_muon_optimizer_from_python():
    base = dict(model="llama3-8b", gpu="h100-sxm", gpus=8, global_batch=16, seq_len=2048)
    adam = echosim.train(**base)
    muon = echosim.train(**base, optimizer="muon")
    assert muon.step_time_s > adam.step_time_s
    assert muon.summary["peak_memory_bytes"] < adam.summary["peak_memory_bytes"]
    assert "optimizer.muon.newton_schulz" in set(muon.timeline["name"])


def test_bf16_optimizer_moments_from_python():
    base = dict(model="llama3-8b", gpu="h100-sxm", gpus=8, global_batch=16, seq_len=2048)
    fp32 = echosim.train(**base)
    bf16 = echosim.train(**base, optimizer_moments="bf16")
    # Adam's state: 12 bytes per parameter with fp32 moments, 8 with bf16 ones.
    mem = lambda r: r.summary["memory_per_stage"][0]["optimizer_bytes"]
    assert abs(mem(bf16) / mem(fp32) - 8.0 / 12.0) < 1e-6
    assert bf16.step_time_s < fp32.step_time_s
    with pytest.raises(Exception, match="workload.training.optimizer_moments"):
        echosim.train(**base, optimizer_moments="fp16")


# Qwen3-30B-A3B over 16 H100s with 8 experts per GPU: the MoE choices below are compared on it,
# without the host launch model (what they change on the GPU).
QWEN_MOE_EP16 = dict(model="qwen3-30b-a3b", gpu="h100-sxm", gpus=16, ep=16, global_batch=32,
                     seq_len=2048, host_launch_us=0)


def test_moe_load_imbalance_from_python():
    # The busiest EP rank's load sets the MoE layers' time: a 1.3x imbalance lengthens the
    # step of a GPU-bound plan (no host model); out of [1, ep] it is refused with the field.
    node = dict(QWEN_MOE_EP16, gpus=8, ep=8, global_batch=16, host_launch_us=0, host_loop_launch_us=0)
    balanced = echosim.train(**node)
    skewed = echosim.train(**node, moe_load_imbalance=1.3)
    assert skewed.step_time_s > balanced.step_time_s * 1.03
    # The summary says what each run was priced at: random routing's busiest rank, or the value.
    assert 1.0 < balanced.summary["moe_load_imbalance"] < 1.05
    assert skewed.summary["moe_load_imbalance"] == 1.3
    with pytest.raises(ValueError, match="workload.training.moe_load_imbalance"):
        echosim.train(**node, moe_load_imbalance=0.5)


def test_fp8_recipe_from_python():
    # MXFP8's block-scaled GEMMs and current scaling's amax passes cost time over delayed
    # scaling's bare casts; MXFP8 needs Blackwell, and a recipe needs dtype fp8.
    job = dict(model="llama3-8b", gpu="b200", gpus=8, global_batch=16, seq_len=2048, dtype="fp8",
               host_launch_us=0)
    delayed = echosim.train(**job, fp8_recipe="delayed")
    current = echosim.train(**job, fp8_recipe="current")
    mxfp8 = echosim.train(**job, fp8_recipe="mxfp8")
    assert echosim.train(**job).step_time_s == delayed.step_time_s
    assert current.step_time_s > delayed.step_time_s
    assert mxfp8.step_time_s > delayed.step_time_s
    with pytest.raises(ValueError, match="mxfp8 needs a Blackwell GPU"):
        echosim.train(**dict(job, gpu="h100-sxm"), fp8_recipe="mxfp8")
    with pytest.raises(ValueError, match="needs dtype fp8"):
        echosim.train(**dict(job, dtype="bf16"), fp8_recipe="current")


def test_bf16_edge_layers_from_python():
    # Edge layers kept in bf16 under fp8 cost time; a bf16 run has none to keep.
    job = dict(model="llama3-8b", gpu="b200", gpus=8, global_batch=16, seq_len=2048, dtype="fp8",
               host_launch_us=0)
    edges = echosim.train(**job, bf16_layers_at_start=1, bf16_layers_at_end=1)
    assert edges.step_time_s > echosim.train(**job).step_time_s
    with pytest.raises(ValueError, match="under dtype fp8 or fp4"):
        echosim.train(**dict(job, dtype="bf16"), bf16_layers_at_end=1)


def test_flex_dispatcher_from_python():
    base = QWEN_MOE_EP16
    plain = echosim.train(**base)
    flex = echosim.train(**base, moe_dispatcher="flex")
    assert flex.step_time_s < plain.step_time_s
    # Inside one NVLink domain (8 GPUs) the flex traffic factor scales its bytes: a faster
    # dispatcher (0.5) gives a shorter step than NCCL's efficiency (1).
    node = dict(base, gpus=8, ep=8, global_batch=16, moe_dispatcher="flex")
    faster = echosim.train(**node, flex_traffic_factor=0.5)
    as_nccl = echosim.train(**node, flex_traffic_factor=1.0)
    assert faster.step_time_s < as_nccl.step_time_s
    with pytest.raises(ValueError, match="flex_dispatch_traffic_factor"):
        echosim.train(**node, flex_traffic_factor=3)
    # The SMs its kernels hold reach the timeline's all-to-alls.
    held = echosim.train(**node, flex_sms=24, timeline=True)
    events = json.loads(held.to_chrome_trace())["traceEvents"]
    channels = {e["args"]["channels"] for e in events if e["name"].startswith("ep.all_to_all")}
    assert channels == {24}
    with pytest.raises(ValueError, match="flex_dispatcher_sms"):
        echosim.train(**base, flex_sms=24)


def test_clamped_glu_and_fused_expert_mlp_from_python():
    # gpt-oss clamps its GLU with separate kernels unless the expert MLP is one fused op.
    base = dict(model="gpt-oss-120b", gpu="h100-sxm", gpus=8, ep=8, global_batch=16, seq_len=2048)
    eager = echosim.train(**base, timeline=True)
    fused = echosim.train(**base, moe_fused_mlp=True, timeline=True)
    assert "moe.glu_clamp.fwd" in set(eager.timeline["name"])
    assert "moe.glu_clamp.fwd" not in set(fused.timeline["name"])
    assert fused.step_time_s < eager.step_time_s
    assert echosim.models().loc["gpt-oss-120b", "glu_clamp"] == 7.0
    assert abs(echosim.models().loc["gpt-oss-120b", "rope_mscale"] - 1.3466) < 1e-9
    assert echosim.models().loc["gpt-oss-120b", "expert_bias"]
    assert "moe.fc2_bias.fwd" in set(eager.timeline["name"])
    assert "moe.fc2_bias.fwd" not in set(fused.timeline["name"])
    with pytest.raises(ValueError, match="moe_fused_mlp"):
        echosim.train(model="llama3-8b", gpu="h100-sxm", gpus=8, global_batch=16, moe_fused_mlp=True)


def test_grouped_gemm_choice_from_python():
    # 8 local experts of a small model: one grouped kernel fills the GPU better than
    # Transformer Engine's one GEMM per expert over 4 streams (the default).
    base = QWEN_MOE_EP16
    streams = echosim.train(**base)
    single = echosim.train(**base, moe_grouped_gemm="single_kernel")
    assert single.step_time_s < streams.step_time_s
    with pytest.raises(ValueError, match="moe_grouped_gemm.*multi_stream"):
        echosim.train(**base, moe_grouped_gemm="cutlass")


def test_host_launch_model_from_python():
    # The h100-sxm preset's host launch cost is on by default; 0 turns the host model off, and
    # CUDA graphs over the MoE router and permutation shorten the host's work.
    base = dict(QWEN_MOE_EP16, moe_dispatcher="flex")
    base.pop("host_launch_us")
    eager = echosim.train(**base)
    off = echosim.train(**base, host_launch_us=0)
    graphed = echosim.train(**base, cuda_graph_scope="moe_router,moe_preprocess")
    assert off.breakdown["host_bound_s"] == 0 < eager.breakdown["host_bound_s"]
    assert off.step_time_s < graphed.step_time_s <= eager.step_time_s
    assert graphed.scenario.get("parallelism.cuda_graph_scope") == ["moe_router", "moe_preprocess"]
    # The per-expert loop launches' cost: the preset's by default, settable on its own.
    assert eager.scenario.get("simulation.host_loop_launch_us") == 30
    cheap = echosim.train(**base, host_loop_launch_us=0)
    assert cheap.scenario.get("simulation.host_loop_launch_us") == 0
    assert cheap.step_time_s < eager.step_time_s
    with pytest.raises(ValueError, match="valid choices: attn, mlp, moe"):
        echosim.train(**base, cuda_graph_scope=["attention"])


def test_lora_trains_faster_than_full_and_takes_a_module_list():
    full = echosim.train(**SMALL).summary
    lora = echosim.train(**SMALL, lora_rank=16, lora_modules="qkv,fc2").summary
    listed = echosim.train(**SMALL, lora_rank=16, lora_modules=["qkv", "fc2"]).summary
    assert lora["step_time_s"] < full["step_time_s"]
    assert listed["step_time_s"] == lora["step_time_s"]
    with pytest.raises(ValueError, match="unknown module 'gate'; valid: qkv, proj, fc1, fc2"):
        echosim.train(**SMALL, lora_rank=16, lora_modules=["gate"])
