"`friction doctor`: one screen of what this machine can run; exit 0 when the profile can, else 1 and the one fix."
import os

def test_doctor_smoke_passes_in_one_screen(run_friction, tmp_path):
    r = run_friction('doctor', '--profile', 'smoke', env={'FRICTION_CACHE': str(tmp_path / 'cache')})
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) <= 20 and max(map(len, lines)) <= 200, r.stdout
    for item in ('python', 'torch', 'memory', 'disk', 'llama.cpp', 'base model', 'chromium', 'API keys', 'profile'):
        assert any(l.strip()[4:].startswith(item) for l in lines), (item, r.stdout)
    assert 'ready: smoke can run here' in r.stdout and not r.stderr.strip()

def test_doctor_names_keys_never_values(run_friction, tmp_path):
    r = run_friction('doctor', '--profile', 'smoke', env={'OPENAI_API_KEY': 'sk-do-not-print-me', 'FRICTION_CACHE': str(tmp_path)})
    assert 'OPENAI_API_KEY' in r.stdout and 'sk-do-not-print-me' not in r.stdout + r.stderr

def test_doctor_missing_model_is_one_fix(run_friction, tmp_path):
    r = run_friction('doctor', '--profile', 'laptop', env={'FRICTION_CACHE': str(tmp_path / 'empty')})
    assert r.returncode == 1
    err = r.stderr.strip()
    assert len(err.splitlines()) == 1 and err.startswith('friction doctor: fix base model:'), err
    assert "friction run --profile laptop --until 'base model'" in err

def test_doctor_unwritable_cache_is_one_fix(run_friction, tmp_path):
    blocker = tmp_path / 'file'; blocker.write_text('x')
    r = run_friction('doctor', '--profile', 'smoke', env={'FRICTION_CACHE': str(blocker / 'cache')})
    err = r.stderr.strip()
    assert r.returncode == 1 and len(err.splitlines()) == 1 and 'fix cache' in err and 'FRICTION_CACHE' in err, err
    assert '!!  cache' in r.stdout

def test_doctor_picks_the_profile_that_fits(run_friction, tmp_path):
    from friction_reasoning.core import detect_profile
    r = run_friction('doctor', env={'FRICTION_CACHE': str(tmp_path)})
    assert f'profile     {detect_profile()}:' in r.stdout, r.stdout
