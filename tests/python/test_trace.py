"""Trace workloads and exports from Python: echosim.run_trace, TrainingResult.export_chakra
and to_kineto give what `echosim run --trace`, `--export-chakra` and `--kineto` give."""

import json
import subprocess

import pytest

import echosim

JOB = dict(model="llama3-8b", gpu="h100-sxm", gpus=16, tp=2, pp=2, global_batch=16, seq_len=2048,
           no_contention=True)


def test_export_round_trips_and_equals_cli(cli, tmp_path):
    r = echosim.train(**JOB, export_chakra=tmp_path / "ex", kineto=tmp_path / "kin")
    assert sorted(p.name for p in (tmp_path / "ex").iterdir()) == [
        "manifest.json", "trace.0.et", "trace.8.et"]
    assert sorted(p.name for p in (tmp_path / "kin").iterdir()) == ["rank0.json", "rank8.json"]
    t = echosim.run_trace(tmp_path / "ex", set={"cluster.gpu": "h100-sxm"})
    # Contention off: the trace path runs the same graphs and interference model (exact).
    assert t.step_time_s == pytest.approx(r.step_time_s, rel=1e-9)
    out = subprocess.run([cli, "run", "--trace", str(tmp_path / "ex"), "--set", "cluster.gpu=h100-sxm",
                          "--json"], capture_output=True, text=True, check=True)
    cli_summary = json.loads(out.stdout)
    py = dict(t.summary)
    for s in (cli_summary, py):
        s.pop("sim_wall_s")
    assert py == cli_summary
    assert r.export_chakra(tmp_path / "full", full=True) == 16


def test_trace_gpu_scales_compute(tmp_path):
    echosim.train(**JOB, export_chakra=tmp_path / "ex")
    h100 = echosim.run_trace(tmp_path / "ex", set={"cluster.gpu": "h100-sxm"})
    a100 = echosim.run_trace(tmp_path / "ex", set={"cluster.gpu": "a100-80gb"})
    assert a100.summary["compute_scaling"]["applied"] is True
    assert a100.step_time_s > 1.5 * h100.step_time_s
    # --trace-gpu: the trace's GPU named explicitly (here: as if recorded on an A100).
    same = echosim.run_trace(tmp_path / "ex", trace_gpu="a100-80gb", set={"cluster.gpu": "a100-80gb"})
    assert same.summary["compute_scaling"]["applied"] is False
    sc = echosim.Scenario.from_dict({"cluster": {"gpu": "h100-sxm"},
                                     "workload": {"trace": {"dir": str(tmp_path / "ex")}}})
    assert sc.kind == "trace"
    assert echosim.run(sc).step_time_s == h100.step_time_s


def test_bad_trace_input_raises_with_the_cli_message(tmp_path):
    with pytest.raises(ValueError, match="not a file, a folder or a prefix"):
        echosim.run_trace(tmp_path / "none", set={"cluster.gpu": "h100-sxm"})
    echosim.train(**JOB, export_chakra=tmp_path / "ex")
    with pytest.raises(ValueError, match=r"workload.trace.gpu \(--trace-gpu\)"):
        echosim.run_trace(tmp_path / "ex", trace_gpu="k80", set={"cluster.gpu": "h100-sxm"})
