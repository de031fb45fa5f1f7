"""Shared fixtures of the Python test suite (run by ctest as `python_test`).

The suite uses only the public `echosim` API. ctest sets PYTHONPATH to build/python,
ECHOSIM (the CLI binary, for parity checks) and ECHOSIM_SOURCE_DIR.
"""

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(os.environ.get("ECHOSIM_SOURCE_DIR", Path(__file__).resolve().parents[2]))


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def cli() -> str:
    path = os.environ.get("ECHOSIM") or shutil.which("echosim")
    if not path:
        candidate = REPO / "build" / "bin" / "echosim"
        path = str(candidate) if candidate.exists() else None
    if not path:
        pytest.skip("the echosim CLI is not built (set ECHOSIM)")
    return path


# A small job that simulates in milliseconds.
SMALL = dict(model="llama3-8b", gpu="h100-sxm", gpus=16, tp=2, pp=2, global_batch=32,
             seq_len=4096, zero=1, sequence_parallel=True, recompute="selective")
