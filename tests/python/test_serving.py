import json
import subprocess

import numpy as np
import pandas as pd
import pytest

import echosim

POISSON = dict(model="llama3-8b", gpu="h100-sxm", scheduler="sarathi", replicas=2,
               workload="poisson:qps=6,input=fixed:512,output=fixed:64", duration_s=20,
               slo_ttft_ms=200, slo_tpot_ms=20)


def cli_args(**kw):
    args = ["serve"]
    for k, v in kw.items():
        args += ["--" + k.replace("_", "-")] + ([] if v is True else [str(v)])
    return args


def test_every_cli_serve_flag_is_a_keyword(cli):
    usage = subprocess.run([cli, "serve", "--help"], capture_output=True, text=True)
    text = usage.stdout + usage.stderr
    section = text.split("serve options")[1].split("serve-search options")[0]
    flags = {w.strip("(),") for w in section.split() if w.startswith("--")}
    flags -= {"--json", "--out", "--set"}
    keywords = set(echosim.serve.__kwdefaults__) - {"set", "scenario", "out", "requests"}
    assert {f[2:].replace("-", "_") for f in flags} == keywords


def test_serve_equals_cli(cli, tmp_path):
    r = echosim.serve(**POISSON, out=tmp_path / "py")
    out = subprocess.run([cli, *cli_args(**POISSON), "--json", "--out", str(tmp_path / "cli")],
                         capture_output=True, text=True, check=True)
    cli_summary = json.loads(out.stdout)
    py_summary = dict(r.summary)
    cli_summary.pop("sim_wall_s"), py_summary.pop("sim_wall_s")
    assert py_summary == cli_summary
    # The files --out writes are the same bytes (summary.json differs only in sim_wall_s).
    for name in ("requests.csv", "timeseries.csv", "timeline.json", "scenario.resolved.yaml"):
        assert (tmp_path / "py" / name).read_bytes() == (tmp_path / "cli" / name).read_bytes(), name
    assert r.to_chrome_trace() == (tmp_path / "cli" / "timeline.json").read_text()


def test_requests_table_matches_summary():
    r = echosim.serve(**POISSON)
    req = r.requests
    assert isinstance(req, pd.DataFrame)
    s = r.summary
    assert len(req) == s["requests"] == s["completed"] + s["rejected"]
    done = req[~req["rejected"]]
    assert (done["output_tokens"] == 64).all() and (done["input_tokens"] == 512).all()
    assert (done["e2e_s"] >= done["ttft_s"]).all()
    # Summary percentiles come from a log histogram within 0.3% of the order statistic.
    p50 = np.percentile(done["ttft_s"], 50, method="inverted_cdf")
    assert abs(s["ttft_s"]["p50"] / p50 - 1) < 0.005
    assert r.percentiles("tpot_s") == s["tpot_s"]
    assert {"time_s", "kv_utilization"} <= set(r.timeseries.columns)


def test_scenario_file_with_relative_trace(repo):
    sc = echosim.Scenario.load(repo / "scenarios" / "serving-llama3-8b-azure-conv.yaml")
    assert sc.kind == "serving"
    short = sc.with_(duration_s=120)  # serve keywords on a serving scenario
    r = short.run(requests=False)
    assert isinstance(r, echosim.ServingResult)
    assert 0 < r.summary["requests"] < 2000
    assert r.scenario.get("workload.serving.duration_s") == 120
    with pytest.raises(ValueError, match="serving"):
        echosim.run(sc)


def test_serving_sweep_local_equals_serial(repo):
    base = echosim.Scenario.load(repo / "scenarios" / "serving-llama3-8b-azure-conv.yaml")
    grid = {"qps": [4, 16], "scheduler": ["vllm", "sarathi"], "duration_s": 120}
    serial = echosim.sweep(grid, base=base, processes=1)
    parallel = echosim.sweep(grid, base=base, processes=2)
    assert serial["error"].isna().all()
    assert {"ttft_s_p99", "tpot_s_p50", "slo_attainment"} <= set(serial.columns)
    pd.testing.assert_frame_equal(serial.drop(columns="sim_wall_s"),
                                  parallel.drop(columns="sim_wall_s"))
    busy = serial[serial["qps"] == 16]["ttft_s_p99"].to_numpy()
    calm = serial[serial["qps"] == 4]["ttft_s_p99"].to_numpy()
    assert (busy >= calm).all()


@pytest.mark.parametrize("override", [
    {"scheduler": "fifo"},
    {"model": "no-such-model"},
    {"replicas": "two"},
    {"workload": "poisson:qps=abc"},
    {"tp": 3},
])
def test_serve_errors_are_the_cli_messages(cli, override):
    kw = {**POISSON, **override}
    with pytest.raises(ValueError) as e:
        echosim.serve(**kw)
    p = subprocess.run([cli, *cli_args(**kw)], capture_output=True, text=True)
    assert p.returncode == 2
    assert str(e.value) == p.stderr.splitlines()[0][len("echosim: error: "):]


def test_training_scenario_is_not_served(repo):
    sc = echosim.Scenario.load(repo / "scenarios" / "llama3-70b-h100-64.yaml")
    with pytest.raises(ValueError, match="workload.serving is not set"):
        echosim.serve(scenario=sc)
