#!/usr/bin/env python3
"""Re-runs the choice of the Blackwell presets' memory_efficiency and sustained_tensor_rate.

The two constants of each Blackwell silicon (GB200 / B200, and GB300 / B300) are chosen
together on the published bf16 / fp8 rows of those GPUs (hardware/gpus/gb200.yaml and
gb300.yaml say so and give the figures). This script repeats that choice: for every grid point
it writes the values into the four presets, rebuilds `echosim` (the presets are compiled in),
runs `echosim validate --published --json`, and at the end restores the presets as they were.

It then prints, per silicon, the median absolute log error of its rows at every grid point
and the point with the least, and the same choice held out by release: each release's rows
predicted with the point chosen on the other releases' rows, and the overall median with the
Blackwell rows so predicted.

A full grid is 4 x 5 validations, about 15 minutes on two cores; it is a developer's command,
not a test. If it is killed, `git checkout hardware/gpus` restores the presets. Run from the
repository root:

  tools/refit_blackwell.py --build build --out /tmp/refit
"""
import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys

SILICONS = {
    # name: (presets, sustained tensor rates on the grid)
    "blackwell": (("gb200", "b200"), (0.80, 0.81, 0.82, 0.83, 0.84)),
    "blackwell_ultra": (("gb300", "b300"), (0.94, 0.95, 0.96, 0.97, 0.98)),
}


def set_field(text, field, value):
    new, n = re.subn(r"(?m)^%s: [0-9.e]+" % re.escape(field), "%s: %s" % (field, value), text)
    if n != 1:
        sys.exit("refit_blackwell: field '%s' not found once in a preset" % field)
    return new


def log_error(row):
    return abs(math.log(row["predicted_step_s"] / row["measured_step_s"]))


def fitted_rows(report, presets):
    """The rows the constants are chosen on: simulated, on these GPUs, bf16 or fp8."""
    return {(r["source"], r["line"]): r for r in report["rows"]
            if not r["skipped"] and r["gpu"] in presets and "NVFP4" not in r["label"]}


def release(row):
    m = re.search(r"(\d\d\.\d\d(?:\.\d+)?)\s*$", row["label"])
    return m.group(1) if m else row["label"].rsplit(" ", 1)[-1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build", help="the CMake build directory (default: build)")
    ap.add_argument("--memory", default="0.60,0.65,0.70,0.75",
                    help="memory_efficiency values, comma-separated")
    ap.add_argument("--rates", type=int, default=5,
                    help="how many sustained_tensor_rate values of each silicon's grid (from its first)")
    ap.add_argument("--out", default="refit", help="directory for the validation reports")
    args = ap.parse_args()
    memories = [float(x) for x in args.memory.split(",") if x]
    if not memories or any(not 0 < m <= 1 for m in memories):
        sys.exit("refit_blackwell: --memory: values in (0, 1], comma-separated; got '%s'" % args.memory)
    if not 1 <= args.rates <= 5:
        sys.exit("refit_blackwell: --rates: 1 to 5; got %d" % args.rates)
    echosim = os.path.join(args.build, "bin", "echosim")
    os.makedirs(args.out, exist_ok=True)
    paths = {g: os.path.join("hardware", "gpus", g + ".yaml") for s in SILICONS.values() for g in s[0]}
    original = {}
    for g, p in paths.items():
        with open(p) as f:
            original[g] = f.read()
    reports = {}  # (memory_efficiency, rate index) -> report
    try:
        for m in memories:
            for k in range(args.rates):
                for presets, rates in SILICONS.values():
                    for g in presets:
                        text = set_field(original[g], "memory_efficiency", m)
                        text = set_field(text, "sustained_tensor_rate", rates[k])
                        with open(paths[g], "w") as f:
                            f.write(text)
                subprocess.run(["ninja", "-C", args.build, "echosim"], check=True,
                               stdout=subprocess.DEVNULL)
                out = subprocess.run([echosim, "validate", "--published", "--json"], check=True,
                                     capture_output=True, text=True).stdout
                with open(os.path.join(args.out, "m%.2f_k%d.json" % (m, k)), "w") as f:
                    f.write(out)
                reports[(m, k)] = json.loads(out)
                print("memory_efficiency %.2f, rate %d: done" % (m, k), file=sys.stderr)
    finally:
        for g, p in paths.items():
            with open(p, "w") as f:
                f.write(original[g])
        subprocess.run(["ninja", "-C", args.build, "echosim"], stdout=subprocess.DEVNULL)
    # The presets as shipped, for every row the held-out choice below does not replace.
    shipped = json.loads(subprocess.run([echosim, "validate", "--published", "--json"], check=True,
                                        capture_output=True, text=True).stdout)

    chosen = {}  # (source, line) -> abs error when held out by release
    for name, (presets, rates) in SILICONS.items():
        rows = {point: fitted_rows(rep, presets) for point, rep in reports.items()}
        print("%s (%s): median absolute log error over %d rows" %
              (name, " / ".join(presets), len(next(iter(rows.values())))))
        print("  memory_efficiency " + " ".join("%9.2f" % rates[k] for k in range(args.rates)))
        for m in memories:
            cells = [statistics.median(log_error(r) for r in rows[(m, k)].values())
                     for k in range(args.rates)]
            print("  %17.2f " % m + " ".join("%8.2f%%" % (100 * c) for c in cells))
        best = min(rows, key=lambda p: statistics.median(log_error(r) for r in rows[p].values()))
        print("  least: memory_efficiency %.2f, sustained_tensor_rate %.2f" % (best[0], rates[best[1]]))
        keys = list(rows[best])
        for rel in sorted({release(rows[best][key]) for key in keys}):
            train = [key for key in keys if release(rows[best][key]) != rel]
            point = min(rows, key=lambda p: statistics.median(log_error(rows[p][key]) for key in train))
            for key in keys:
                if release(rows[best][key]) == rel:
                    chosen[key] = abs(rows[point][key]["error"])
        held = [v for key, v in chosen.items() if key in rows[best]]
        print("  held out by release: median absolute error %.2f%% over %d rows" %
              (100 * statistics.median(held), len(held)))
    # Overall: every other row as the shipped presets predict it.
    rows = [r for r in shipped["rows"] if not r["skipped"]]
    shipped_errors = [abs(r["error"]) for r in rows]
    print("all sources, shipped presets: median %.2f%%, %d of %d rows within 5%%" %
          (100 * statistics.median(shipped_errors), sum(e <= 0.05 for e in shipped_errors), len(rows)))
    errors = [chosen.get((r["source"], r["line"]), abs(r["error"])) for r in rows]
    print("all sources, the Blackwell bf16 / fp8 rows held out by release: median %.2f%%, "
          "%d of %d rows within 5%%" % (100 * statistics.median(errors), sum(e <= 0.05 for e in errors),
                                        len(errors)))


if __name__ == "__main__":
    main()
