# Two commands on a fresh machine: `make run` (the course pipeline on the laptop profile: the real SmolLM2-135M-Instruct,
# trained and measured before and after on the CPU) and `make test`. Both create .venv with pinned versions the
# first time (pip, not uv: see README). `make smoke` is the two-minute pipeline on the tiny model (checks an install).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# downloads and converted models, shared by every clone on this machine (see friction_reasoning.core.cache_dir)
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

.PHONY: run smoke test setup export clean docs laptop-notebooks
setup: $(VENV)/.installed $(VENV)/.llama-cpp node_modules/.installed
	@command -v chromium >/dev/null || [ "$$(id -u)" != 0 ] || (apt-get update -q && apt-get install -y -q chromium) >/dev/null \
	  || echo 'note: chromium did not install: the browser test (tests/test_site.py) will be skipped'
	@command -v go >/dev/null || [ "$$(id -u)" != 0 ] || (apt-get update -q && apt-get install -y -q golang-go) >/dev/null \
	  || echo 'note: Go did not install: the Ollama template test (tests/test_deployment.py) will be skipped'

$(VENV)/.installed: settings.ini setup.py .ci/constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c .ci/constraints.txt torch==2.13.0 -e ".[dev]"
	touch $@

# llama.cpp for GGUF export (notebook 05): its converter comes from the llama-cpp-python source archive (kept in
# the cache), its OpenAI-compatible server and quantizer are compiled from it (~6 min on 2 cores; pip caches the wheel).
LLAMA_CPP := 0.3.36
$(VENV)/.llama-cpp: $(VENV)/.installed
	$(PY) -m pip download -q --no-deps --no-binary :all: llama-cpp-python==$(LLAMA_CPP) -d $(CACHE)/llama-cpp
	$(PY) -m pip install -q -c .ci/constraints.txt "llama-cpp-python[server] @ file://$(CACHE)/llama-cpp/llama_cpp_python-$(LLAMA_CPP).tar.gz"
	touch $@

# the main job: every stage on the laptop profile into runs/laptop (about 30 min on 2 cores; every core is used)
run: setup
	$(VENV)/bin/friction run --profile laptop --out runs/laptop $(if $(XSTEST),--xstest $(XSTEST))

smoke: setup
	OMP_NUM_THREADS=1 $(VENV)/bin/friction run --profile smoke --out runs/smoke --overwrite

test: setup
	OMP_NUM_THREADS=1 FRICTION_PROFILE=smoke $(PY) .ci/test.py

# the notebooks' laptop cells (flagged `#| laptop`, skipped by `make test`), in order, on the laptop run folder
laptop-notebooks: setup
	for nb in nbs/01_agents.ipynb nbs/03_training.ipynb nbs/04_evaluation.ipynb nbs/05_deployment.ipynb; do \
	  FRICTION_PROFILE=laptop $(if $(XSTEST),FRICTION_XSTEST=$(abspath $(XSTEST))) $(VENV)/bin/nbdev_test --flags laptop --path $$nb || exit 1; done

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

docs: setup
	OMP_NUM_THREADS=1 FRICTION_PROFILE=smoke $(PY) .ci/docs.py

export: setup
	$(VENV)/bin/nbdev_export && $(VENV)/bin/nbdev_clean && $(PY) .ci/readme.py

clean:
	rm -rf runs _docs _proc node_modules
