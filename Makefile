# cts — the project's front door. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEFAULT_PANEL := data/synthetic/panel.parquet
PANEL ?= $(DEFAULT_PANEL)

.PHONY: help setup data panel report test test-slow docs validate lint lab bench strip screenshots clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@# The git hooks of .pre-commit-config.yaml (ruff, stripped notebooks); skipped outside a git
	@# checkout or where git refuses (core.hooksPath set): they only help, they never block setup.
	@if git rev-parse --git-dir >/dev/null 2>&1 && [ -x $(VENV)/bin/pre-commit ]; then \
		$(VENV)/bin/pre-commit install >/dev/null 2>&1 && echo 'pre-commit hooks installed' \
		|| echo 'pre-commit hooks not installed (make setup goes on)'; fi
	touch $@

setup: $(VENV)/.installed  ## create .venv with cts and its dev tools (about 1 min)

$(DEFAULT_PANEL): $(VENV)/.installed $(wildcard cts/simulate/*.py)
	$(PY) -m cts data $@

data: $(DEFAULT_PANEL)  ## simulate the default panel: 1,000 teams x 156 weeks, truth beside it

panel: setup  ## build a panel: make panel EVENTS=dir (or GIT="repo ...", SOURCES=sources.toml, DEVLAKE=url) [OUT=...]
	@if [ -n "$(DEVLAKE)" ]; then $(PY) -m cts build-panel --devlake '$(DEVLAKE)' $(or $(OUT),data/panel.parquet) $(if $(PROJECT),--project '$(PROJECT)'); \
	elif [ -n "$(SOURCES)" ]; then $(PY) -m cts build-panel --sources $(SOURCES) $(or $(OUT),data/panel.parquet); \
	elif [ -n "$(GIT)" ]; then $(PY) -m cts build-panel --git $(GIT) $(or $(OUT),data/panel.parquet) $(if $(TEAM_MAP),--team-map $(TEAM_MAP)); \
	elif [ -n "$(EVENTS)" ]; then $(PY) -m cts build-panel $(EVENTS) $(or $(OUT),data/panel.parquet) --engine $(or $(ENGINE),duckdb); \
	else echo 'usage: make panel EVENTS=path/to/events [OUT=data/panel.parquet] [ENGINE=spark], or GIT="repo1 repo2" [TEAM_MAP=map.csv], or SOURCES=sources.toml, or DEVLAKE=postgresql://user@host/lake [PROJECT=name]'; exit 2; fi

report: setup $(if $(filter $(DEFAULT_PANEL),$(PANEL)),$(DEFAULT_PANEL))  ## build env and data, run every analysis -> reports/index.html (PANEL=your.parquet)
	$(PY) -m cts report --panel $(PANEL) --out reports $(if $(UNIT),--unit $(UNIT)) $(if $(CURRENCY),--currency $(CURRENCY)) $(if $(SEAT_COST),--seat-cost $(SEAT_COST)) $(if $(NO_CACHE),--no-cache)

test: lint  ## lint (ruff, mypy), unit tests but the slow ones, every notebook under nbval (on the committed sample), the docs site
	$(PY) -m pytest -n auto --dist loadfile --no-loadscope-reorder -m 'not slow'  # whole files, longest first (tests/conftest.py)
	$(PY) -m pytest --nbval-lax -n auto --dist loadfile notebooks/
	$(MAKE) --no-print-directory docs

test-slow: setup  ## the tests marked slow (reports end to end, statistical checks over seeds; CI runs them after make test)
	$(PY) -m pytest -n auto -m slow || [ $$? -eq 5 ]  # 5: none is marked slow

docs: setup  ## the docs site in strict mode (a broken link or reference fails) -> site/
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

validate: setup  ## Monte Carlo of the estimators and few-cluster inference -> reports/validation.md (~32 min on 2 idle cores: ~63 CPU minutes)
	$(PY) -m cts validate --out reports/validation.md

lint: setup  ## ruff (rules and formatting) and mypy (types of cts/, configured in pyproject.toml)
	$(VENV)/bin/ruff check cts tests benchmarks
	$(VENV)/bin/ruff format --check cts tests benchmarks
	$(VENV)/bin/mypy

# Jupyter refuses to start as root unless told; containers and dev boxes often run as root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

lab: setup  ## JupyterLab on notebooks/ (LAB_ARGS="--port=8890 --no-browser" to pass options)
	$(VENV)/bin/jupyter lab notebooks/ $(ALLOW_ROOT) $(LAB_ARGS)

bench: setup  ## performance figures (benchmarks/), not part of the tests
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done  # ~25 min

strip:  ## remove outputs from the notebooks before committing (a test insists)
	$(VENV)/bin/jupyter nbconvert --clear-output --inplace notebooks/*.ipynb

screenshots: setup  ## PNGs of reports/ in headless Chromium -> reports/screenshots/ (for the docs)
	$(PY) benchmarks/screenshot.py reports

clean:  ## remove generated data, reports and caches, cached results included (keeps .venv)
	rm -rf data/synthetic reports/*.html reports/last_run.json reports/failed reports/screenshots site .pytest_cache
	find . -name __pycache__ -type d -prune -not -path './$(VENV)/*' -exec rm -rf {} +
	-[ -x $(PY) ] && $(PY) -c 'import shutil; from cts.core.cache import cache_dir; shutil.rmtree(cache_dir() or "/nonexistent", ignore_errors=True)'  # cached results
