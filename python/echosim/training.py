"""Training: simulate one iteration and look at the result.

:func:`train` mirrors ``echosim train`` (the same flags, dashes as underscores);
:func:`run` runs a :class:`~echosim.Scenario`. Both return a :class:`TrainingResult`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from . import _echosim
from ._flags import TRAIN_FLAGS
from .scenario import Scenario, _apply_set

__all__ = ["TrainingResult", "run", "train", "train_scenario"]


class _StepResult:
    """What :class:`TrainingResult` and :class:`TraceResult` share: the JSON summary, the
    step time and the resolved scenario of a native result."""

    def __init__(self, native: Any) -> None:
        self._native = native

    @cached_property
    def summary(self) -> dict[str, Any]:
        return json.loads(self._native.summary_json())

    @property
    def step_time_s(self) -> float:
        return float(self.summary["step_time_s"])

    @cached_property
    def scenario(self) -> Scenario:
        return Scenario._wrap(self._native.resolved())


class TrainingResult(_StepResult):
    """One simulated training iteration.

    Attributes are computed on first use and cached:

    - ``summary``: dict with the same fields as ``echosim train --json``;
    - ``breakdown``: dict ``compute_s``, ``exposed_comm_s``, ``pipeline_bubble_s``,
      ``other_s`` (and ``rank``, the rank it describes);
    - ``timeline``: pandas DataFrame, one row per span of the recorded ranks (one per
      pipeline stage): ``rank, stage, stream, name, kind, start_s, end_s, duration_s,
      layer, microbatch, bytes, collective, group, start_ps, end_ps``;
    - ``memory``: pandas DataFrame of memory per pipeline stage (bytes per rank);
    - ``scenario``: the resolved :class:`~echosim.Scenario` (every default filled in).
    """

    @property
    def breakdown(self) -> dict[str, float]:
        return dict(self.summary["breakdown"])

    @property
    def mfu(self) -> float:
        return float(self.summary["mfu"])

    @cached_property
    def timeline(self) -> pd.DataFrame:
        cols = self._native.timeline_columns()
        data: dict[str, Any] = {}
        for name in ("rank", "stage", "stream", "name", "kind", "start_s", "end_s"):
            data[name] = _column(cols[name])
        data["duration_s"] = cols["end_s"] - cols["start_s"]
        for name in ("layer", "microbatch"):
            values = cols[name]  # -1: the span has no layer / micro-batch
            data[name] = pd.arrays.IntegerArray(values.astype(np.int32), mask=values < 0)
        for name in ("bytes", "collective", "group", "start_ps", "end_ps"):
            data[name] = _column(cols[name])
        return pd.DataFrame(data)

    @cached_property
    def memory(self) -> pd.DataFrame:
        return pd.DataFrame(self._native.memory_columns())

    def table(self) -> str:
        """The CLI's human-readable summary table."""
        return self._native.summary_table()

    def to_chrome_trace(self, path: str | os.PathLike[str] | None = None) -> str | None:
        """Writes the Chrome Trace Event JSON (open in https://ui.perfetto.dev) to ``path``,
        byte-identical to the CLI's ``--timeline``; with no path, returns it as a string."""
        if path is None:
            return self._native.chrome_trace()
        self._native.write_chrome_trace(os.fspath(path))
        return None

    def export_chakra(self, path: str | os.PathLike[str], *, full: bool | None = None) -> int:
        """Writes the step as Chakra ET to the folder ``path`` (the CLI's
        ``--export-chakra``): ``trace.<rank>.et`` per pipeline stage and ``manifest.json``
        naming the ranks each stands for, or one file per rank with ``full`` (default: the
        scenario's ``simulation.full``). Returns the number of files written."""
        if full is None:
            full = bool(self.scenario.get("simulation.full", False))
        return int(self._native.export_chakra(os.fspath(path), bool(full)))

    def to_kineto(self, path: str | os.PathLike[str]) -> None:
        """Writes the timeline as Kineto-layout JSON, ``rank<r>.json`` per recorded rank,
        into the folder ``path`` (the CLI's ``--kineto``; HolisticTraceAnalysis reads it)."""
        self._native.write_kineto(os.fspath(path))

    def __repr__(self) -> str:
        s = self.summary
        return (f"<TrainingResult {s['scenario']!r}: step {s['step_time_s']:.4g} s, "
                f"MFU {100 * s['mfu']:.3g}%>")


class TraceResult(_StepResult):
    """One simulated traced, imported or exported step (:func:`run_trace`).

    - ``summary``: dict with the same fields as ``echosim run --trace DIR --json``
      (step time, per-rank breakdown, ``compute_scaling``);
    - ``scenario``: the resolved :class:`~echosim.Scenario`.
    """

    def to_chrome_trace(self, path: str | os.PathLike[str] | None = None) -> str | None:
        """The Chrome Trace Event JSON (the CLI's timeline.json): written to ``path``, or
        returned as a string."""
        text = self._native.chrome_trace()
        if path is None:
            return text
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return None

    def to_kineto(self, path: str | os.PathLike[str]) -> None:
        """Kineto-layout JSON per simulated rank into the folder ``path`` (``--kineto``)."""
        self._native.write_kineto(os.fspath(path))

    def __repr__(self) -> str:
        s = self.summary
        return f"<TraceResult {s['scenario']!r}: step {s['step_time_s']:.4g} s>"


def run_trace(
    trace: str | os.PathLike[str],
    *,
    trace_gpu: str | None = None,
    scenario: Scenario | None = None,
    set: Mapping[str, Any] | Iterable[str] | None = None,  # noqa: A002 (the CLI's --set)
) -> TraceResult:
    """Simulates a traced, imported or exported step on a cluster, as
    ``echosim run [SCENARIO] --trace TRACE [--trace-gpu NAME] [--set k=v ...]`` does.

    ``trace`` is a folder (``echosim trace`` output, Chakra ET ``prefix.<rank>.et``, Kineto
    JSON) or a file; ``trace_gpu`` the GPU it was recorded on when its metadata does not
    say (compute is scaled from it to ``cluster.gpu``); ``scenario`` gives the cluster
    (its workload is replaced); ``set`` the CLI's ``--set``, e.g. ``{"cluster.gpu":
    "h200", "cluster.gpus": 64}``. Raises ValueError with the CLI's message on bad input.
    """
    sc = scenario if scenario is not None else Scenario()
    overrides = {"workload.trace.dir": os.fspath(trace)}
    if trace_gpu is not None:
        overrides["workload.trace.gpu"] = trace_gpu
    sc = train_scenario(sc, overrides)
    if set is not None:
        sc = train_scenario(sc, set)
    return TraceResult(_echosim.run_trace(sc.to_bytes()))


def _column(col: Any) -> Any:
    """A numpy column, or (codes, names) as a pandas Categorical."""
    if isinstance(col, tuple):
        codes, names = col
        return pd.Categorical.from_codes(codes, categories=pd.Index(names, dtype=object))
    return col


def _names(value: str | Iterable[str] | None) -> list[str] | None:
    """A list flag's value: a list, or the CLI's comma-separated names; None leaves it alone."""
    if value is None:
        return None
    return value.split(",") if isinstance(value, str) else list(value)


def run(scenario: Scenario, *, timeline: bool = True) -> TrainingResult:
    """Resolves and simulates a training scenario (the CLI's ``echosim run``).

    The GIL is released while the C++ core simulates, so threads can run scenarios in
    parallel. ``timeline=False`` drops the spans after the run (less memory in sweeps).
    Raises ValueError with the CLI's message on bad input.
    """
    if not isinstance(scenario, Scenario):
        raise ValueError(f"run() needs an echosim.Scenario, got {type(scenario).__name__}")
    if scenario.kind == "serving":
        raise ValueError("this is a serving scenario (workload.serving); run it with "
                         "echosim.serve(scenario=...)")
    if scenario.kind == "trace":
        return TraceResult(_echosim.run_trace(scenario.to_bytes()))  # type: ignore[return-value]
    return TrainingResult(_echosim.run_training(scenario.to_bytes(), timeline))


def train_scenario(
    base: Scenario | None = None,
    overrides: Mapping[str, Any] | Iterable[str] | None = None,
    **flags: Any,
) -> Scenario:
    """The scenario :func:`train` would run: ``base`` (or an empty scenario) with the CLI
    flags applied in the CLI's table order, then ``overrides`` (the CLI's ``--set``)."""
    sc = base if base is not None else Scenario()
    for name in flags:
        if name not in TRAIN_FLAGS:
            valid = ", ".join(TRAIN_FLAGS)
            raise TypeError(f"unknown keyword '{name}' for echosim.train; valid: {valid}")
    given = {k: flags[k] for k in TRAIN_FLAGS if flags.get(k) is not None}
    sc = sc.with_(given)
    return _apply_set(sc, overrides)


def train(
    *,
    model: str | None = None,
    gpu: str | None = None,
    gpus: int | None = None,
    global_batch: int | None = None,
    tp: int | None = None,
    pp: int | None = None,
    vpp: int | None = None,
    cp: int | None = None,
    ep: int | None = None,
    dp: int | None = None,
    micro_batch: int | None = None,
    seq_len: int | None = None,
    dtype: str | None = None,
    attention: str | None = None,
    zero: int | None = None,
    recompute: str | None = None,
    recompute_modules: str | Iterable[str] | None = None,
    sequence_parallel: bool | None = None,
    schedule: str | None = None,
    no_overlap_grad_reduce: bool | None = None,
    overlap_param_gather: bool | None = None,
    grad_reduce_in_fp32: bool | None = None,
    fp8_param_gather: bool | None = None,
    cpu_offload_layers: int | None = None,
    pipeline_layout: str | None = None,
    optimizer: str | None = None,
    optimizer_moments: str | None = None,
    moe_dispatcher: str | None = None,
    flex_sms: int | None = None,
    moe_grouped_gemm: str | None = None,
    moe_fused_mlp: bool | None = None,
    moe_load_imbalance: float | None = None,
    tp_comm_overlap: bool | None = None,
    ep_comm_overlap: bool | None = None,
    expert_tp: int | None = None,
    fp8_attention: bool | None = None,
    fp8_recipe: str | None = None,
    mtp_bf16: bool | None = None,
    lora_rank: int | None = None,
    lora_modules: str | Iterable[str] | None = None,
    packed_sample_tokens: int | None = None,
    bf16_layers_at_start: int | None = None,
    bf16_layers_at_end: int | None = None,
    account_for_embedding_in_pipeline_split: bool | None = None,
    account_for_loss_in_pipeline_split: bool | None = None,
    gpus_per_node: int | None = None,
    nic_gbps: float | None = None,
    nvlink_gbps: float | None = None,
    host_overhead_ms: float | None = None,
    host_launch_us: float | None = None,
    host_loop_launch_us: float | None = None,
    cuda_graph_scope: str | Iterable[str] | None = None,
    flex_traffic_factor: float | None = None,
    full: bool | None = None,
    oversubscription: float | None = None,
    no_interference: bool | None = None,
    no_contention: bool | None = None,
    compute_backend: str | None = None,
    kernel_calibration: str | os.PathLike[str] | None = None,
    kernel_cache: str | os.PathLike[str] | None = None,
    layers: int | None = None,
    hidden: int | None = None,
    heads: int | None = None,
    ffn: int | None = None,
    vocab: int | None = None,
    kv_heads: int | None = None,
    head_dim: int | None = None,
    sliding_window: int | None = None,
    full_attention_every: int | None = None,
    qk_norm: bool | None = None,
    experts: int | None = None,
    top_k: int | None = None,
    set: Mapping[str, Any] | Iterable[str] | None = None,  # noqa: A002 (the CLI's --set)
    scenario: Scenario | None = None,
    timeline: bool = True,
    export_chakra: str | os.PathLike[str] | None = None,
    kineto: str | os.PathLike[str] | None = None,
) -> TrainingResult:
    """Predicts one training iteration, as ``echosim train`` does with the same flags.

    Every keyword is the CLI flag with dashes as underscores (``micro_batch`` is
    ``--micro-batch``) and sets the same scenario field; ``None`` leaves it alone. Boolean
    flags take True (as giving the flag) or False (the opposite, explicitly). ``set`` is
    the CLI's ``--set``: a dict ``{"dotted.key": value}`` or strings ``"dotted.key=value"``,
    applied after the flags. ``scenario`` starts from a scenario instead of an empty one.

    ``export_chakra`` and ``kineto`` are the CLI's ``--export-chakra DIR`` and ``--kineto
    DIR``: the step as Chakra ET, the timeline as Kineto-layout JSON.

    ``compute_backend="gpu"`` measures every distinct kernel shape on the local GPU with
    ``echosim-kernels`` (found as ``$ECHOSIM_KERNELS``); ``kernel_calibration`` names a
    kernel calibration file for the cost model (``"none"``: the datasheet roofline).

    Example::

        r = echosim.train(model="gpt3-175b", gpu="h100-sxm", gpus=1024, tp=8, pp=8, vpp=3,
                          global_batch=1536, sequence_parallel=True, recompute="selective",
                          zero=1)
        r.summary["step_time_s"], r.breakdown, r.timeline

    Raises ValueError with the CLI's error message (naming the flag or field and the valid
    choices) on bad input: unknown model or GPU, a value of the wrong type, an impossible plan.
    """
    flags = {
        "model": model, "layers": layers, "hidden": hidden, "heads": heads, "ffn": ffn,
        "vocab": vocab, "kv_heads": kv_heads, "head_dim": head_dim,
        "sliding_window": sliding_window, "full_attention_every": full_attention_every, "qk_norm": qk_norm, "experts": experts, "top_k": top_k, "gpu": gpu,
        "gpus": gpus, "gpus_per_node": gpus_per_node, "tp": tp, "pp": pp, "vpp": vpp, "cp": cp,
        "ep": ep, "dp": dp, "micro_batch": micro_batch, "global_batch": global_batch,
        "seq_len": seq_len, "dtype": dtype, "attention": attention, "zero": zero,
        "recompute": recompute,
        "recompute_modules": _names(recompute_modules),
        "sequence_parallel": sequence_parallel, "schedule": schedule,
        "no_overlap_grad_reduce": no_overlap_grad_reduce,
        "overlap_param_gather": overlap_param_gather, "tp_comm_overlap": tp_comm_overlap,
        "grad_reduce_in_fp32": grad_reduce_in_fp32, "fp8_param_gather": fp8_param_gather,
        "cpu_offload_layers": cpu_offload_layers, "pipeline_layout": pipeline_layout,
        "optimizer": optimizer, "optimizer_moments": optimizer_moments,
        "moe_dispatcher": moe_dispatcher, "flex_sms": flex_sms,
        "moe_grouped_gemm": moe_grouped_gemm, "moe_fused_mlp": moe_fused_mlp,
        "moe_load_imbalance": moe_load_imbalance,
        "ep_comm_overlap": ep_comm_overlap, "fp8_attention": fp8_attention,
        "fp8_recipe": fp8_recipe,
        "mtp_bf16": mtp_bf16,
        "lora_rank": lora_rank,
        "packed_sample_tokens": packed_sample_tokens,
        "lora_modules": _names(lora_modules),
        "bf16_layers_at_start": bf16_layers_at_start,
        "bf16_layers_at_end": bf16_layers_at_end,
        "expert_tp": expert_tp,
        "account_for_embedding_in_pipeline_split": account_for_embedding_in_pipeline_split,
        "account_for_loss_in_pipeline_split": account_for_loss_in_pipeline_split,
        "nic_gbps": nic_gbps,
        "nvlink_gbps": nvlink_gbps, "host_overhead_ms": host_overhead_ms,
        "host_launch_us": host_launch_us, "host_loop_launch_us": host_loop_launch_us,
        "cuda_graph_scope": _names(cuda_graph_scope),
        "flex_traffic_factor": flex_traffic_factor, "full": full,
        "oversubscription": oversubscription, "no_interference": no_interference,
        "no_contention": no_contention, "compute_backend": compute_backend,
        "kernel_calibration": None if kernel_calibration is None else os.fspath(kernel_calibration),
        "kernel_cache": None if kernel_cache is None else os.fspath(kernel_cache),
    }
    sc = train_scenario(scenario, set, **flags)
    result = run(sc, timeline=timeline or export_chakra is not None or kineto is not None)
    if export_chakra is not None:
        result.export_chakra(export_chakra)
    if kineto is not None:
        result.to_kineto(kineto)
    return result
