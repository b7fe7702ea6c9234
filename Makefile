# Everything runs through .venv, created on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo notebooks test bench gpu-check lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first and alone, pinned: on the project machines pip takes the CPU build from its local wheel folder
	$(PY) -m pip install --quiet "torch==2.13.0"
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m uwl_utils.tools.demo

# Re-execute the numbered notebooks in place and store their outputs (cleaned); rerun after changing the code.
notebooks: $(STAMP)
	$(PY) -m uwl_utils.tools.notebooks

# Unit tests and nbval: the notebooks run once, in a temporary output folder, their stored outputs compared.
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with notebooks/nbval_sanitize.cfg
test: $(STAMP)
	$(PY) -m pytest -q $(NBVAL) tests notebooks

# The peers (torchattacks, adv_lib) go into .venv only here; the benchmark skips a peer that is missing.
BENCH_STAMP := $(VENV)/.bench-installed
BENCH_PEERS := torchattacks==3.5.1 adv-lib==0.2.8   # --no-deps: see the bench extra in pyproject.toml
# visdom (needed by adv_lib) is an sdist whose setup.py imports pkg_resources: build it with setuptools<70,
# then give torch back the setuptools it requires (>=77.0.3).
$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(PY) -m pip install --quiet "setuptools>=69,<70" wheel
	$(PY) -m pip install --quiet --no-build-isolation "visdom==0.2.4"
	$(PY) -m pip install --quiet "setuptools>=77.0.3"
	$(PY) -m pip install --quiet -e ".[dev,bench]"
	$(PY) -m pip install --quiet --no-deps $(BENCH_PEERS)
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(PY) -m benchmarks.run $(BENCH_ARGS)

# One CUDA GPU, < 8 min: benchmarks/results/gpu_check.{json,md}. No setup step: on a bare GPU machine the
# dependencies come as wheels (README); .venv's python is used where it exists. GPU_CHECK_ARGS=--dry-run: CPU.
gpu-check:
	$(if $(wildcard $(PY)),$(PY),python3) -m benchmarks.gpu_check $(GPU_CHECK_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check uwl_utils tests benchmarks

clean:
	rm -rf $(VENV) runs .pytest_cache
