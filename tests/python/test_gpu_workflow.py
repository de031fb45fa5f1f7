"""The GPU workflow from Python: kernel_calibration= and compute_backend= give the CLI's answer.

The harness is tests/cli/fake_echosim_kernels.py (synthetic, formula-made durations): these
tests check the plumbing, not accuracy.
"""

import json
import subprocess
import sys

import pytest

import echosim
from conftest import REPO, SMALL

FAKE = REPO / "tests" / "cli" / "fake_echosim_kernels.py"


@pytest.fixture()
def fake_harness(monkeypatch, tmp_path):
    monkeypatch.setenv("ECHOSIM_KERNELS", str(FAKE))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("FAKE_KERNELS_LOG", str(tmp_path / "harness.log"))
    monkeypatch.delenv("FAKE_KERNELS_MODE", raising=False)
    return tmp_path


def cli_json(cli, *args):
    out = subprocess.run([cli, *args, "--json"], capture_output=True, text=True, check=True)
    s = json.loads(out.stdout)
    s.pop("sim_wall_s")
    return s


def train_args():
    args = ["train"]
    for k, v in SMALL.items():
        args += ["--" + k.replace("_", "-")] + ([] if v is True else [str(v)])
    return args


def test_default_is_the_datasheet_roofline():
    s = echosim.train(**SMALL).summary
    assert s["compute_backend"] == "model"
    assert s["calibration"]["compute"] == "built-in datasheet roofline"


def test_kernel_calibration_equals_cli(cli, fake_harness):
    cal = fake_harness / "h100-sxm.yaml"
    subprocess.run([sys.executable, str(FAKE), "calibrate", "--gpu", "h100-sxm", "--out", str(cal)],
                   check=True)
    py = echosim.train(**SMALL, kernel_calibration=cal).summary
    py.pop("sim_wall_s")
    assert py["calibration"]["compute"].startswith(f"{cal} (h100-sxm, FAKE GPU")
    assert py == cli_json(cli, *train_args(), "--kernel-calibration", str(cal))
    assert py["step_time_s"] != echosim.train(**SMALL).step_time_s


def test_gpu_backend_equals_cli_and_caches(cli, fake_harness):
    cache = fake_harness / "times.jsonl"
    py = echosim.train(**SMALL, compute_backend="gpu", kernel_cache=cache).summary
    py.pop("sim_wall_s")
    assert py["compute_backend"] == "gpu"
    assert py["compute_device"] == "FAKE GPU (synthetic timings)"
    assert py["kernels"]["measured"] == py["kernels"]["shapes"] > 0
    again = cli_json(cli, *train_args(), "--compute-backend", "gpu", "--kernel-cache", str(cache))
    assert again["kernels"]["from_cache"] == py["kernels"]["shapes"]
    assert again["kernels"]["measured"] == 0
    for k in ("kernels",):
        py.pop(k), again.pop(k)
    assert py == again


def test_errors_raise_value_error(fake_harness, monkeypatch):
    with pytest.raises(ValueError, match="valid choices: model, gpu"):
        echosim.train(**SMALL, compute_backend="cuda")
    with pytest.raises(ValueError, match="cannot open"):
        echosim.train(**SMALL, kernel_calibration=fake_harness / "missing.yaml")
    monkeypatch.setenv("FAKE_KERNELS_MODE", "nogpu")
    with pytest.raises((ValueError, RuntimeError), match="no CUDA device"):
        echosim.train(**SMALL, compute_backend="gpu", kernel_cache="none")


def test_serve_gpu_backend(fake_harness):
    kw = dict(model="llama3-8b", gpu="h100-sxm", tp=1, scheduler="vllm", duration_s=30,
              workload="poisson:qps=4,input=fixed:512,output=fixed:64")
    s = echosim.serve(**kw, compute_backend="gpu", kernel_cache=fake_harness / "serve.jsonl").summary
    assert s["compute_backend"] == "gpu"
    assert s["compute_device"] == "FAKE GPU (synthetic timings)"
    assert s["kernels"]["measured"] == s["kernels"]["shapes"] > 0
    assert echosim.serve(**kw).summary["compute_backend"] == "model"
