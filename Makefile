# Every target creates .venv on first use; nothing is installed outside it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
DEMO_STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: demo test test-pythons lint typecheck pytest docs pictures catalog dist wheel-check bench soak clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(DEMO_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[pillow,trio,video]'
	touch $@

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(DEMO_STAMP)
	$(BIN)/higgsfield-sansio demo

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy higgsfield_proto higgsfield_transports higgsfield_client .ci/check_wheel.py .ci/pictures.py \
		.ci/catalog.py

# coverage starts before pytest so that modules imported by the pytest11 plugin are measured too.
# Four xdist workers on any number of cores: most tests wait on loopback servers and subprocesses,
# not on the CPU. Each worker (and each subprocess) writes its own data file; combine merges them.
PYTEST_WORKERS ?= 4
pytest: $(STAMP)
	rm -f .coverage .coverage.*
	$(BIN)/coverage run -m pytest -n $(PYTEST_WORKERS) --dist worksteal
	$(BIN)/coverage combine --quiet
	@# What combine left could not be read: the data of a process killed while writing it.
	rm -f .coverage.*
	$(BIN)/coverage report --skip-covered

test: lint typecheck pytest docs

# mypy, pytest and wheel-check under the oldest and the newest supported Python found on this
# machine, each in a fresh venv (.venv-pythons/X.Y); see .ci/test-pythons.
test-pythons:
	bash .ci/test-pythons

# The sdist and, built from it in isolation, the wheel: what a release would publish.
dist: $(STAMP)
	rm -rf dist
	$(BIN)/python -m build --quiet --outdir dist .

# The wheel as users get it (.ci/check_wheel.py): its py.typed markers, entry points and
# metadata; then, installed into a clean venv of $(PYTHON), `higgsfield-sansio demo` and the pytest plugin.
wheel-check: dist
	$(PYTHON) .ci/check_wheel.py dist

# The documentation site, built offline; any warning (a broken link, a bad docstring) fails it.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

# The docs' pictures (docs/pictures/): terminal recordings of `higgsfield-sansio demo` and `higgsfield-sansio
# batch`, and the demo's image and video; tests/docs/test_pictures.py checks they are current.
pictures: $(STAMP)
	$(BIN)/python .ci/pictures.py

# What the model catalog's snapshot generates (.ci/catalog.py): the TypedDicts of
# higgsfield_client/models/arguments.py and the table of docs/models.md; tests/models checks them.
catalog: $(STAMP)
	$(BIN)/python .ci/catalog.py

$(BENCH_STAMP): pyproject.toml $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $@

bench: $(BENCH_STAMP)
	$(BIN)/python -m bench

soak: $(STAMP)
	$(BIN)/python -m bench.soak

clean:
	rm -rf $(VENV) .venv-pythons dist .mypy_cache .ruff_cache .pytest_cache .coverage .coverage.* demo-output
