"""echosim's Kineto-layout timelines read by HolisticTraceAnalysis (HTA).

Simulates a small training step with `echosim train --kineto DIR`, and the same step
exported to Chakra and simulated again with `echosim run --trace EXPORT --kineto DIR2`,
loads both folders with HTA and checks that HTA's temporal breakdown and
communication/computation overlap agree with echosim's own summary:

  HTA compute_time      = echosim compute_s + other_s  (HTA counts every non-NCCL kernel,
                          the optimizer step included, as compute; the step has no host
                          overhead and no host launch model, so other_s is the optimizer
                          alone)
  HTA non_compute_time  = echosim exposed_comm_s       (NCCL kernels with no compute beside)
  HTA idle_time         = echosim pipeline_bubble_s    (no kernel running)
  HTA overlap ratio     = 1 - exposed_comm_s / (NCCL busy time)

Both sides measure the same simulated spans, so they agree to float rounding: the
tolerance is 1e-6 of the step time (HTA's own rounding of timestamps to whole
microseconds is turned off with HTA_DISABLE_NS_ROUNDING=1; with it on, each of the
thousands of kernels would lose up to 2 us). The overlap is compared to 0.01
percentage points plus that, as HTA reports it rounded to two decimals.

Usage: kineto_hta_test.py ECHOSIM WORK_DIR. Exits 77 (skipped) when hta cannot be imported.
"""

import json
import os
import shutil
import subprocess
import sys

os.environ["HTA_DISABLE_NS_ROUNDING"] = "1"
try:
    import logging

    logging.disable(logging.WARNING)
    from hta.trace_analysis import TraceAnalysis
except ImportError as e:  # optional dependency (tools/setup.sh installs it)
    print(f"SKIP: HolisticTraceAnalysis (import hta) is not installed: {e}")
    sys.exit(77)

JOB = ["--model", "llama3-8b", "--gpu", "h100-sxm", "--gpus", "16", "--tp", "2", "--pp", "2",
       "--global-batch", "16", "--seq-len", "2048", "--zero", "1", "--sequence-parallel",
       "--host-overhead-ms", "0", "--host-launch-us", "0"]


def run(cli, *args):
    out = subprocess.run([cli, *args, "--json"], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"FAIL: echosim {' '.join(args)} exited {out.returncode}: {out.stderr}")
    return json.loads(out.stdout)


def nccl_busy_us(path):
    """Union of the NCCL kernel intervals in a Kineto file, microseconds."""
    with open(path) as f:
        events = json.load(f)["traceEvents"]
    iv = sorted((e["ts"], e["ts"] + e["dur"]) for e in events
                if e.get("cat") == "kernel" and e["name"].startswith("nccl"))
    total, end = 0.0, None
    start = None
    for a, b in iv:
        if end is None or a > end:
            if end is not None:
                total += end - start
            start, end = a, b
        else:
            end = max(end, b)
    if end is not None:
        total += end - start
    return total


def hta(folder):
    t = TraceAnalysis(trace_dir=folder)
    tb = t.get_temporal_breakdown(visualize=False).set_index("rank")
    ov = t.get_comm_comp_overlap(visualize=False).set_index("rank")
    return tb, ov


failures = []


def check(what, got, want, tol):
    ok = abs(got - want) <= tol
    print(f"{'ok  ' if ok else 'FAIL'} {what}: HTA {got:.3f}, echosim {want:.3f} (tolerance {tol:.3g})")
    if not ok:
        failures.append(what)


def main():
    cli, work = sys.argv[1], sys.argv[2]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    train_dir, export_dir, trace_dir = (os.path.join(work, d) for d in ("train", "export", "trace"))

    # 1. The training simulator's timeline.
    s = run(cli, "train", *JOB, "--kineto", train_dir, "--export-chakra", export_dir)
    b = s["breakdown"]
    step_us = s["step_time_s"] * 1e6
    tol = 1e-6 * step_us
    tb, ov = hta(train_dir)
    r = b["rank"]
    print(f"training step {step_us:.1f} us, breakdown of rank {r}")
    check(f"rank {r} compute_time(us)", tb.loc[r, "compute_time(us)"], (b["compute_s"] + b["other_s"]) * 1e6, tol)
    check(f"rank {r} non_compute_time(us)", tb.loc[r, "non_compute_time(us)"], b["exposed_comm_s"] * 1e6, tol)
    check(f"rank {r} idle_time(us)", tb.loc[r, "idle_time(us)"], b["pipeline_bubble_s"] * 1e6, tol)
    check(f"rank {r} kernel_time(us)", tb.loc[r, "kernel_time(us)"], step_us, tol)
    comm = nccl_busy_us(os.path.join(train_dir, f"rank{r}.json"))
    check(f"rank {r} comp_comm_overlap_pctg", ov.loc[r, "comp_comm_overlap_pctg"],
          100 * (1 - b["exposed_comm_s"] * 1e6 / comm), 0.01 + 100 * tol / comm)

    # 2. The same step exported to Chakra and simulated as a trace (every simulated rank).
    t = run(cli, "run", "--trace", export_dir, "--set", "cluster.gpu=h100-sxm", "--kineto", trace_dir)
    tb, ov = hta(trace_dir)
    for x in t["ranks"]:
        r = x["rank"]
        check(f"trace rank {r} compute_time(us)", tb.loc[r, "compute_time(us)"], x["compute_s"] * 1e6, tol)
        check(f"trace rank {r} non_compute_time(us)", tb.loc[r, "non_compute_time(us)"],
              x["exposed_comm_s"] * 1e6, tol)
        comm = nccl_busy_us(os.path.join(trace_dir, f"rank{r}.json"))
        check(f"trace rank {r} comp_comm_overlap_pctg", ov.loc[r, "comp_comm_overlap_pctg"],
              100 * (1 - x["exposed_comm_s"] * 1e6 / comm), 0.01 + 100 * tol / comm)
    slowest = t["slowest_rank"]
    x = next(x for x in t["ranks"] if x["rank"] == slowest)
    check(f"trace rank {slowest} idle_time(us)", tb.loc[slowest, "idle_time(us)"],
          (x["idle_s"] + x["host_s"]) * 1e6, tol)

    if failures:
        sys.exit(f"FAIL: {len(failures)} check(s): {', '.join(failures)}")
    print("PASS")


if __name__ == "__main__":
    main()
