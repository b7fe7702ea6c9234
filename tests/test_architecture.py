"""The import rules of docs/architecture.md §Layers, read from the source: the core never imports upwards."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "uwl_utils"

# The core (layers 1–3) by module prefix; every other module of the package sits above it.
FOUNDATIONS = (
    "uwl_utils.checks",
    "uwl_utils.files",
    "uwl_utils.prediction",
    "uwl_utils.data.classes",
    "uwl_utils.mmseg_compat",
    "uwl_utils.model_state",
)
SCIENCE = ("uwl_utils.uncertainty", "uwl_utils.losses", "uwl_utils.metrics", "uwl_utils.attacks")
INPUTS = ("uwl_utils.data", "uwl_utils.models", "uwl_utils.adapters", "uwl_utils.loaders", "uwl_utils.user_models")


def _layer(module: str) -> str | None:
    for name, prefixes in (("foundations", FOUNDATIONS), ("science", SCIENCE), ("inputs", INPUTS)):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return name
    return None


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Modules ``path`` imports (at any depth, lazy imports included); ``from a import b`` counts as ``a.b``."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {f"{node.module}.{alias.name}" for alias in node.names} | {node.module}
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_follow_the_layers(path):
    module = _module_name(path)
    own = _layer(module)
    targets = {t for t in _imports(path) if t.split(".")[0] in ("uwl_utils", "benchmarks", "tests", "conftest")}
    assert not {t for t in targets if not t.startswith("uwl_utils")}, f"{module} imports benchmarks or tests"
    if not module.startswith("uwl_utils.tools"):
        assert not {t for t in targets if t.startswith("uwl_utils.tools")}, f"{module} imports a command-line tool"
    if own is None or module == "uwl_utils":
        return
    allowed = {"foundations"} | {own}
    upward = sorted(t for t in targets if t != "uwl_utils" and _layer(t) not in allowed)
    assert not upward, f"{module} ({own}) imports {upward}: see docs/architecture.md §Layers"


def test_the_layers_are_checked():
    layers = {_layer(_module_name(p)) for p in MODULES}
    assert {"foundations", "science", "inputs", None} <= layers
    assert _layer("uwl_utils.data.classes") == "foundations" and _layer("uwl_utils.data.voc") == "inputs"
    assert _layer("uwl_utils.attacks.pgd") == "science" and _layer("uwl_utils.experiment") is None
