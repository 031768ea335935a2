"The main job: `friction run --profile smoke` runs every stage into one folder and records what it made."
import json

def test_smoke_run_records_every_stage(smoke_run):
    run = json.loads((smoke_run / 'run.json').read_text())
    assert run['profile']['name'] == 'smoke'
    assert list(run['stages'])[0] == 'base model'
    assert (smoke_run / 'base' / 'config.json').exists()
    for name, path in run['artefacts'].items():
        if isinstance(path, str) and path.startswith(str(smoke_run)):
            assert __import__('pathlib').Path(path).exists(), f'artefact {name} missing: {path}'


def test_a_partial_run_keeps_what_the_full_run_recorded(smoke_run):
    "Notebooks call `run(..., until='training')` on the shared folder: run.json must still name the later stages' files."
    from friction_reasoning.pipeline import run
    arts = run('smoke', smoke_run, until='training')
    run_json = json.loads((smoke_run / 'run.json').read_text())
    assert arts['adapter'] == run_json['artefacts']['adapter']
    assert {'scorecard', 'answers', 'gguf_f16'} <= set(run_json['artefacts']), sorted(run_json['artefacts'])
    assert 'deployment' in run_json['stages']
