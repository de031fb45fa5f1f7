"""Sweeps: many simulations in parallel, one DataFrame row each.

With no client, :func:`sweep` runs on local worker processes (a
``concurrent.futures.ProcessPoolExecutor`` with one process per core). With a
``dask.distributed.Client`` it runs on that cluster, so the same call scales from a
laptop to many machines. Results are deterministic and in input order either way.
"""

from __future__ import annotations

import itertools
import json
import math
import multiprocessing
import os
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Tuple, Union

import numpy as np
import pandas as pd

from . import _echosim
from .scenario import Scenario

__all__ = ["expand_grid", "sweep"]

# Summary fields that are not scalars (left out of sweep rows).
_NESTED = ("breakdown", "memory_per_stage")


def _flatten(summary: dict[str, Any]) -> dict[str, Any]:
    """A training summary as one row: scalars, and the breakdown's fields by name."""
    row = {k: v for k, v in summary.items() if k not in _NESTED}
    for k, v in summary["breakdown"].items():
        row["breakdown_rank" if k == "rank" else k] = v
    return row


def _flatten_serving(summary: dict[str, Any]) -> dict[str, Any]:
    """A serving summary as one row: nested objects become `outer_inner` columns
    (``ttft_s_p99``, ``kv_utilization_mean``)."""
    row: dict[str, Any] = {}
    for k, v in summary.items():
        if isinstance(v, dict):
            for kk, vv in v.items():
                row[f"{k}_{kk}"] = vv
        elif not isinstance(v, list):
            row[k] = v
    return row


# A unit of work: (scenario bytes, overrides to apply in the worker or None, base folder of
# relative trace paths). Building thousands of scenarios in the workers keeps it parallel.
_Item = Tuple[bytes, Union[Tuple[Tuple[str, Any], ...], None], str]


def _simulate_batch(batch: Sequence[_Item]) -> list[dict[str, Any]]:
    """Runs training or serving scenarios (by their workload); a failure becomes
    {"error": message, "error_type": ...}. Runs in worker processes (local or dask)."""
    out: list[dict[str, Any]] = []
    for data, overrides, base_dir in batch:
        try:
            if overrides is not None:
                data = Scenario._wrap(data, base_dir).with_(dict(overrides)).to_bytes()
            if _echosim.scenario_workload_kind(data) == "serving":
                run = _echosim.run_serving(data, base_dir, "", False)
                out.append(_flatten_serving(json.loads(run.summary_json())))
            else:
                run = _echosim.run_training(data, False)
                out.append(_flatten(json.loads(run.summary_json())))
        except (ValueError, RuntimeError) as e:
            out.append({"error": str(e), "error_type": type(e).__name__})
    return out


def _is_options(v: Any) -> bool:
    return isinstance(v, (list, tuple, range, np.ndarray, pd.Series, pd.Index))


def expand_grid(grid: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The cross product of a grid, in order (the last key varies fastest).

    Values that are lists, tuples, ranges, numpy arrays or pandas Series are the options of
    their key; anything else (a string, a number) is held fixed.
    """
    keys = list(grid)
    options = [list(grid[k]) if _is_options(grid[k]) else [grid[k]] for k in keys]
    return [dict(zip(keys, combo)) for combo in itertools.product(*options)]


def _local_workers(processes: int | None) -> int:
    if processes is not None:
        if processes < 1:
            raise ValueError(f"sweep: processes must be at least 1, got {processes}")
        return processes
    return os.cpu_count() or 1


def _batches(items: list[_Item], workers: int) -> list[list[_Item]]:
    # About four batches per worker: balances load without per-task overhead.
    size = max(1, math.ceil(len(items) / (workers * 4)))
    return [items[i:i + size] for i in range(0, len(items), size)]


def _run_all(items: list[_Item], client: Any, processes: int | None) -> list[dict[str, Any]]:
    if not items:
        return []
    if client is not None:
        workers = max(1, sum(client.nthreads().values()))
        futures = client.map(_simulate_batch, _batches(items, workers), pure=False)
        return [row for batch in client.gather(futures) for row in batch]
    workers = min(_local_workers(processes), len(items))
    if workers == 1:
        return _simulate_batch(items)
    # fork where the platform has it: workers start in milliseconds and scripts need no
    # `if __name__ == "__main__"` guard (spawn re-imports the main module); the workers run
    # only the native core, which starts no threads of its own.
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        return [row for batch in pool.map(_simulate_batch, _batches(items, workers))
                for row in batch]


def sweep(
    scenarios_or_grid: Scenario | Mapping[str, Any] | Iterable[Scenario | Mapping[str, Any]],
    client: Any = None,
    *,
    base: Scenario | None = None,
    processes: int | None = None,
    errors: str = "record",
) -> pd.DataFrame:
    """Runs many simulations in parallel; returns one row per configuration.

    ``scenarios_or_grid`` is one of:

    - a grid, ``{"tp": [1, 2, 4], "pp": [4, 8], "model": "gpt3-175b", ...}``: the cross
      product of the list-valued keys (see :func:`expand_grid`);
    - a list of :class:`~echosim.Scenario` objects and/or dicts of overrides.

    Keys are :func:`echosim.train` keywords (``tp``, ``nic_gbps``; :func:`echosim.serve`
    keywords when ``base`` is a serving scenario) or dotted scenario fields
    (``"cluster.network.nic_gbps"``), applied to ``base`` (default: an empty scenario) as
    :meth:`Scenario.with_` does. Training and serving scenarios may be mixed.

    ``client``: a ``dask.distributed.Client`` to run on its cluster; ``None`` runs on local
    processes (``processes`` of them, default one per core; 1 runs in this process).

    The DataFrame holds the configuration's keys (grid or dict inputs), then the CLI's
    summary fields (training: ``step_time_s``, ``mfu``, ``peak_memory_bytes``,
    ``fits_in_memory``, the breakdown's ``compute_s``, ...; serving: ``ttft_s_p99``,
    ``tpot_s_p50``, ``slo_attainment``, ``goodput_requests_per_s``, ``cost_usd``, ...), and
    ``error`` (None, or the CLI's message for a
    configuration that could not be simulated). ``errors="raise"`` raises ValueError for
    the first failing configuration instead.
    """
    if errors not in ("record", "raise"):
        raise ValueError(f"sweep: errors must be 'record' or 'raise', got {errors!r}")
    if isinstance(scenarios_or_grid, Scenario):
        configs: list[Scenario | Mapping[str, Any]] = [scenarios_or_grid]
    elif isinstance(scenarios_or_grid, Mapping):
        configs = list(expand_grid(scenarios_or_grid))
    else:
        configs = list(scenarios_or_grid)
    start = base if base is not None else Scenario()

    params: list[dict[str, Any]] = []
    jobs: list[_Item] = []
    base_bytes = start.to_bytes()
    for c in configs:
        if isinstance(c, Scenario):
            params.append({})
            jobs.append((c.to_bytes(), None, c._base_dir))
        elif isinstance(c, Mapping):
            params.append(dict(c))
            jobs.append((base_bytes, tuple((str(k), v) for k, v in c.items()), start._base_dir))
        else:
            raise ValueError(f"sweep: each item must be an echosim.Scenario or a dict of "
                             f"overrides, got {type(c).__name__}")

    out: list[dict[str, Any]] = []
    for p, row in zip(params, _run_all(jobs, client, processes)):
        if errors == "raise" and "error" in row:
            raise ValueError(row["error"])
        out.append({**p, **row})
    df = pd.DataFrame(out)
    if "error" not in df.columns:
        df["error"] = None
    else:
        df["error"] = df["error"].astype(object).where(df["error"].notna(), None)
    df = df.drop(columns=["error_type"], errors="ignore")
    return df
