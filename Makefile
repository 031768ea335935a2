# Two commands on a fresh machine: `make run` (the course pipeline on the smoke profile) and `make test`.
# Both create .venv with pinned versions the first time (pip, not uv: see README).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
export OMP_NUM_THREADS ?= 1
export TOKENIZERS_PARALLELISM := false
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
export LITELLM_LOCAL_MODEL_COST_MAP := True
export LITELLM_OFFLINE_MODE := true
export MPLBACKEND := Agg

.PHONY: run test setup export clean docs
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
# .cache/), its OpenAI-compatible server and quantizer are compiled from it (~6 min on 2 cores; pip caches the wheel).
LLAMA_CPP := 0.3.36
$(VENV)/.llama-cpp: $(VENV)/.installed
	$(PY) -m pip download -q --no-deps --no-binary :all: llama-cpp-python==$(LLAMA_CPP) -d .cache/llama-cpp
	$(PY) -m pip install -q -c .ci/constraints.txt "llama-cpp-python[server] @ file://$(CURDIR)/.cache/llama-cpp/llama_cpp_python-$(LLAMA_CPP).tar.gz"
	touch $@

run: setup
	$(VENV)/bin/friction run --profile smoke --out runs/smoke --overwrite

test: setup
	FRICTION_PROFILE=smoke $(PY) .ci/test.py

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

docs: setup
	$(PY) .ci/docs.py

export: setup
	$(VENV)/bin/nbdev_export && $(VENV)/bin/nbdev_clean && $(PY) .ci/readme.py

clean:
	rm -rf runs _docs _proc node_modules
