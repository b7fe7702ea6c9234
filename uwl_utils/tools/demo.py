"""``make demo``: run the numbered notebooks headlessly on the embedded default and say where the results are.

Executed copies go to ``runs/notebooks/`` (the sources stay clean); figures and tables land in ``figures/``.
Pass notebook names (``python -m uwl_utils.tools.demo 00_quickstart``) to run a subset, ``-p NAME VALUE`` to
override a parameter in every notebook.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

import papermill as pm
import yaml

from uwl_utils.models import REPO_ROOT as ROOT
from uwl_utils.notebook import NOTEBOOKS

RUNS = ROOT / "runs" / "notebooks"
FIGURES = ROOT / "figures"

__all__ = ["notebook_names", "run_notebook", "main"]


def notebook_names() -> list[str]:
    """The numbered notebooks, in order."""
    return sorted(p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def run_notebook(name: str, parameters: dict | None = None, out_dir: Path = RUNS, progress: bool = False) -> Path:
    """Execute ``notebooks/<name>.ipynb`` with papermill (working directory ``notebooks/``); returns the copy.

    ``progress`` shows papermill's bar (cell n of m) on stderr."""
    out_dir.mkdir(parents=True, exist_ok=True)
    output = out_dir / f"{name}.ipynb"
    pm.execute_notebook(
        NOTEBOOKS / f"{name}.ipynb", output, parameters=parameters or {}, cwd=str(NOTEBOOKS), progress_bar=progress
    )
    return output


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m uwl_utils.tools.demo", description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", help=f"default: all of {notebook_names()}")
    parser.add_argument("-p", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="a notebook parameter (YAML value), e.g. -p N_IMAGES 32")  # fmt: skip
    args = parser.parse_args(argv)
    names = args.notebooks or notebook_names()
    unknown = sorted(set(names) - set(notebook_names()))
    if unknown:
        parser.error(f"unknown notebook(s) {unknown}; known: {notebook_names()}")
    parameters = {k: yaml.safe_load(v) for k, v in args.p}
    start = time.perf_counter()
    for name in names:
        t0 = time.perf_counter()
        print(f"running {name} ({names.index(name) + 1} of {len(names)}) ...", flush=True)
        output = run_notebook(name, parameters, progress=True)
        print(f"  done in {time.perf_counter() - t0:.0f} s -> {output.relative_to(ROOT)}", flush=True)
    made = sorted(p.relative_to(ROOT) for p in FIGURES.glob("*") if p.suffix in (".png", ".pdf", ".csv"))
    print(f"\n{len(names)} notebook(s) in {time.perf_counter() - start:.0f} s.")
    print(f"Executed notebooks: {RUNS.relative_to(ROOT)}/")
    print(f"Figures and tables ({FIGURES.relative_to(ROOT)}/):")
    for path in made:
        print(f"  {path}")


if __name__ == "__main__":
    main()
