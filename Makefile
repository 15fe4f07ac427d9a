# modelyard: `make demo` runs the whole lifecycle, `make test` runs every check.
# Install compiles bytecode (site-packages and src): uv does not by default, and with
# PYTHONDONTWRITEBYTECODE=1 (set here and in many images) every process would otherwise
# compile MLflow, scikit-learn and friends from source on each start.
VENV ?= .venv
# The interpreter the venv is made from. CI names Debian's /usr/bin/python3: it is built with
# PGO and LTO, and every process of the suite (trainings, servers, CLIs) spends most of its
# CPU importing MLflow and scikit-learn, about a fifth faster there than on a plain source
# build such as pyenv's default (measured in docs/testing.md).
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test check fmt bench-serving bench-serving-grpc bench-coldstart bench-render bench-rollout bench-images bench-sweep clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip uv
	$(VENV)/bin/uv pip install -q --compile-bytecode --python $(PY) -e ".[dev]"
	$(PY) -m compileall -q -j0 $$($(PY) -c 'import sysconfig; print(sysconfig.get_path("purelib"))') src
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(VENV)/bin/modelyard demo

# STAGES picks among lint, fast, stress and containers (scripts/check); empty runs all four, each
# timed.
STAGES ?=

# Before the stages: the tools' venvs (tests/tool_venvs.py), and the tests' bytecode. pytest
# caches each test module rewritten for its asserts, but not under PYTHONDONTWRITEBYTECODE=1
# (set here and in many images), and then every worker of every stage rewrote and compiled all
# the test files again (11 s of CPU each, 7 s from the cache): one collection writes the cache.
test: install
	scripts/system-deps
	$(PY) tests/tool_venvs.py
	PYTHONDONTWRITEBYTECODE= $(PY) -m pytest -q -p no:cacheprovider --collect-only tests >/dev/null
	CONTAINERS_CONF=$${CONTAINERS_CONF:-$(CURDIR)/scripts/containers.conf} \
	PATH="$(abspath $(VENV))/bin:$$PATH" scripts/check $(STAGES)

check: test

fmt: install
	$(VENV)/bin/ruff format src tests bench
	$(VENV)/bin/ruff check --fix src tests bench

bench-serving: install
	command -v wrk >/dev/null || (apt-get update -q && apt-get install -y -q wrk)
	$(PY) bench/serving/run.py

bench-serving-grpc: install
	command -v h2load >/dev/null || (apt-get update -q && apt-get install -y -q wrk nghttp2-client)
	$(PY) bench/serving/grpc_bench.py

bench-coldstart: install
	$(PY) bench/coldstart/run.py

bench-render: install
	$(PY) bench/render/run.py

bench-rollout: install
	$(PY) bench/rollout/run.py

bench-images: install
	CONTAINERS_CONF=$${CONTAINERS_CONF:-$(CURDIR)/scripts/containers.conf} $(PY) bench/images/run.py

bench-sweep: install
	$(PY) bench/sweep/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
