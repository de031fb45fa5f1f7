"""Predicted against measured: the published-data validation from Python.

:func:`validate` runs what ``echosim validate`` runs (every row of the measured training
tables rebuilt and simulated, each source predicted with constants fitted on the others) and
returns its report as pandas tables::

    v = echosim.validate()
    v.summaries                     # median / mean / worst absolute error per source, and
                                    # the rows worse than the 15% row target
    v.rows.query("gpu == 'gb200'")  # one row per table row, skipped ones with the reason
    v.whatif_summary                # GPU / precision / plan comparisons, ratio errors
    v.scenario(253).run().timeline  # a row as a scenario: where its predicted time goes
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from . import _echosim
from .scenario import Scenario

__all__ = ["ValidationReport", "validate"]

_DEFAULT_DATA_DIRS = ("../shared/data/measured", "shared/data/measured")


class ValidationReport:
    """The report of one validation run (the JSON of ``echosim validate --json``, as tables).

    ``rows``: one row per table row (``source``, ``line``, ``label``, ``config``,
    ``measured_step_s``, ``predicted_step_s``, signed ``error`` with the held-out constants,
    ``error_shipped_constants``, ``skipped`` / ``skip_reason``, ``assumptions`` ...).
    ``summaries``: per source, over all sources, dense and MoE apart. ``whatif`` /
    ``whatif_summary``: rows of one campaign that differ in one choice, and how well the
    ratio of their times is predicted. ``repeated``: configurations measured several times.
    ``constants``: the shipped and refitted calibration constants.
    """

    def __init__(self, report: dict[str, Any], scenarios_dir: tempfile.TemporaryDirectory | None):
        self.json = report
        self.rows = pd.DataFrame(report["rows"])
        self.summaries = pd.DataFrame(report["summaries"])
        self.whatif = pd.DataFrame(report["whatif"]["pairs"])
        self.whatif_summary = pd.DataFrame(report["whatif"]["summaries"])
        self.repeated = pd.DataFrame(report["repeated_configurations"])
        self.constants = report["constants"]
        self._scenarios = scenarios_dir

    def row(self, line: int, source: str = "nemo_megatron_bridge") -> pd.Series:
        """The row at ``line`` of ``source``'s table."""
        hit = self.rows[(self.rows["source"] == source) & (self.rows["line"] == line)]
        if hit.empty:
            sources = sorted(self.rows["source"].unique())
            raise ValueError(f"validation: no row at line {line} of source '{source}' "
                             f"(sources: {', '.join(sources)})")
        return hit.iloc[0]

    def scenario(self, line: int, source: str = "nemo_megatron_bridge") -> Scenario:
        """The simulated row at ``line`` of ``source`` as a scenario (shipped constants); its
        ``run()`` reproduces ``predicted_step_s_shipped_constants`` and draws the timeline."""
        r = self.row(line, source)
        if r["skipped"]:
            raise ValueError(f"validation: {source} line {line} ({r['label']}) is not simulated: "
                             f"{r['skip_reason']}")
        if self._scenarios is None:
            raise ValueError("validation: this report was made without scenarios "
                             "(validate(scenarios=True))")
        return Scenario.load(Path(self._scenarios.name) / f"{source}-line{line}.yaml")

    def __repr__(self) -> str:
        held = self.summaries[(self.summaries["source"] == "all")
                              & self.summaries["constants"].str.startswith("held out")]
        if held.empty:
            return f"ValidationReport({len(self.rows)} rows)"
        s = held.iloc[0]
        return (f"ValidationReport({s['rows']} rows, {s['skipped']} skipped; held out over all "
                f"sources: median {100 * s['median_abs_error']:.1f}%, "
                f"worst {100 * s['worst_abs_error']:.1f}%, "
                f"{s['rows_beyond_target']} rows worse than "
                f"{100 * s['row_error_target']:.0f}%)")


def validate(data_dir: str | Path | None = None, threads: int = 0,
             scenarios: bool = True) -> ValidationReport:
    """Runs the published-data validation (``echosim validate``) and returns its report.

    ``data_dir`` holds ``training/*.csv`` (default: ``../shared/data/measured`` or
    ``shared/data/measured`` from the working directory); ``threads`` 0 uses every core;
    ``scenarios`` keeps each simulated row as a scenario for :meth:`ValidationReport.scenario`.
    """
    if data_dir is None:
        for candidate in _DEFAULT_DATA_DIRS:
            if (Path(candidate) / "training").is_dir():
                data_dir = candidate
                break
        else:
            raise ValueError("validate: no measured data found at ../shared/data/measured; "
                             "pass data_dir")
    if isinstance(threads, bool) or not isinstance(threads, int) or not 0 <= threads <= 1024:
        raise ValueError(f"validate: threads must be an integer in [0, 1024], got {threads!r}")
    tmp = tempfile.TemporaryDirectory(prefix="echosim-validation-") if scenarios else None
    text = _echosim.validate_published(str(data_dir), threads, tmp.name if tmp else "")
    return ValidationReport(json.loads(text), tmp)
