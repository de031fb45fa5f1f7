"""echosim: predict distributed LLM training steps and serving workloads from Python.

The C++ discrete-event simulator does the work; this package is a thin layer over it::

    import echosim
    r = echosim.train(model="gpt3-175b", gpu="h100-sxm", gpus=1024, tp=8, pp=8, vpp=3,
                      global_batch=1536, sequence_parallel=True, recompute="selective", zero=1)
    r.summary["step_time_s"], r.breakdown, r.timeline.head()

    sc = echosim.Scenario.load("scenarios/gpt3-175b-h100-1024.yaml")
    df = echosim.sweep({"cluster.network.nic_gbps": [200, 400, 800]}, base=sc)
    best = echosim.search_training_plans("gpt3-175b", "h100-sxm", 1024, 1536, top=5)
    s = echosim.serve(model="llama3-8b", gpu="h100-sxm", scheduler="sarathi",
                      workload="poisson:qps=8,input=fixed:512,output=fixed:128", duration_s=60)
    s.summary["ttft_s"], s.requests.head()
    v = echosim.validate()          # predicted vs measured on the published tables
    v.summaries, v.rows.query("abs(error) > 0.15"), v.scenario(253).run()

Bad input raises ValueError with the same message as the ``echosim`` command line.
"""

from ._echosim import __doc__ as _native_doc  # noqa: F401  (fails early if the build is missing)
from .presets import gpus, models, schedules
from .scenario import Scenario
from .search import search_training_plans
from .serving import ServingResult, serve, serve_scenario
from .sweep import expand_grid, sweep
from .training import TraceResult, TrainingResult, run, run_trace, train, train_scenario
from .validation import ValidationReport, validate

__version__ = "0.1.0"

__all__ = [
    "Scenario",
    "TraceResult",
    "TrainingResult",
    "expand_grid",
    "gpus",
    "models",
    "run",
    "run_trace",
    "schedules",
    "search_training_plans",
    "serve",
    "serve_scenario",
    "ServingResult",
    "sweep",
    "train",
    "train_scenario",
    "validate",
    "ValidationReport",
]
