#!/usr/bin/env python3
"""Executes every notebook under a folder top to bottom (nbclient); fails if a cell raises.

usage: run_notebooks.py NOTEBOOK_DIR [--timeout SECONDS_PER_CELL]
Run by ctest as `notebooks_test` with PYTHONPATH=build/python. Notebooks run in their
own folder (so relative paths resolve as when a person opens them) and are not modified.
"""

import argparse
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("folder", type=Path)
    ap.add_argument("--timeout", type=int, default=300)
    args = ap.parse_args()
    notebooks = sorted(args.folder.glob("*.ipynb"))
    if not notebooks:
        print(f"no notebooks in {args.folder}")
        return 1
    failed = 0
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        start = time.monotonic()
        client = NotebookClient(nb, timeout=args.timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent)}})
        try:
            client.execute()
            status = "ok"
        except CellExecutionError as e:
            failed += 1
            status = "FAILED\n" + str(e)
        print(f"{path.name}: {status} ({time.monotonic() - start:.1f} s)", flush=True)
    print(f"{len(notebooks) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
