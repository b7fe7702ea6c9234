"""``make notebooks``: re-execute the numbered notebooks in place, so that the repository stores their outputs.

Each notebook runs as ``make demo`` runs it (:func:`uwl_utils.tools.demo.run_notebook`: papermill, the committed
defaults, working directory ``notebooks/``, no progress bars), with its result rows in a fresh temporary folder
(``UWL_RESULTS_DIR``), so that what is stored was computed now and not read back from ``runs/results``. The
executed copy is cleaned (:func:`clean`: papermill's metadata, execution timestamps, widget state and widget views
go) and checked (:func:`problems`: no error, no machine path) before it replaces the source; a failing notebook
leaves its source as it was. Figures and tables land in ``figures/``; when the claims notebook ran, the README's
claims section is regenerated. ``pytest --nbval`` (``make test``) then compares the stored outputs with a rerun.
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import nbformat

from uwl_utils.notebook import ENV_RESULTS_DIR, NOTEBOOKS
from uwl_utils.tools.demo import CLAIMS_NOTEBOOK, notebook_names, run_notebook, update_readme_from

__all__ = ["clean", "problems", "store", "main", "MACHINE_PATHS"]

MACHINE_PATHS = ("/work/", "/tmp/", "/home/", "/root/")
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"  # refers to widget state, which is not stored
_MACHINE_PATH = re.compile("|".join(re.escape(p) for p in MACHINE_PATHS))


def clean(nb: dict[str, Any]) -> dict[str, Any]:
    """``nb`` without what must not be stored: papermill's metadata (paths, times), widget state, each cell's
    execution timestamps, papermill's empty tag lists, and widget views (their text form stays). In place."""
    for key in ("papermill", "widgets"):
        nb["metadata"].pop(key, None)
    for cell in nb["cells"]:
        for key in ("papermill", "execution"):
            cell["metadata"].pop(key, None)
        if cell["metadata"].get("tags") == []:
            del cell["metadata"]["tags"]
        for output in cell.get("outputs", []):
            output.get("data", {}).pop(WIDGET_VIEW, None)
    return nb


def problems(nb: dict[str, Any]) -> list[str]:
    """What a stored notebook must not hold, one line each: error outputs, machine paths in outputs, widget state,
    papermill or execution-time metadata, widget views. Empty for a clean notebook."""
    found = [f"notebook metadata {key!r}" for key in ("papermill", "widgets") if key in nb["metadata"]]
    for number, cell in enumerate(nb["cells"]):
        where = f"cell {number}"
        found += [f"{where}: metadata {key!r}" for key in ("papermill", "execution") if key in cell["metadata"]]
        for output in cell.get("outputs", []):
            if output["output_type"] == "error":
                found.append(f"{where}: error output {output['ename']}: {output['evalue']}")
            if WIDGET_VIEW in output.get("data", {}):
                found.append(f"{where}: a widget view (its state is not stored)")
            path = _MACHINE_PATH.search(_text_of(output))
            if path:
                found.append(f"{where}: a machine path ({path.group()}…) in an output")
    return found


def _text_of(output: dict[str, Any]) -> str:
    """An output's text (streams, error, every non-image MIME type): where a path could be printed."""
    parts = [output.get("text", ""), output.get("evalue", ""), *output.get("traceback", [])]
    parts += [json.dumps(v) for k, v in output.get("data", {}).items() if not k.startswith("image/")]
    return "\n".join(parts)


def store(name: str) -> Path:
    """Execute ``notebooks/<name>.ipynb`` with its committed defaults and write it back with its outputs, cleaned;
    returns its path. Raises ``RuntimeError`` listing the :func:`problems` (the source then stays untouched)."""
    source = NOTEBOOKS / f"{name}.ipynb"
    metadata = nbformat.read(source, as_version=4)["metadata"]
    with tempfile.TemporaryDirectory(prefix="uwl-notebooks-") as tmp:
        executed = run_notebook(name, out_dir=Path(tmp), progress=True, env={ENV_RESULTS_DIR: f"{tmp}/results"})
        nb = clean(nbformat.read(executed, as_version=4))
    nb["metadata"] = metadata  # the source's (kernel, language), not the machine's
    found = problems(nb)
    if found:
        raise RuntimeError(f"{name} not stored:\n  " + "\n  ".join(found))
    source.write_text(nbformat.writes(nb) + "\n")
    return source


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m uwl_utils.tools.notebooks", description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", help=f"default: all of {notebook_names()}")
    args = parser.parse_args(argv)
    names = args.notebooks or notebook_names()
    unknown = sorted(set(names) - set(notebook_names()))
    if unknown:
        parser.error(f"unknown notebook(s) {unknown}; known: {notebook_names()}")
    for i, name in enumerate(names, 1):
        print(f"storing {name} ({i} of {len(names)}) ...", flush=True)
        path = store(name)
        print(f"  {path.name}: {path.stat().st_size / 1e6:.2f} MB", flush=True)
    total = sum((NOTEBOOKS / f"{n}.ipynb").stat().st_size for n in notebook_names())
    print(f"all notebooks together: {total / 1e6:.2f} MB")
    if CLAIMS_NOTEBOOK in names:
        update_readme_from()


if __name__ == "__main__":
    main()
