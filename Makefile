# Explaining and attacking neural networks, in PyTorch.
#   make lab        set up .venv with the course (first time only) and open it in JupyterLab
#                   (LAB_ARGS="..." passes options to JupyterLab; as root it adds --allow-root and says so;
#                   LANG=zh_TW or LANG=zh_CN opens the Chinese edition, with JupyterLab's menus in Chinese)
#   make setup      set up .venv with the course, the tests and the instructor's tools (nbgrader)
#   make test       make setup, then run the unit tests and nbval over every notebook (JOBS=n workers)
#   make quick      the unit and oracle tests only, no notebook executed: a maintainer's 2-to-4-minute loop
#   make formgrader open JupyterLab with nbgrader's formgrader in the course folder COURSE=DIR
#   make notebooks  annotate every notebook for nbgrader (helpers.course.marking), re-execute it in place, save its
#                   outputs, then bring the translation catalogs in step and rebuild the Chinese editions (notebooks/zh-*)
#   make zoo        retrain every zoo model from its recipe and re-measure MODELS.md
#   make bench      time the library against Captum, Zennit and torchattacks (benchmarks/RESULTS.md)
#   make release    write the student notebooks, the executed solutions and their HTML to release/
#   make wheel      build the installable package (library + data + zoo) into dist/, offline

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# Which install .venv holds, stamped with a checksum of pyproject.toml and constraints.txt (a change reinstalls):
# the course alone (what a student needs, `make lab`), or the course with [dev] (tests, nbgrader).
HASH   := $(shell cat pyproject.toml constraints.txt | cksum | cut -d' ' -f1)
COURSE_STAMP := $(VENV)/.installed-course-$(HASH)
STAMP  := $(VENV)/.installed-dev-$(HASH)
ZH_STAMP := $(VENV)/.installed-zh-$(HASH)
PIP    := -m pip install --quiet --disable-pip-version-check -c constraints.txt
# Notebook outputs are compared exactly, so tests and committed outputs use the CPU and one thread per
# process: another thread count adds in another order, and a model trained in a notebook comes out different.
# The instruction set is pinned for the same reason: on a CPU with AVX-512, PyTorch's own kernels, oneDNN's
# convolutions and MKL's products pick wider kernels that round differently (03 printed 1.9e-06 for 3.8e-06,
# hw6 spent other query counts); at AVX2 every x86-64 machine of the last ten years computes what the
# committed outputs show. (A CPU without AVX2, or an ARM one, ignores these and may differ in the last digit.)
NB_ENV := HELPERS_DEVICE=cpu OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 \
	ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_CBWR=AVX2 \
	MPLBACKEND=module://matplotlib_inline.backend_inline PYTHONHASHSEED=0
# make test runs that many pytest workers (pytest-xdist), each test file or notebook on one worker
# (nbval needs a notebook's cells in one kernel), the longest first (tests/conftest.py schedules them).
JOBS ?= $(shell $(PYTHON) -c "import os; print(max(1, min(4, os.cpu_count() or 1)))")

# JupyterLab refuses to run as root (Docker, cloud machines) unless told --allow-root.
ROOT_ARGS := $(if $(filter 0,$(shell id -u)),--allow-root)
LAB_ARGS ?=
# The students' JupyterLab reads etc/jupyter-course too: it turns off nbgrader's extensions, which are there
# when the same .venv also holds the instructor's tools (make setup).
COURSE ?=

# `make lab LANG=zh_TW` (or zh_CN, or en): LANG on make's command line names the course's language. It is also
# the locale variable, which make would pass on to JupyterLab and its kernels as LANG=zh_TW (no such locale);
# so make keeps the course's language for itself and hands on the LANG it was started with (GNU make 4.4's
# $(shell) sees the command line's: there JupyterLab starts without LANG, and Python falls back to C.UTF-8).
COURSE_LANGS := en zh_TW zh_CN
ifeq ($(origin LANG),command line)
ifneq ($(filter $(COURSE_LANGS),$(LANG))$(filter lab,$(MAKECMDGOALS)),)
COURSE_LANG := $(LANG)
unexport LANG
override LANG := $(shell printenv LANG)
ifneq ($(filter-out zh_TW zh_CN,$(LANG)),)
export LANG
endif
endif
endif
ifneq ($(filter-out $(COURSE_LANGS),$(COURSE_LANG)),)
$(error make lab knows LANG=en, LANG=zh_TW and LANG=zh_CN; got LANG=$(COURSE_LANG))
endif
LAB_LANG := $(filter zh_TW zh_CN,$(COURSE_LANG))
# The Chinese editions live in notebooks/zh-TW and notebooks/zh-CN; etc/jupyter-course-zh_TW (…-zh_CN) sets
# JupyterLab's interface language (its translation setting) to that of the language pack of the [zh] extra.
LAB_DIR := notebooks$(if $(LAB_LANG),/$(subst _,-,$(LAB_LANG)))
LAB_CONFIG := $(if $(LAB_LANG),$(CURDIR)/etc/jupyter-course-$(LAB_LANG):)$(CURDIR)/etc/jupyter-course
# HELPERS_LANG: the language of grading.check's and grading.judge's messages (helpers/course/language.py).
LAB_ENV := JUPYTER_CONFIG_PATH="$(LAB_CONFIG)$${JUPYTER_CONFIG_PATH:+:$$JUPYTER_CONFIG_PATH}"$(if \
	$(LAB_LANG), HELPERS_LANG=$(LAB_LANG))

.PHONY: setup setup-course lab formgrader test quick notebooks zoo bench release wheel lint clean

setup: $(STAMP)

setup-course: $(COURSE_STAMP)

$(COURSE_STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "Installing the course into $(VENV). The first time this downloads about 3.2 GB (PyTorch's CUDA build,"
	@echo "also on machines without a GPU, and JupyterLab) and takes about 6.4 GB on disk: see the README."
	$(PY) $(PIP) -e .
	@rm -f $(VENV)/.installed-course-* $(VENV)/.installed-[0-9]*
	@touch $@

$(STAMP): $(COURSE_STAMP)
	$(PY) $(PIP) -e ".[dev]"
	@rm -f $(VENV)/.installed-dev-* $(VENV)/.installed-zh-*
	@touch $@ $(ZH_STAMP)

# JupyterLab's Chinese language packs (the [zh] extra; [dev] has them too), installed for `make lab LANG=zh_…`
$(ZH_STAMP): $(COURSE_STAMP)
	$(PY) $(PIP) -e ".[zh]"
	@rm -f $(VENV)/.installed-zh-*
	@touch $@

lab: setup-course $(if $(LAB_LANG),$(ZH_STAMP))
	@echo "Opening the course at $(LAB_DIR)/00_start_here.ipynb. JupyterLab prints its URL (with the token) below:"
	@echo "open it in a browser if no window appears. Ctrl-C stops JupyterLab."
	@$(if $(ROOT_ARGS),echo "You are root: adding --allow-root (JupyterLab refuses to start as root without it).")
	cd $(LAB_DIR) && $(LAB_ENV) "$(abspath $(PY))" -m jupyterlab $(ROOT_ARGS) $(LAB_ARGS) 00_start_here.ipynb

formgrader: setup
	@test -n "$(COURSE)" || { echo "make formgrader needs COURSE=DIR, your nbgrader course folder"; exit 2; }
	@test -f "$(COURSE)/nbgrader_config.py" || { echo "$(COURSE) has no nbgrader_config.py (see the README)"; exit 2; }
	@echo "Open Nbgrader > Formgrader in JupyterLab's menu: the written answers wait there for a score."
	cd "$(COURSE)" && PATH="$(abspath $(VENV))/bin:$$PATH" "$(abspath $(PY))" -m jupyterlab $(ROOT_ARGS) $(LAB_ARGS)

test: setup
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || echo \
		"No Chromium here: the browser test will be skipped (Debian: apt-get install chromium)."
	$(NB_ENV) $(PY) -m pytest -n $(JOBS) --dist loadfile tests notebooks --nbval --nbval-current-env \
		--nbval-sanitize-with notebooks/sanitize.cfg

quick: setup
	$(NB_ENV) $(PY) -m pytest -n $(JOBS) --dist loadfile tests -m "not notebooks"

notebooks: setup
	$(PY) -m helpers.course.marking notebooks/*.ipynb
	$(NB_ENV) $(PY) -m helpers.course.execute notebooks/*.ipynb
	$(PY) -m helpers.course.translation update
	$(PY) -m helpers.course.translation build

zoo: setup
	$(PY) -m helpers.zoo train all
	$(PY) -m helpers.zoo evaluate --write

bench: setup
	$(PY) -m benchmarks.run

release: setup
	$(PY) -m helpers.course.release --out release

wheel: setup
	$(PY) -m pip wheel --quiet --disable-pip-version-check --no-deps --no-build-isolation --no-index -w dist .

lint: setup
	$(PY) -m ruff check helpers tests benchmarks scripts notebooks

clean:
	rm -rf $(VENV) build dist *.egg-info
