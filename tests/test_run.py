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
