# Two commands on a fresh machine: `make run` (the course pipeline on the laptop profile: the real SmolLM2-135M-Instruct,
# trained and measured before and after on the CPU) and `make test`. `make run` installs only what the course needs,
# as an ordinary user (no root); `make test` adds the tools of the tests and the docs. Both create .venv with pinned
# versions the first time (pip, not uv: see README). `make smoke` is the two-minute pipeline on the tiny model.
# Every set-up step says what it does and how long it usually takes here (bench/setup.md); pip's, npm's and apt's
# output goes to $(LOG), which any error names.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
LOG    := $(VENV)/setup.log
STEP   := $(PYTHON) .ci/steps.py step
# downloads, converted models and the compiled llama.cpp, shared by every clone on this machine (friction_reasoning.pipeline.cache_dir)
CACHE  := $(or $(FRICTION_CACHE),$(HOME)/.cache/friction_reasoning)
# XSTest's prompts (CC-BY-4.0, github.com/paul-rottger/exaggerated-safety): evaluated too when the CSV is here
XSTEST ?= $(or $(FRICTION_XSTEST),$(wildcard ../shared/eval/xstest/xstest_prompts.csv))
export TOKENIZERS_PARALLELISM := false
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
export LITELLM_LOCAL_MODEL_COST_MAP := True
export LITELLM_OFFLINE_MODE := true
export MPLBACKEND := Agg

.PHONY: run smoke test setup dev doctor export clean docs laptop-notebooks llama-start llama-background llama-install test-tools

# the course's Python packages only (what `friction run` needs)
$(VENV)/.installed: settings.ini setup.py .ci/constraints.txt
	@$(STEP) 'Python packages for the course into .venv (torch CPU, transformers, peft, trl, litellm)' \
	  "about 1 min here, longer where every wheel must be downloaded" $(LOG) -- sh -c '$(PYTHON) -m venv $(VENV) && \
	  $(PY) -m pip install --upgrade pip && $(PY) -m pip install -c .ci/constraints.txt torch==2.13.0 -e .'
	@touch $@

# what the tests, the notebooks and the docs add: nbdev, pytest, jupyterlab, pandoc
$(VENV)/.installed-dev: $(VENV)/.installed
	@$(STEP) 'test and notebook tools into .venv (nbdev, pytest, jupyterlab, pandoc)' \
	  "about 15 s" $(LOG) -- $(PY) -m pip install -c .ci/constraints.txt torch==2.13.0 -e ".[dev]"
	@touch $@

# llama.cpp (serving and K-quants; GGUF f16/q8_0 export needs only its converter): compiled once per machine into
# $(CACHE)/llama-cpp/wheels/VERSION-CPU, in the background, while the rest installs and the course starts
llama-start:
	@$(PYTHON) .ci/steps.py llama-start

# where the system Python could not start it (no pip, filelock or psutil), .venv's starts it as soon as .venv exists
llama-background: $(VENV)/.installed
	@$(VENV)/bin/friction llama --background

llama-install: $(VENV)/.installed
	@$(VENV)/bin/friction llama || echo 'note: without llama.cpp the served-GGUF tests are skipped'

node_modules/.installed: package.json package-lock.json
	@$(STEP) 'npm packages of the site and the slides (KaTeX, reveal.js)' 'a few seconds, more on a first download' $(LOG) -- npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Chromium (browser test) and Go (Ollama template test): only the tests use them; installed when run as root
test-tools:
	@command -v chromium >/dev/null || [ "$$(id -u)" != 0 ] || $(STEP) 'Chromium from Debian, for the browser test' 'a minute or two' $(LOG) -- \
	  sh -c 'apt-get update -q && apt-get install -y -q chromium' || echo "note: no Chromium: tests/test_site.py's browser test is skipped"
	@command -v go >/dev/null || [ "$$(id -u)" != 0 ] || $(STEP) 'Go from Debian, for the Ollama template test' 'a minute or two' $(LOG) -- \
	  sh -c 'apt-get update -q && apt-get install -y -q golang-go' || echo "note: no Go: tests/test_deployment.py's template test is skipped"

setup: llama-start llama-background $(VENV)/.installed-dev node_modules/.installed test-tools llama-install
dev: $(VENV)/.installed-dev

# the main job: every stage on the laptop profile into runs/laptop (about 30 min on 2 cores; every core is used)
run: llama-start llama-background
	$(VENV)/bin/friction run --profile laptop --out runs/laptop $(if $(XSTEST),--xstest $(XSTEST))

smoke: $(VENV)/.installed
	OMP_NUM_THREADS=1 $(VENV)/bin/friction run --profile smoke --out runs/smoke --overwrite

doctor: $(VENV)/.installed
	@$(VENV)/bin/friction doctor

test: setup
	OMP_NUM_THREADS=1 FRICTION_PROFILE=smoke $(PY) .ci/test.py

# the notebooks' laptop cells (flagged `#| laptop`, skipped by `make test`), in order, on the laptop run folder
laptop-notebooks: $(VENV)/.installed-dev llama-install
	for nb in nbs/01_agents.ipynb nbs/03_training.ipynb nbs/04_evaluation.ipynb nbs/05_deployment.ipynb; do \
	  FRICTION_PROFILE=laptop $(if $(XSTEST),FRICTION_XSTEST=$(abspath $(XSTEST))) $(VENV)/bin/nbdev_test --flags laptop --path $$nb || exit 1; done

docs: $(VENV)/.installed-dev node_modules/.installed
	OMP_NUM_THREADS=1 FRICTION_PROFILE=smoke $(PY) .ci/docs.py

export: $(VENV)/.installed-dev
	$(VENV)/bin/nbdev_export && $(VENV)/bin/nbdev_clean && $(PY) .ci/readme.py

clean:
	rm -rf runs _docs _proc node_modules
