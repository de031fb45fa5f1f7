#!/usr/bin/env python3
"""Overhead of the Python API over the CLI, and CPU use of a local sweep.

usage: PYTHONPATH=build/python python3 bench/python_overhead.py [--cli build/bin/echosim]
       [--repeats 7] [--sweep 1000]

1. The same scenario (GPT-3 175B on 1,024 H100, scenarios/gpt3-175b-h100-1024.yaml) run
   `repeats` times by `echosim run --json` (a process each, wall clock of the process) and by
   echosim.train(...) with the same flags in one Python process (wall clock of the call,
   timeline kept as the CLI keeps it). Medians are compared; the summary's sim_wall_s
   (time inside the C++ simulation) is shown for both.
2. A local sweep of `sweep` configurations (a small Llama-3 8B job, bandwidth x plan grid):
   wall time, CPU time of the worker processes, and cores used = CPU / wall.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import echosim

ROOT = Path(__file__).resolve().parents[1]
FLAGS = dict(model="gpt3-175b", gpu="h100-sxm", gpus=1024, tp=8, pp=8, vpp=3, micro_batch=1,
             global_batch=1536, seq_len=2048, sequence_parallel=True, recompute="selective",
             zero=1, nic_gbps=400)


def cli_args():
    args = ["train"]
    for k, v in FLAGS.items():
        args += ["--" + k.replace("_", "-")] + ([] if v is True else [str(v)])
    return args + ["--json"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", default=str(ROOT / "build" / "bin" / "echosim"))
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--sweep", type=int, default=1000)
    a = ap.parse_args()

    # Warm both paths once (page cache, lazy imports).
    subprocess.run([a.cli, *cli_args()], check=True, capture_output=True)
    echosim.train(**FLAGS)

    cli_wall, cli_sim, py_wall, py_sim = [], [], [], []
    for _ in range(a.repeats):
        t = time.perf_counter()
        out = subprocess.run([a.cli, *cli_args()], check=True, capture_output=True, text=True)
        cli_wall.append(time.perf_counter() - t)
        cli_summary = json.loads(out.stdout)
        cli_sim.append(cli_summary["sim_wall_s"])
        t = time.perf_counter()
        r = echosim.train(**FLAGS)
        s = r.summary
        py_wall.append(time.perf_counter() - t)
        py_sim.append(s["sim_wall_s"])
    assert s["step_time_s"] == cli_summary["step_time_s"]
    med = statistics.median
    print(f"scenario: GPT-3 175B, 1024 x H100 (step {s['step_time_s']:.4f} s, "
          f"{s['events']} events), {a.repeats} repeats, medians")
    print(f"  CLI process wall   {med(cli_wall) * 1e3:8.1f} ms   (sim_wall_s {med(cli_sim) * 1e3:.1f} ms)")
    print(f"  echosim.train()    {med(py_wall) * 1e3:8.1f} ms   (sim_wall_s {med(py_sim) * 1e3:.1f} ms)")
    print(f"  Python / CLI       {100 * (med(py_wall) / med(cli_wall) - 1):+8.1f} %")
    print(f"  Python call - sim  {1e3 * (med(py_wall) - med(py_sim)):8.2f} ms of binding overhead")

    if a.sweep:
        import itertools
        combos = list(itertools.islice(itertools.product(
            [100 + 10 * i for i in range(100)], [(1, 1), (2, 1), (2, 2), (4, 2), (8, 1),
                                                 (4, 1), (1, 2), (2, 4), (1, 4), (8, 2)]),
            a.sweep))
        configs = [dict(model="llama3-8b", gpu="h100-sxm", gpus=64, global_batch=128,
                        seq_len=4096, zero=1, nic_gbps=nic, tp=tp, pp=pp,
                        sequence_parallel=tp > 1) for nic, (tp, pp) in combos]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        df = echosim.sweep(configs)
        wall = time.perf_counter() - t
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        print(f"local sweep: {len(df)} configurations ({df['error'].isna().sum()} simulated) in "
              f"{wall:.2f} s wall, {cpu:.2f} s CPU in {os.cpu_count()} worker processes: "
              f"{cpu / wall:.2f} cores busy")
    return 0


if __name__ == "__main__":
    sys.exit(main())
