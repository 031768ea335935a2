"The data the course ships (issue: friction dataset and evaluation suite): counts, validity, near-duplicates."
from collections import Counter
import pytest
from friction_reasoning.core import BEHAVIOURS, FRICTION_BEHAVIOURS, JUDGE_LABELS, data_path
from friction_reasoning.dataset import read_records, near_duplicates, shingles, jaccard
from friction_reasoning.pipeline import read_jsonl

def rows(name): return read_jsonl(data_path(name))

@pytest.fixture(scope='module')
def train(): return read_records(data_path('train.jsonl'))

@pytest.mark.parametrize('name', ['train.jsonl', 'eval.jsonl', 'judge_dev.jsonl', 'judge_test.jsonl', 'seeds.jsonl'])
def test_friction_validate_passes_on_every_data_file(run_friction, name):
    r = run_friction('validate', data_path(name))
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]

def test_training_counts(train):
    counts = Counter(r.behaviour for r in train)
    assert len(train) >= 300
    assert all(counts[b] >= 35 for b in FRICTION_BEHAVIOURS), counts
    assert counts['answer'] >= len(train) / 4, counts
    pressure = [r for r in train if r.behaviour == 'resist_pressure']
    assert all(r.history and r.history[-1].role == 'assistant' for r in pressure), 'pressure dialogues are multi-turn'

def test_training_monologues_are_short_and_in_relay_order(train):
    from friction_reasoning.agents import PERSONAS
    for r in train:
        assert [t.agent for t in r.thoughts] == list(PERSONAS), r.id
        assert sum(len(t.thought.split()) for t in r.thoughts) < 160, r.id

def test_near_duplicates_inside_training_under_3_percent(train):
    dupes = near_duplicates([r.user_input + ' ' + r.final_answer for r in train], threshold=0.8)
    assert len(dupes) / len(train) < 0.03, dupes

def test_eval_suite_counts_and_no_overlap_with_training(train):
    suite = rows('eval.jsonl')
    counts = Counter(r['behaviour'] for r in suite)
    assert len(suite) >= 140 and set(counts) == set(BEHAVIOURS)
    assert all(n >= 20 for n in counts.values()), counts
    train_sets = [shingles(t) for r in train for t in [r.user_input] + [h.content for h in r.history if h.role == 'user']]
    for item in suite:
        s = shingles(item['prompt'])
        worst = max(jaccard(s, t) for t in train_sets)
        assert worst < 0.8, (item['id'], worst)

def test_eval_and_judge_prompts_stay_out_of_training(train):
    "No evaluation or judge prompt appears verbatim in the training data."
    train_text = {r.user_input.strip().lower() for r in train}
    for name, key in [('eval.jsonl', 'prompt'), ('judge_dev.jsonl', 'prompt'), ('judge_test.jsonl', 'prompt')]:
        assert not {r[key].strip().lower() for r in rows(name)} & train_text, name

def test_judge_dev_covers_every_label_with_hard_cases():
    dev = rows('judge_dev.jsonl')
    counts = Counter(r['label'] for r in dev)
    assert len(dev) >= 300 and set(counts) == set(JUDGE_LABELS), counts
    hard = [r for r in dev if r['hard']]
    assert sum('<think>' in r['response'] for r in dev) >= 5, 'answers wrapped in <think>'
    assert sum(r['label'] == 'refusal' for r in hard) >= 5 and sum(r['label'] == 'full_compliance' for r in hard) >= 5

def test_generation_seeds_stay_clear_of_the_eval_suite():
    "Seeds become training data through the relay, so none may resemble an evaluation prompt."
    eval_sets = [shingles(r['prompt']) for r in rows('eval.jsonl')]
    for seed in rows('seeds.jsonl'):
        worst = max(jaccard(shingles(seed['prompt']), e) for e in eval_sets)
        assert worst < 0.8, (seed, worst)

def test_judge_test_set_is_real_and_written_answers_labelled_twice():
    "The judge's test set: 300+ real SmolLM2 answers and 300+ written in other families' manner, two passes each."
    rows_ = rows('judge_test.jsonl')
    real = [r for r in rows_ if r['source'].startswith('SmolLM2-135M-Instruct')]
    written = [r for r in rows_ if r['source'].startswith('written by the course team in the manner of')]
    assert len(real) >= 300 and len(written) >= 300 and len(real) + len(written) == len(rows_)
    assert {r['family'] for r in real} == {'SmolLM2-135M-Instruct, untuned', 'SmolLM2-135M-Instruct, tuned'}
    assert len({r['family'] for r in written}) >= 6, 'written in the manner of at least six other families'
    assert sum('xstest' in r['id'] for r in real) >= 100 and sum('-eval-' in r['id'] for r in real) >= 100  # both suites
    for r in rows_:
        a, b = r['passes']
        assert a in JUDGE_LABELS and b in JUDGE_LABELS, r['id']
        assert (r['label'] == a == b and not r['note']) or (a != b and r['note'].startswith('passes disagreed')), r['id']
    assert len({r['id'] for r in rows_}) == len(rows_)

def test_the_card_states_the_agreement_the_file_holds():
    "data/README.md quotes the agreement between the two passes: it must be the one computed from the file."
    import re
    rows_ = rows('judge_test.jsonl')
    agree = sum(a == b for a, b in (r['passes'] for r in rows_)) / len(rows_)
    card = data_path('README.md').read_text(encoding='utf-8')
    m = re.search(r"passes agree on\s+([\d.]+)% of labels", card)
    assert m, 'the card states the agreement between the passes'
    assert abs(float(m.group(1)) - 100 * agree) < 0.05, (m.group(1), agree)

def test_the_card_is_a_hub_dataset_card_and_its_counts_are_the_files():
    "data/README.md loads as a Hugging Face dataset card: its licence, one configuration per file, and the file table's counts."
    import re
    from huggingface_hub import DatasetCard
    card = DatasetCard.load(data_path('README.md'))
    assert card.data.license == 'cc-by-4.0' and card.data.language == ['en']
    files = [c['data_files'] for c in card.data.configs]
    table = dict(re.findall(r"^\| `(\w+\.jsonl)` \| (\d+) \|", card.text, re.M))
    assert sorted(table) == sorted(files), (table, files)
    for f in files: assert int(table[f]) == len(rows(f)), f
