"""nbval over the notebooks (``make test``): each notebook's kernel starts with its outputs redirected.

The kernel inherits the environment at its start: ``UWL_OUT_DIR`` and ``UWL_RESULTS_DIR`` point into one fresh
temporary folder for the whole session (the rerun neither writes over ``figures/`` nor reads back result rows
from ``runs/results``, and the claims notebook finds the claim rows the others wrote in this session), and
``UWL_PROGRESS=0`` keeps progress bars out of the outputs. The test process's own environment is left as it was.
"""

from __future__ import annotations

import shutil
import tempfile

import pytest

from uwl_utils.experiment import ENV_PROGRESS
from uwl_utils.notebook import ENV_OUT_DIR, ENV_RESULTS_DIR
from uwl_utils.tools.demo import environment

_session_folder: list[str] = []  # made on first use, removed at the end of the session


def _kernel_environment() -> dict[str, str]:
    if not _session_folder:
        _session_folder.append(tempfile.mkdtemp(prefix="uwl-nbval-"))
    folder = _session_folder[0]
    return {ENV_OUT_DIR: f"{folder}/figures", ENV_RESULTS_DIR: f"{folder}/results", ENV_PROGRESS: "0"}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    """Around a notebook cell's setup (the first one starts the notebook's kernel)."""
    with environment(_kernel_environment()):
        yield


def pytest_sessionfinish(session):
    for folder in _session_folder:
        shutil.rmtree(folder, ignore_errors=True)
