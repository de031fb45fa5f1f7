"""Serving: simulate a cluster of LLM inference replicas under a request stream.

:func:`serve` mirrors ``echosim serve`` (the same flags, dashes as underscores) and returns
a :class:`ServingResult`: the CLI's summary, every request as a DataFrame, the time series
of KV-cache use and queues, and the timeline.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from . import _echosim
from ._flags import SERVE_FLAGS
from .scenario import Scenario, _apply_set

__all__ = ["ServingResult", "serve", "serve_scenario"]


class ServingResult:
    """One simulated serving run.

    - ``summary``: dict with the same fields as ``echosim serve --json`` (``ttft_s``,
      ``tpot_s``, ``e2e_s``, ``itl_s``, ``queue_s`` as {p50, p90, p99, mean, max},
      throughput, ``slo_attainment``, ``goodput_requests_per_s``, KV use, cost, ...);
    - ``requests``: pandas DataFrame, one row per finished or rejected request (completion
      order): ``id, replica, decode_replica, arrival_s, input_tokens, output_tokens,
      cached_tokens, queue_s, ttft_s, tpot_s, e2e_s, max_itl_s, preemptions, rejected,
      reason``;
    - ``timeseries``: pandas DataFrame of the sampled KV use, batch and queue sizes;
    - ``scenario``: the resolved :class:`~echosim.Scenario`.
    """

    def __init__(self, native: Any, out_dir: str, tmp: tempfile.TemporaryDirectory | None) -> None:
        self._native = native
        self._out_dir = Path(out_dir)
        self._tmp = tmp  # owns out_dir when the caller gave none; removed with this object

    @cached_property
    def summary(self) -> dict[str, Any]:
        return json.loads(self._native.summary_json())

    @cached_property
    def scenario(self) -> Scenario:
        return Scenario._wrap(self._native.resolved())

    @cached_property
    def requests(self) -> pd.DataFrame:
        cols = self._native.requests_columns()
        cols["reason"] = pd.Categorical(cols["reason"])
        return pd.DataFrame(cols)

    @cached_property
    def timeseries(self) -> pd.DataFrame:
        return pd.read_csv(self._out_dir / "timeseries.csv")

    def percentiles(self, metric: str = "ttft_s") -> dict[str, float]:
        """``summary[metric]``: {p50, p90, p99, mean, max} of ttft_s, tpot_s, e2e_s, itl_s
        or queue_s (seconds)."""
        value = self.summary.get(metric)
        if not isinstance(value, dict):
            valid = [k for k, v in self.summary.items() if isinstance(v, dict) and "p50" in v]
            raise ValueError(f"unknown latency metric '{metric}'; valid: {', '.join(valid)}")
        return dict(value)

    def table(self) -> str:
        """The CLI's human-readable summary."""
        return self._native.summary_text()

    def to_chrome_trace(self, path: str | os.PathLike[str] | None = None) -> str | None:
        """The Chrome Trace Event JSON of the run (``echosim serve --out``'s timeline.json):
        written to ``path``, or returned as a string with no path. Raises ValueError when
        the run recorded no timeline (``no_timeline=True``)."""
        src = self._out_dir / "timeline.json"
        if not src.exists():
            raise ValueError("this run recorded no timeline (output.timeline is false: "
                             "--no-timeline); serve again without no_timeline=True")
        if path is None:
            return src.read_text()
        shutil.copyfile(src, os.fspath(path))
        return None

    def __repr__(self) -> str:
        s = self.summary
        return (f"<ServingResult {s['model']} x{s['replicas']} on {s['gpu']}: "
                f"{s['completed']} requests, TTFT p99 {s['ttft_s']['p99']:.3g} s, "
                f"TPOT p99 {s['tpot_s']['p99']:.3g} s>")


def serve_scenario(
    base: Scenario | None = None,
    overrides: Mapping[str, Any] | Iterable[str] | None = None,
    **flags: Any,
) -> Scenario:
    """The scenario :func:`serve` would run: ``base`` (or an empty serving scenario) with
    the ``echosim serve`` flags applied, then ``overrides`` (the CLI's ``--set``)."""
    sc = base if base is not None else Scenario()
    if sc.kind == "training":
        raise ValueError("workload.serving is not set (this is a training scenario); "
                         "run training scenarios with echosim.run or echosim.train")
    if sc.kind == "":
        sc = Scenario._wrap(_echosim.scenario_apply(sc.to_bytes(), "workload.serving={}"),
                            sc._base_dir)
    for name in flags:
        if name not in SERVE_FLAGS:
            raise TypeError(f"unknown keyword '{name}' for echosim.serve; "
                            f"valid: {', '.join(SERVE_FLAGS)}")
    sc = sc.with_({k: flags[k] for k in SERVE_FLAGS if flags.get(k) is not None})
    return _apply_set(sc, overrides, sc._base_dir)


def serve(
    *,
    model: str | None = None,
    gpu: str | None = None,
    workload: str | None = None,
    tp: int | None = None,
    pp: int | None = None,
    replicas: int | None = None,
    prefill_replicas: int | None = None,
    decode_replicas: int | None = None,
    scheduler: str | None = None,
    router: str | None = None,
    duration_s: float | None = None,
    max_requests: int | None = None,
    time_scale: float | None = None,
    qps: float | None = None,
    skip_bad_lines: bool | None = None,
    seed: int | None = None,
    max_batch_tokens: int | None = None,
    max_num_seqs: int | None = None,
    max_model_len: int | None = None,
    block_size: int | None = None,
    gpu_memory_utilization: float | None = None,
    kv_blocks: int | None = None,
    prefix_caching: bool | None = None,
    dtype: str | None = None,
    kv_dtype: str | None = None,
    cpu_overhead_us: float | None = None,
    cpu_overhead_per_seq_us: float | None = None,
    cpu_overhead_per_new_request_us: float | None = None,
    slo_ttft_ms: float | None = None,
    slo_tpot_ms: float | None = None,
    usd_per_gpu_hour: float | None = None,
    nic_gbps: float | None = None,
    nvlink_gbps: float | None = None,
    no_timeline: bool | None = None,
    compute_backend: str | None = None,
    kernel_cache: str | os.PathLike[str] | None = None,
    set: Mapping[str, Any] | Iterable[str] | None = None,  # noqa: A002 (the CLI's --set)
    scenario: Scenario | None = None,
    out: str | os.PathLike[str] | None = None,
    requests: bool = True,
) -> ServingResult:
    """Simulates a serving cluster, as ``echosim serve`` does with the same flags.

    Every keyword is the CLI flag with dashes as underscores (``duration_s`` is
    ``--duration-s``, ``qps`` is ``--qps``) and sets the same scenario field; ``None``
    leaves it alone. ``set`` is the CLI's ``--set``; ``scenario`` starts from a serving
    scenario (e.g. ``Scenario.load("scenarios/serving-llama3-8b-azure-conv.yaml")``, whose
    relative trace path is read from the file's folder). ``out`` writes what ``--out``
    writes (summary.json, scenario.resolved.yaml, requests.csv, timeseries.csv,
    timeline.json). ``requests=False`` skips collecting the per-request table.

    Example::

        r = echosim.serve(model="llama3-8b", gpu="h100-sxm", scheduler="sarathi",
                          workload="poisson:qps=8,input=fixed:512,output=fixed:128",
                          duration_s=60)
        r.summary["ttft_s"]["p99"], r.requests.tpot_s.describe()

    Raises ValueError with the CLI's error message on bad input.
    """
    flags = {
        "model": model, "gpu": gpu, "tp": tp, "pp": pp, "replicas": replicas,
        "prefill_replicas": prefill_replicas, "decode_replicas": decode_replicas,
        "scheduler": scheduler, "router": router, "workload": workload,
        "duration_s": duration_s, "max_requests": max_requests, "time_scale": time_scale,
        "qps": qps, "skip_bad_lines": skip_bad_lines, "seed": seed,
        "max_batch_tokens": max_batch_tokens, "max_num_seqs": max_num_seqs,
        "max_model_len": max_model_len, "block_size": block_size,
        "gpu_memory_utilization": gpu_memory_utilization, "kv_blocks": kv_blocks,
        "prefix_caching": prefix_caching, "dtype": dtype, "kv_dtype": kv_dtype,
        "cpu_overhead_us": cpu_overhead_us, "cpu_overhead_per_seq_us": cpu_overhead_per_seq_us,
        "cpu_overhead_per_new_request_us": cpu_overhead_per_new_request_us,
        "slo_ttft_ms": slo_ttft_ms, "slo_tpot_ms": slo_tpot_ms,
        "usd_per_gpu_hour": usd_per_gpu_hour, "nic_gbps": nic_gbps, "nvlink_gbps": nvlink_gbps,
        "no_timeline": no_timeline, "compute_backend": compute_backend,
        "kernel_cache": None if kernel_cache is None else os.fspath(kernel_cache),
    }
    if scenario is not None and not isinstance(scenario, Scenario):
        raise ValueError(f"serve(scenario=...) needs an echosim.Scenario, got "
                         f"{type(scenario).__name__}")
    sc = serve_scenario(scenario, set, **flags)
    tmp = None
    if out is None:
        tmp = tempfile.TemporaryDirectory(prefix="echosim-serve-")
        out_dir = tmp.name
    else:
        out_dir = os.fspath(out)
    native = _echosim.run_serving(sc.to_bytes(), sc._base_dir, out_dir, requests)
    result = ServingResult(native, out_dir, tmp)
    if out is not None:
        Path(out_dir, "summary.json").write_text(native.summary_json(2) + "\n")
        Path(out_dir, "scenario.resolved.yaml").write_text(result.scenario.to_yaml())
    return result
