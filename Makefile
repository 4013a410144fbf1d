# Two commands for a fresh machine with Python 3.11 (see README.md):
#   make demo   - builds .venv, runs the whole workflow on the embedded synthetic corpus
#   make test   - builds .venv, runs lint and the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# uv (pinned with hashes in tools/uv-bootstrap.txt) lives in its own small venv,
# so that `uv sync` can make .venv exactly what uv.lock says.
UV_HOME := .venv-uv
UV := $(UV_HOME)/bin/uv
CORES ?= 2
# Never download a Python: use $(PYTHON) (3.11), the interpreter the lock is for.
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
# Compile the packages' bytecode once at install: every snakemake call (and job)
# then starts about 3 s faster where Python may not write .pyc files itself
# (PYTHONDONTWRITEBYTECODE, read-only installs); see benchmarks/README.md.
export UV_COMPILE_BYTECODE := 1

.PHONY: venv lock lock-check demo study test test-slurm lint format bench readme report clean-results

$(UV): tools/uv-bootstrap.txt
	rm -rf $(UV_HOME)
	$(PYTHON) -m venv $(UV_HOME)
	PIP_CONSTRAINT= $(UV_HOME)/bin/pip install --quiet --disable-pip-version-check --require-hashes -r tools/uv-bootstrap.txt
	touch $(UV)

# Install exactly what uv.lock says (--locked: stop if pyproject.toml changed and
# the lock was not regenerated with `make lock`), then check that the stack loads.
$(STAMP): $(UV) pyproject.toml uv.lock
	rm -f $(STAMP)
	$(UV) sync --locked --extra dev --python $(PYTHON)
	$(BIN)/python -m sertools.envcheck
	touch $(STAMP)

venv: $(STAMP)

# Re-resolve every dependency to the newest versions pyproject.toml allows and
# rewrite uv.lock; then `make test` and commit both files.
lock: $(UV)
	$(UV) lock --upgrade --python $(PYTHON)
	$(PYTHON) tools/pin_environment.py

# Fails when pyproject.toml changed and uv.lock was not regenerated.
lock-check: $(UV)
	$(UV) lock --check --python $(PYTHON)

# Without a GPU, `gpu` is only a cap on concurrent training/prediction jobs: on this
# 2-core CPU two single-threaded trainings side by side train faster in total than
# one two-threaded training at a time. On a GPU machine use --resources gpu=<number of GPUs>.
demo: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) --resources gpu=$(CORES) --set-threads train=1 predict=1
	$(BIN)/snakemake --cores $(CORES) --report results/report.html
	@$(BIN)/python -m sertools.where

# The rater simulation study (docs/study.md): config/study_raters.yaml, outputs under
# results/study/ (tables, figures, findings); its time is in benchmarks/README.md.
study: $(STAMP)
	$(BIN)/snakemake --configfile config/study_raters.yaml --cores $(CORES) study

test: $(STAMP) lint
	$(BIN)/pytest

# The workflow through a real single-node SLURM cluster (started with
# tests/slurm/cluster.sh, root + apt), compared with a local run.
# Exit status 77 (no cluster can be started here) is reported as a skip.
test-slurm: $(STAMP)
	@bash tests/slurm/run_slurm_test.sh; rc=$$?; \
	if [ $$rc -eq 77 ]; then echo "test-slurm: skipped (see the message above)"; exit 0; fi; exit $$rc

lint: $(STAMP) lock-check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/snakemake --lint --cores 1 >/dev/null
	$(BIN)/mypy

readme: $(STAMP)
	$(BIN)/python -m sertools.report.readme README.md
	$(BIN)/python -m sertools.architecture --write README.md

report: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) --report results/report.html

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
	$(BIN)/snakefmt Snakefile workflow/rules

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean-results:  # ignored outputs only; the tracked READMEs stay
	git clean -fdX results resources docs/out
	rm -rf logs .snakemake
