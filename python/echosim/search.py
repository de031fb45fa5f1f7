"""Plan search: rank the parallel plans of a training job by simulated step time.

The enumeration (valid tp, pp, vpp, cp, ep, micro-batch, ZeRO and recompute choices, those
that do not fit in memory dropped) is the C++ ``policies/plan_search`` shared with
``echosim search``; the survivors are simulated in a :func:`echosim.sweep`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from . import _echosim
from .scenario import Scenario
from .sweep import sweep
from .training import train_scenario

__all__ = ["search_training_plans"]

_PLAN_COLUMNS = ["tp", "pp", "vpp", "cp", "ep", "dp", "micro_batch", "zero", "recompute",
                 "sequence_parallel", "pipeline_schedule"]
_RESULT_COLUMNS = ["step_time_s", "mfu", "tokens_per_s_per_gpu", "model_tflops_per_gpu",
                   "peak_memory_bytes", "fits_in_memory", "compute_s", "exposed_comm_s",
                   "pipeline_bubble_s", "other_s"]


def _ints(name: str, values: Iterable[int] | int | None) -> list[int]:
    if values is None:
        return []
    if isinstance(values, int):
        values = [values]
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int) and not hasattr(v, "__index__"):
            raise ValueError(f"search_training_plans: {name} values must be integers, got {v!r}")
        out.append(int(v))
    return out


def candidate_scenario(base: Scenario, plan: dict[str, Any]) -> Scenario:
    """The scenario of one enumerated plan: ``base`` with its parallelism fields set (the
    same fields ``echosim search`` sets), the name left to its default."""
    return base.with_({
        "parallelism.tp": plan["tp"], "parallelism.pp": plan["pp"],
        "parallelism.vpp": plan["vpp"], "parallelism.cp": plan["cp"],
        "parallelism.ep": plan["ep"], "parallelism.dp": plan["dp"],
        "parallelism.zero": plan["zero"],
        "parallelism.sequence_parallel": plan["sequence_parallel"],
        "parallelism.recompute": plan["recompute"],
        "parallelism.pipeline_schedule": plan["pipeline_schedule"],
        "workload.training.micro_batch_seqs": plan["micro_batch"],
        "name": None,
    })


def search_training_plans(
    model: str | None = None,
    gpu: str | None = None,
    gpus: int | None = None,
    global_batch: int | None = None,
    *,
    seq_len: int | None = None,
    tp: Iterable[int] | None = None,
    pp: Iterable[int] | None = None,
    vpp: Iterable[int] | None = None,
    cp: Iterable[int] | None = None,
    ep: Iterable[int] | None = None,
    micro_batch: Iterable[int] | None = None,
    zero: Iterable[int] | None = None,
    recompute: Iterable[str] | None = None,
    all_recompute: bool = False,
    top: int | None = None,
    client: Any = None,
    processes: int | None = None,
    scenario: Scenario | None = None,
    **flags: Any,
) -> pd.DataFrame:
    """Enumerates, filters and simulates training plans; returns them ranked by step time.

    The job is ``model`` on ``gpus`` x ``gpu`` with ``global_batch`` sequences of
    ``seq_len`` tokens, plus any other :func:`echosim.train` keyword in ``flags``
    (``nic_gbps=200``, ``dtype="fp8"``, ...) or a base ``scenario``. The candidate lists
    (``tp=[4, 8]``, ``recompute=["selective"]``...) default to those of ``echosim search
    --help``. Plans that fail validation or exceed GPU memory are dropped; among plans that
    differ only in recompute mode the least recomputation that fits is kept unless
    ``all_recompute``. The rest run in :func:`echosim.sweep` (``client``/``processes`` as
    there).

    Returns a DataFrame with ``rank`` (1 = fastest), the plan (``tp, pp, vpp, cp, ep, dp,
    micro_batch, zero, recompute, sequence_parallel, pipeline_schedule``) and its results
    (``step_time_s, mfu, tokens_per_s_per_gpu, peak_memory_bytes, compute_s, ...``), the
    ``top`` fastest (all by default). ``df.attrs`` holds the enumeration counts
    (``considered, invalid, over_memory, dominated, fitting``). Ties keep enumeration order,
    so the ranking is deterministic and matches ``echosim search``.
    """
    base = train_scenario(scenario, None, model=model, gpu=gpu, gpus=gpus,
                          global_batch=global_batch, seq_len=seq_len, **flags)
    if recompute is not None and isinstance(recompute, str):
        recompute = [recompute]
    plans, counts = _echosim.enumerate_training_plans(
        base.to_bytes(), _ints("tp", tp), _ints("pp", pp), _ints("vpp", vpp), _ints("cp", cp),
        _ints("ep", ep), _ints("micro_batch", micro_batch), _ints("zero", zero),
        [str(r) for r in (recompute or [])], bool(all_recompute))
    scenarios = [candidate_scenario(base, p) for p in plans]
    results = sweep(scenarios, client, processes=processes)
    df = pd.DataFrame(plans, columns=_PLAN_COLUMNS + ["peak_memory_bytes"])
    df = df.drop(columns=["peak_memory_bytes"])
    for col in _RESULT_COLUMNS + ["error"]:
        df[col] = results[col].to_numpy() if col in results else None
    df = df.sort_values("step_time_s", kind="mergesort", na_position="last")
    df.insert(0, "rank", range(1, len(df) + 1))
    df = df.reset_index(drop=True)
    if top is not None:
        df = df.head(top)
    df.attrs.update(counts)
    return df
