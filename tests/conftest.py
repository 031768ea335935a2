"Shared fixtures: the installed `friction` command, run as a user would run it."
import os, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
FRICTION = Path(sys.executable).parent / 'friction'

def friction(*args, cwd=ROOT, env=None, timeout=900):
    "Run `friction ARGS...` in a subprocess; return the CompletedProcess (text output captured)."
    e = {**os.environ, 'OMP_NUM_THREADS': '1', 'HF_HUB_OFFLINE': '1', 'TRANSFORMERS_OFFLINE': '1',
         'LITELLM_LOCAL_MODEL_COST_MAP': 'True', 'LITELLM_OFFLINE_MODE': 'true', 'MPLBACKEND': 'Agg', **(env or {})}
    if 'FRICTION_PROFILE' not in (env or {}): e.pop('FRICTION_PROFILE', None)  # the default profile: smoke
    return subprocess.run([str(FRICTION), *map(str, args)], capture_output=True, text=True, cwd=cwd, env=e,
                          timeout=timeout, stdin=subprocess.DEVNULL)

@pytest.fixture
def run_friction(): return friction

@pytest.fixture(scope='session')
def smoke_run(tmp_path_factory):
    "`friction run --profile smoke` once per test session: the run folder (tests read its artefacts)."
    out = tmp_path_factory.mktemp('smoke') / 'run'
    r = friction('run', '--profile', 'smoke', '--out', out, timeout=1800)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return out
