"""Execute a notebook as Jupyter does (the kernel's working folder is the notebook's own) and
print, as JSON, what each nbgrader test cell showed: `python run_notebook.py NOTEBOOK`.

Run by tests/test_bundle.py with the interpreter of a fresh virtualenv, so the kernel sees
only what is installed there. Each entry: grade_id, the cell's points, its stdout, its
execute_result (partial credit) and its error (`ename: evalue`), if any; plus the setup cell's.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def cell_report(cell) -> dict:
    outputs = cell.get("outputs", [])
    errors = [f"{o['ename']}: {o['evalue']}" for o in outputs if o["output_type"] == "error"]
    results = [o["data"].get("text/plain", "") for o in outputs if o["output_type"] == "execute_result"]
    meta = cell["metadata"].get("nbgrader", {})
    return {
        "grade_id": meta.get("grade_id", ""),
        "points": meta.get("points", 0),
        "stdout": "".join(o.get("text", "") for o in outputs if o.get("name") == "stdout"),
        "stderr": "".join(o.get("text", "") for o in outputs if o.get("name") == "stderr"),
        "result": results[0] if results else None,
        "error": errors[0] if errors else None,
    }


def main(path: str) -> None:
    notebook = nbformat.read(path, as_version=4)
    folder = str(Path(path).resolve().parent)
    NotebookClient(notebook, timeout=600, allow_errors=True, resources={"metadata": {"path": folder}}).execute()
    graded = [
        cell_report(c)
        for c in notebook.cells
        if c.cell_type == "code" and c["metadata"].get("nbgrader", {}).get("grade")
    ]
    setup = [cell_report(c) for c in notebook.cells if c["metadata"].get("autograder_install")]
    print(json.dumps({"tests": graded, "setup": setup}))


if __name__ == "__main__":
    main(sys.argv[1])
