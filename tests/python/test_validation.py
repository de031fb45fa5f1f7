"""echosim.validate: the published-data validation from Python, on a few rows of each table
(the full run is the CLI's and the accuracy test's)."""

import json
import subprocess
from pathlib import Path

import pytest

import echosim

# Rows kept from each table (data rows, counted from 1 after the header); the NeMo rows are two
# releases' GB300 / GB200 Llama 3 70B FP8 runs (a GPU what-if pair) and one H100 row.
KEEP = {
    "training_megatron_core_h100_2024.csv": {1, 2},
    "training_korthikanti_seqpar_selective.csv": {1, 2},
    "training_megatron_sc21_weak_scaling.csv": {1, 2},
}
NEMO = "training_nemo_megatron_bridge_perf_summary.csv"
NEMO_MATCH = ("26.04.01 NeMo Container,Pre-Training Performance,DGX-GB300,LLAMA3_70B,64,FP8,",
              "26.04.01 NeMo Container,Pre-Training Performance,DGX-GB200,LLAMA3_70B,64,FP8,",
              "26.04.01 NeMo Container,Pre-Training Performance,DGX-H100,LLAMA3_70B,64,FP8,")


@pytest.fixture(scope="module")
def small_data(repo, tmp_path_factory) -> Path:
    src = repo.parent / "shared" / "data" / "measured" / "training"
    if not src.is_dir():
        pytest.skip(f"no measured data at {src}")
    out = tmp_path_factory.mktemp("measured")
    (out / "training").mkdir()
    for f in list(KEEP) + [NEMO]:
        kept, row = [], 0
        header_seen = False
        for line in (src / f).read_text().splitlines(keepends=True):
            if line.startswith("#") or not header_seen:
                kept.append(line)
                header_seen = header_seen or not line.startswith("#")
                continue
            row += 1
            if f == NEMO:
                if any(m in line for m in NEMO_MATCH):
                    kept.append(line)
            elif row in KEEP[f]:
                kept.append(line)
        (out / "training" / f).write_text("".join(kept))
    return out


@pytest.fixture(scope="module")
def report(small_data):
    return echosim.validate(small_data, threads=2)


def test_tables(report):
    rows = report.rows
    assert len(rows) == 9 and not rows["skipped"].any()
    assert {"source", "line", "label", "config", "measured_step_s", "predicted_step_s", "error",
            "campaign", "precision"} <= set(rows.columns)
    assert (rows["predicted_step_s"] > 0).all()
    err = (rows["predicted_step_s"] - rows["measured_step_s"]) / rows["measured_step_s"]
    assert (abs(err - rows["error"]) < 1e-12).all()
    assert set(report.summaries["source"]) >= {"all", "all_dense", "nemo_megatron_bridge"}
    assert {"shipped", "fit_all_rows"} <= set(report.constants)
    assert "held out over all sources" in repr(report)
    assert "rows worse than 15%" in repr(report)
    assert (report.summaries["rows_beyond_target"] >= 0).all()


def test_whatif_pair(report):
    gpu = report.whatif[report.whatif["kind"] == "gpu"]
    assert len(gpu) == 1
    p = gpu.iloc[0]
    a, b = report.row(int(p["line_a"])), report.row(int(p["line_b"]))
    measured = b["measured_step_s"] / a["measured_step_s"]
    assert p["measured_ratio"] == pytest.approx(measured, rel=1e-12)
    assert p["ratio_error"] == pytest.approx(p["predicted_ratio"] / measured - 1, rel=1e-12)
    assert report.whatif_summary.set_index("kind").loc["gpu", "pairs"] == 1


def test_row_scenario_reproduces_the_prediction(report):
    nemo = report.rows[report.rows["source"] == "nemo_megatron_bridge"].iloc[0]
    sc = report.scenario(int(nemo["line"]))
    run = sc.run()
    assert run.summary["step_time_s"] == pytest.approx(
        nemo["predicted_step_s_shipped_constants"], rel=1e-12)


def test_same_report_as_the_cli(report, small_data, cli):
    out = subprocess.run([cli, "validate", "--data-dir", str(small_data), "--json",
                          "--threads", "2"], check=True, capture_output=True, text=True).stdout
    assert json.loads(out)["rows"] == report.json["rows"]


def test_bad_input(report, tmp_path):
    with pytest.raises(ValueError, match="no row at line 99999"):
        report.row(99999)
    with pytest.raises(ValueError, match="threads"):
        echosim.validate(tmp_path, threads=-1)
    with pytest.raises(ValueError):
        echosim.validate(tmp_path)  # no training/*.csv there
