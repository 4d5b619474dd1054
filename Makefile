# Explaining and attacking neural networks, in PyTorch.
#   make lab        set up .venv (first time only) and open the course in JupyterLab
#   make test       set up .venv, then run the unit tests and nbval over every notebook (JOBS=n workers)
#   make quick      the unit and oracle tests only, no notebook executed: a maintainer's 4-minute loop
#   make notebooks  annotate every notebook for nbgrader (helpers.marking), re-execute it in place, save its outputs
#   make zoo        retrain every zoo model from its recipe and re-measure MODELS.md
#   make bench      time the library against Captum, Zennit and torchattacks (benchmarks/RESULTS.md)
#   make release    write the student notebooks, the executed solutions and their HTML to release/
#   make wheel      build the installable package (library + data + zoo) into dist/, offline

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | cksum | cut -d' ' -f1)
# Notebook outputs are compared exactly, so tests and committed outputs use the CPU and one thread per
# process: another thread count adds in another order, and a model trained in a notebook comes out different.
NB_ENV := HELPERS_DEVICE=cpu OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 \
	MPLBACKEND=module://matplotlib_inline.backend_inline PYTHONHASHSEED=0
# make test runs that many pytest workers (pytest-xdist), each test file or notebook on one worker
# (nbval needs a notebook's cells in one kernel), the longest first (tests/conftest.py schedules them).
JOBS ?= $(shell $(PYTHON) -c "import os; print(max(1, min(4, os.cpu_count() or 1)))")

.PHONY: setup lab test quick notebooks zoo bench release wheel lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev]"
	@rm -f $(VENV)/.installed-*
	@touch $@

lab: setup
	@echo "Opening the course at notebooks/00_start_here.ipynb. JupyterLab prints its URL (with the token) below:"
	@echo "open it in a browser if no window appears. Ctrl-C stops JupyterLab."
	cd notebooks && ../$(PY) -m jupyterlab 00_start_here.ipynb

test: setup
	$(NB_ENV) $(PY) -m pytest -n $(JOBS) --dist loadfile tests notebooks --nbval --nbval-current-env \
		--nbval-sanitize-with notebooks/sanitize.cfg

quick: setup
	$(NB_ENV) $(PY) -m pytest -n $(JOBS) --dist loadfile tests -m "not notebooks"

notebooks: setup
	$(PY) -m helpers.marking notebooks/*.ipynb
	$(NB_ENV) $(PY) -m helpers._notebooks notebooks/*.ipynb

zoo: setup
	$(PY) -m helpers.zoo train all
	$(PY) -m helpers.zoo evaluate --write

bench: setup
	$(PY) -m benchmarks.run

release: setup
	$(PY) -m helpers.release --out release

wheel: setup
	$(PY) -m pip wheel --quiet --disable-pip-version-check --no-deps --no-build-isolation --no-index -w dist .

lint: setup
	$(PY) -m ruff check helpers tests benchmarks scripts

clean:
	rm -rf $(VENV) build dist *.egg-info
