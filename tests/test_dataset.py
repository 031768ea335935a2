"""Dataset generation and validation as a user meets them: `friction generate` against a real local
OpenAI-compatible server (tests/openai_server.py) and the offline stand-in, killed with SIGKILL and resumed;
`friction validate` on good and broken files; the Hub upload up to the network call; the dataset stage."""
import json, os, re, signal, subprocess, time
from dataclasses import replace
from pathlib import Path
import pytest
from huggingface_hub import DatasetCard
from conftest import FRICTION, ROOT
from openai_server import openai_server  # noqa: F401 (fixture)
from friction_reasoning.core import FrictionError, get_profile
from friction_reasoning.pipeline import read_jsonl, write_jsonl
from friction_reasoning.dataset import (dataset_card, dataset_stage, generate, load_seeds, plan, push_to_hub,
                                        read_records, relay, to_dataset, validate_file)

FAST = dict(backoff=0.01, timeout=5, progress=False)


def generate_one(): return relay(load_seeds()[0])


def ids_of(path): return [r['id'] for r in read_jsonl(path)]


def one_line_error(r, code=None):
    assert r.returncode != 0 and (code is None or r.returncode == code), (r.returncode, r.stderr)
    assert 'Traceback' not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    return r.stderr


def test_generate_against_a_real_server(openai_server, tmp_path):
    rep = generate(tmp_path / 'g.jsonl', 14, 'openai/test', api_base=openai_server.url, concurrency=4, **FAST)
    assert (rep['written'], rep['failed']) == (14, [])
    assert openai_server.requests == 14 * 7, 'six personas and one answer per dialogue'
    recs = read_records(tmp_path / 'g.jsonl')
    assert sorted(r.id for r in recs) == sorted(j.id for j in plan(load_seeds(), 14))
    assert all(len(r.thoughts) == 6 and r.metadata['model'] == 'openai/test' for r in recs)
    assert validate_file(tmp_path / 'g.jsonl') == []


def test_transient_faults_during_a_run_are_absorbed(openai_server, tmp_path):
    openai_server.faults = ['429', '500', 'malformed'] * 4
    rep = generate(tmp_path / 'g.jsonl', 7, 'openai/test', api_base=openai_server.url, concurrency=3, **FAST)
    assert (rep['written'], rep['failed']) == (7, [])
    assert openai_server.served.count(None) >= 7 * 7


@pytest.mark.parametrize('fault,reason', [('empty', 'empty reply'), ('truncated', 'truncated'),
                                          ('refusal', 'refused'), ('malformed', 'malformed reply')])
def test_one_bad_answer_fails_only_its_dialogue(openai_server, tmp_path, fault, reason):
    bad = next(s for s in load_seeds() if s.id == 'au-01')
    openai_server.rules = [(bad.prompt, fault)]  # every call about this seed goes wrong
    rep = generate(tmp_path / 'g.jsonl', 7, 'openai/test', api_base=openai_server.url, concurrency=4, retries=1, **FAST)
    assert rep['written'] == 6 and [i for i, _ in rep['failed']] == ['au-01-0']
    assert rep['failed'][0][1].startswith(reason), rep['failed']
    assert 'au-01-0' not in ids_of(tmp_path / 'g.jsonl') and validate_file(tmp_path / 'g.jsonl') == []
    openai_server.rules = []  # the provider recovers: the same call again makes only the missing one
    rep = generate(tmp_path / 'g.jsonl', 7, 'openai/test', api_base=openai_server.url, **FAST)
    assert (rep['existing'], rep['written'], rep['failed']) == (6, 1, [])


def test_a_rejected_key_stops_the_run_at_once(openai_server, tmp_path):
    openai_server.faults = ['401'] * 100
    with pytest.raises(FrictionError) as e:
        generate(tmp_path / 'g.jsonl', 7, 'openai/test', api_base=openai_server.url, concurrency=1, **FAST)
    assert e.value.reason == 'auth' and 'set the key in the environment' in str(e.value)
    assert openai_server.requests == 1


def test_cli_reports_failures_and_exits_nonzero(openai_server, tmp_path, run_friction):
    openai_server.rules = [('Why do goldfish only remember', 'refusal')]
    r = run_friction('generate', '-n', '3', '--out', tmp_path / 'g.jsonl', '--model', 'openai/test',
                     '--api-base', openai_server.url, '--retries', '1')
    assert r.returncode == 1, r.stderr
    assert 'failed cp-01-0: refused' in r.stdout and '2/3 records' in r.stdout
    assert 'run the same command again' in r.stderr


def test_generate_smoke_makes_50_valid_records(tmp_path, run_friction):
    out = tmp_path / 'F.jsonl'
    r = run_friction('generate', '--profile', 'smoke', '-n', '50', '--out', out)
    assert r.returncode == 0, r.stderr[-2000:]
    ids = ids_of(out)
    assert len(ids) == 50 == len(set(ids))
    assert run_friction('validate', out).returncode == 0
    assert all(rec.metadata['model'] == 'friction-standin/offline' for rec in read_records(out))


def test_generate_killed_with_sigkill_and_resumed(openai_server, tmp_path, run_friction):
    "Kill a real run mid-way, leave a torn line as a kill mid-write would, restart: exactly 50, no duplicate ids."
    openai_server.latency = 0.03
    out = tmp_path / 'F.jsonl'
    args = ['generate', '--profile', 'smoke', '-n', '50', '--out', str(out), '--model', 'openai/test',
            '--api-base', openai_server.url, '--concurrency', '4']
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'LITELLM_LOCAL_MODEL_COST_MAP': 'True', 'LITELLM_OFFLINE_MODE': 'true'}
    p = subprocess.Popen([str(FRICTION), *args], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and (not out.exists() or len(ids_of(out)) < 10): time.sleep(0.02)
    os.kill(p.pid, signal.SIGKILL); p.wait()
    before = ids_of(out)
    assert 10 <= len(before) < 50, f'the kill should land mid-run ({len(before)} records)'
    with open(out, 'ab') as f: f.write(b'{"id": "cp-09-0", "behaviour": "challenge_pre')  # torn: no newline
    assert any(p.field == 'json' and 'torn' in p.message for p in validate_file(out))
    r = run_friction(*args)
    assert r.returncode == 0, r.stderr[-2000:]
    assert 'dropped a torn last line' in r.stderr
    ids = ids_of(out)
    assert len(ids) == 50 == len(set(ids)) and ids[:len(before)] == before, 'nothing written before is lost'
    assert sorted(ids) == sorted(j.id for j in plan(load_seeds(), 50))
    v = run_friction('validate', out)
    assert v.returncode == 0 and '50 lines, 0 problems' in v.stdout


def test_more_dialogues_than_seeds_killed_and_resumed_still_validate(tmp_path, run_friction):
    "More dialogues than the 70 seeds, SIGKILLed mid-run and resumed: no near-duplicate is written, the drops are counted."
    out = tmp_path / 'F.jsonl'
    args = ['generate', '--profile', 'smoke', '-n', '160', '--out', str(out), '--concurrency', '8']
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'LITELLM_LOCAL_MODEL_COST_MAP': 'True', 'LITELLM_OFFLINE_MODE': 'true'}
    p = subprocess.Popen([str(FRICTION), *args], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    def written():  # ids of the complete lines: the writer may be halfway through the last one
        return [json.loads(l)['id'] for l in out.read_bytes().split(b'\n')[:-1] if l.strip()] if out.exists() else []
    while time.time() < deadline and p.poll() is None and len(written()) < 90: time.sleep(0.02)
    os.kill(p.pid, signal.SIGKILL); p.wait()
    before = written()
    assert len(before) >= 90, 'the kill lands after the seeds were first used'
    r = run_friction(*args)
    assert r.returncode == 0, r.stderr[-2000:]
    m = re.search(r'(\d+) dropped as near-duplicates; (\d+) reworded to avoid one', r.stdout)
    assert m, r.stdout
    ids = ids_of(out)
    assert len(ids) == len(set(ids)) and ids[:len(before)] == before, 'nothing written before is lost'
    assert len(ids) == 160 - int(m.group(1)), 'every job not in the file was dropped, and counted'
    v = run_friction('validate', out)
    assert v.returncode == 0 and f'{len(ids)} lines, 0 problems' in v.stdout, v.stdout[-2000:]


def test_resume_keeps_a_complete_last_line_without_newline(tmp_path):
    out = tmp_path / 'g.jsonl'
    generate(out, 3, progress=False)
    out.write_bytes(out.read_bytes().rstrip(b'\n'))  # e.g. edited by hand
    rep = generate(out, 4, progress=False)
    assert (rep['existing'], rep['written']) == (3, 1) and validate_file(out) == []


def test_generate_refuses_a_file_from_another_job(tmp_path, run_friction):
    out = tmp_path / 'g.jsonl'
    generate(out, 3, progress=False)
    err = one_line_error(run_friction('generate', '-n', '2', '--out', out))
    assert 'larger -n' in err and len(ids_of(out)) == 3, 'the existing data is untouched'


def test_generate_refuses_a_bad_line_in_the_middle(tmp_path):
    out = tmp_path / 'g.jsonl'
    generate(out, 3, progress=False)
    lines = out.read_text().splitlines(); lines[1] = '{"broken": '
    out.write_text('\n'.join(lines) + '\n')
    with pytest.raises(FrictionError, match='g.jsonl:2'): generate(out, 5, progress=False)
    assert out.read_text().splitlines()[1] == '{"broken": ', 'nothing is dropped silently'


def test_second_writer_is_refused(tmp_path):
    import fcntl
    out = tmp_path / 'g.jsonl'; out.touch()
    with open(out) as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        with pytest.raises(FrictionError, match='another process'): generate(out, 2, progress=False)


def test_generate_argument_errors(tmp_path, run_friction):
    assert '-n must be at least 1' in one_line_error(run_friction('generate', '-n', '0', '--out', tmp_path / 'x'), 2)
    if 'OPENAI_API_KEY' not in os.environ:  # a missing key is named before anything runs
        err = one_line_error(run_friction('generate', '-n', '2', '--out', tmp_path / 'x', '--model', 'openai/gpt-4o-mini'), 2)
        assert 'needs OPENAI_API_KEY' in err
        assert not (tmp_path / 'x').exists()
    err = one_line_error(run_friction('generate', '-n', '2', '--out', tmp_path / 'x', '--seeds', tmp_path / 'none.jsonl'))
    assert 'none.jsonl: no such file' in err


def test_validate_names_the_broken_line(tmp_path, run_friction):
    good = Path(ROOT / 'data' / 'train.jsonl').read_text().splitlines()[:4]
    f = tmp_path / 'broken.jsonl'
    f.write_text('\n'.join(good[:3] + ['{"id": "x", "behaviour": "answer", "user_input": "hi"'] + good[3:]) + '\n')
    r = run_friction('validate', f)
    assert r.returncode == 1
    assert f"{f}:4: field 'json': bad JSON" in r.stdout
    assert r.stdout.count(f"{f}:") == 2 and '5 lines, 1 problem' in r.stdout, 'only the broken line is reported'


def test_validate_reports_every_problem_with_line_and_field(tmp_path, run_friction):
    a, b, c = read_jsonl(ROOT / 'data' / 'train.jsonl')[:3]
    bad = [a, {**b, 'behaviour': 'flatter'}, {k: v for k, v in c.items() if k != 'thoughts'}, {**a},
           {**c, 'final_answer': '<think>oops</think> answer'}, {**b, 'id': 'new', 'thoughts': b['thoughts'][:1] + [
               {'agent': 'optimist', 'thought': 'fine'}]}]
    f = write_jsonl(tmp_path / 'bad.jsonl', bad)
    r = run_friction('validate', f)
    assert r.returncode == 1
    for where in [":2: field 'behaviour'", ":3: field 'thoughts': missing field", ":4: field 'id': duplicate id",
                  ":4: field 'dialogue': duplicate of line 1", ":5: field 'final_answer'", ":6: field 'thoughts.1.agent'"]:
        assert f'{f}{where}' in r.stdout, (where, r.stdout)


def test_validate_chat_files(tmp_path, run_friction):
    ok = {'messages': [{'role': 'user', 'content': 'Is 1 prime?'},
                       {'role': 'assistant', 'content': '<think>\nDivisors of 1: only 1.\n</think>\n\nNo, 1 is not prime.'}]}
    unbalanced = {'messages': [{'role': 'user', 'content': 'Why is the sky green?'},
                               {'role': 'assistant', 'content': '<think>\nIt is not green.\n\nThe sky is blue.'}]}
    f = write_jsonl(tmp_path / 'chat.jsonl', [ok])
    assert run_friction('validate', f).returncode == 0
    write_jsonl(f, [ok, unbalanced])
    r = run_friction('validate', f)
    assert r.returncode == 1 and f"{f}:2: field 'messages.1.content': unbalanced <think> tags (1 open, 0 close)" in r.stdout


def test_shipped_training_data_is_clean(run_friction):
    r = run_friction('validate', ROOT / 'data' / 'train.jsonl')
    assert r.returncode == 0, r.stdout[-2000:]


def test_dataset_and_card(tmp_path):
    recs = read_records(ROOT / 'data' / 'train.jsonl')[:20]
    ds = to_dataset(recs)
    assert ds.column_names == ['id', 'behaviour', 'messages'] and ds.num_rows == 20
    assert ds[0]['messages'][-1]['content'].startswith('<think>')
    card = dataset_card(recs, 'me/friction')
    assert DatasetCard(str(card)).data.to_dict() == card.data.to_dict(), 'the YAML reads back'
    assert (card.data.license, card.data.pretty_name) == ('cc-by-4.0', 'friction')
    assert '20 records' in card.text and 'stand-in' not in card.text
    assert 'stand-in' in dataset_card(recs + [generate_one()]).text, 'generated by the stand-in: the card warns'


def test_push_to_hub_only_with_a_token_and_never_prints_it(tmp_path, monkeypatch):
    recs = read_records(ROOT / 'data' / 'train.jsonl')[:5]
    monkeypatch.delenv('HF_TOKEN', raising=False)
    with pytest.raises(FrictionError, match='HF_TOKEN'): push_to_hub(recs, 'me/friction')
    secret = 'hf_testtokenthatmustnotleak'
    monkeypatch.setenv('HF_TOKEN', secret)
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')  # everything runs up to the network call, which is refused
    with pytest.raises(FrictionError) as e: push_to_hub(recs, 'me/friction')
    assert 'could not push' in str(e.value) and secret not in str(e.value)


def test_dataset_stage_with_the_standin_trains_on_shipped_data_only(tmp_path):
    prof = get_profile('smoke')
    art = dataset_stage(prof, tmp_path, {})
    gen, train = read_records(art['generated_data']), read_records(art['train_data'])
    assert len(gen) == prof.n_generate and validate_file(art['generated_data']) == []
    assert [r.id for r in train] == [r.id for r in read_records(ROOT / 'data' / 'train.jsonl')]
    assert Path(art['dataset_plot']).stat().st_size > 10_000
    assert DatasetCard.load(tmp_path / 'dataset' / 'README.md').data.size_categories == ['n<1K']


def test_dataset_stage_with_a_real_llm_adds_the_generated_records(openai_server, tmp_path, monkeypatch):
    monkeypatch.setenv('FRICTION_LLM_API_BASE', openai_server.url)
    prof = replace(get_profile('smoke'), llm_model='openai/test', n_generate=7)
    art = dataset_stage(prof, tmp_path, {})
    shipped = read_records(ROOT / 'data' / 'train.jsonl')
    assert len(read_records(art['train_data'])) == len(shipped) + 7
    n = openai_server.requests
    dataset_stage(prof, tmp_path, {})  # again: everything is there, nothing is asked again
    assert openai_server.requests == n


def test_unreachable_generator_falls_back_to_the_shipped_dialogues_at_once(tmp_path, monkeypatch, capsys):
    "A t4-like profile whose generator is a local server that is not running: no dialogue is tried, training uses the shipped data."
    import time
    from dataclasses import replace
    from friction_reasoning import dataset
    from friction_reasoning.core import get_profile, data_path
    monkeypatch.setenv('OLLAMA_API_BASE', 'http://127.0.0.1:9')  # nothing listens there
    monkeypatch.delenv('FRICTION_LLM_API_BASE', raising=False)
    monkeypatch.setattr(dataset, 'generate', lambda *a, **k: pytest.fail('no dialogue is attempted'))
    prof = replace(get_profile('t4', check_hardware=False), name='t4like')
    assert prof.llm_model.startswith('ollama/')
    t0 = time.perf_counter()
    art = dataset.dataset_stage(prof, tmp_path / 'run', {})
    assert time.perf_counter() - t0 < 30
    out = capsys.readouterr().out
    assert 'cannot be reached (no server answers at http://127.0.0.1:9' in out and 'shipped dialogues' in out
    assert 'generated_data' not in art
    assert len(dataset.read_records(art['train_data'])) == len(dataset.read_records(data_path('train.jsonl')))

def test_hosted_generator_without_key_is_named(monkeypatch):
    from friction_reasoning.dataset import generator_problem
    monkeypatch.delenv('OPENAI_API_KEY', raising=False); monkeypatch.delenv('FRICTION_LLM_API_BASE', raising=False)
    assert generator_problem('openai/gpt-4o-mini') == 'OPENAI_API_KEY not set'
    assert generator_problem('friction-standin/offline') is None


def test_the_exercise_solution_runs_on_its_own(capsys):
    "Notebook 02's solution makes its own folder (the notebook's `tmp` is deleted before it) and ends with a clean file."
    import tempfile
    from friction_reasoning.dataset import generate as gen, validate_file as val
    md = ''.join(json.loads((ROOT / 'nbs' / '02_dataset.ipynb').read_text())['cells'][-1]['source'])
    code = re.search(r'<details>.*?```python\n(.*?)```', md, re.S).group(1)
    assert 'tmp /' not in code
    exec(code, {'json': json, 'tempfile': tempfile, 'Path': Path, 'generate': gen, 'validate_file': val})
    out = capsys.readouterr().out
    assert "'written': 10" in out and out.rstrip().endswith('[]'), out
