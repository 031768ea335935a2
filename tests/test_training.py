"""`friction train` and the training library: it trains on the shipped data, learns the format, saves what it says,
and refuses bad input with one clear line, leaving nothing half-written."""
import json, os
from pathlib import Path
import pytest, torch
from friction_reasoning.core import data_path, get_profile, has_cuda
from friction_reasoning.dataset import read_records, to_messages
from friction_reasoning.training import load_model, chat_dataset, make_trainer, train, adapter_base

TRAIN = data_path('train.jsonl')

def one_line_error(r):
    assert r.returncode != 0, r.stdout[-2000:]
    assert 'Traceback' not in r.stderr, r.stderr[-3000:]
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    return r.stderr

@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    "`friction train --profile smoke` on the shipped data, once for this module: the adapter folder."
    from conftest import friction
    out = tmp_path_factory.mktemp('train') / 'adapter'
    r = friction('train', '--profile', 'smoke', '--data', TRAIN, '--out', out)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return out

def test_train_writes_everything_and_validation_loss_falls(trained):
    for f in ['adapter_model.safetensors', 'adapter_config.json', 'tokenizer.json', 'tokenizer_config.json',
              'training_config.json', 'loss.png', 'README.md']:
        assert (trained / f).exists(), f
    cfg = json.loads((trained / 'training_config.json').read_text())
    res = cfg['results']
    assert res['best_eval_loss'] < res['initial_eval_loss'] - 0.5, res  # it learns, by a clear margin
    evals = [l for _, l in res['eval_losses']]
    assert len(evals) >= 3 and evals[-1] < evals[0]
    base = adapter_base(trained)
    assert base == cfg['base_model'] and (Path(base) / 'config.json').exists()  # names a base that exists
    assert Path(base) == trained.with_name('adapter.base').resolve()  # the tiny base, built next to the adapter
    from huggingface_hub import ModelCard
    card = ModelCard.load(trained / 'README.md')
    assert card.data.base_model == base and card.data.library_name == 'peft' and 'lora' in card.data.tags
    for fact in [base, 'train.jsonl', 'Hardware', 'lora_r', f"{res['best_eval_loss']:.3f}", f"{res['seconds']:.0f} s"]:
        assert fact in card.text, fact
    assert not trained.with_name('adapter.checkpoints').exists(), 'checkpoints are removed once the adapter is saved'
    assert not list(trained.parent.glob('.adapter.tmp-*'))

def test_saved_tokenizer_renders_like_training(trained):
    from transformers import AutoTokenizer
    saved = AutoTokenizer.from_pretrained(trained)
    assert '{% generation' not in saved.chat_template and 'generation %}' not in saved.chat_template
    _, train_tok = load_model(None, 'smoke', adapter=trained)
    msgs = to_messages(read_records(TRAIN)[0])
    assert saved.apply_chat_template(msgs, tokenize=False) == train_tok.apply_chat_template(msgs, tokenize=False)
    assert saved.padding_side == 'left'

def test_only_the_final_assistant_turn_carries_loss(trained):
    """On real packed batches from trl's collator, each dialogue's labelled tokens decode to exactly its final assistant
    turn (the `<think>` monologue and the end-of-turn token included; a prefix of it where the dialogue was cut): no
    user turn, header or earlier answer of a pressure dialogue carries loss. Checked on the text, not on trl's masks."""
    prof = get_profile('smoke')
    model, tok = load_model(adapter_base(trained), prof, training=True)
    ds = chat_dataset(TRAIN, prof.eval_fraction, prof.seed)
    turns = {r['completion'][0]['content'] + '<|im_end|>' for r in ds['train']}
    trainer = make_trainer(model, tok, ds, prof, trained.parent / 'ckpt-mask')
    seen = pressure = cut = 0
    for i, batch in enumerate(trainer.get_train_dataloader()):
        for ids, labels, pos in zip(*(batch[k].tolist() for k in ('input_ids', 'labels', 'position_ids'))):
            starts = [j for j, q in enumerate(pos) if q == 0] + [len(ids)]  # packed dialogues restart at position 0
            for a, b in zip(starts, starts[1:]):
                marked = [j for j in range(a, b) if labels[j] != -100]
                learnt = tok.decode([ids[j] for j in marked])
                whole = learnt in turns  # cut at max_seq_len: a dialogue alone in its row, its final turn a prefix
                assert whole or (b - a == prof.max_seq_len and any(t.startswith(learnt) for t in turns)), learnt[:200]
                assert marked == list(range(marked[0], marked[-1] + 1)) and learnt.startswith('<think>'), learnt[:200]
                seen += 1; cut += not whole
                pressure += tok.decode(ids[a:b]).count('<|im_start|>assistant') > 1
        if i == 20: break
    assert seen >= 20 and pressure >= 1, (seen, pressure)  # pressure dialogues: their first answer is context only

def test_the_cpu_trains_with_trls_own_loss(tmp_path):
    "What the GPU profiles train with runs here: trl's tiled loss equals the model's own cross-entropy; its metrics are logged."
    from trl import SFTTrainer
    from friction_reasoning.core import build_tiny_model
    prof = get_profile('smoke')
    t = make_trainer(*load_model(build_tiny_model(tmp_path / 'base'), prof, training=True),
                     chat_dataset(TRAIN, prof.eval_fraction, prof.seed), prof, tmp_path / 'ck', max_steps=6, logging_steps=1,
                     eval_steps=3, eval_on_start=False, save_strategy='no', load_best_model_at_end=False)
    assert type(t) is SFTTrainer, 'trl\'s own trainer, no subclass of ours'
    with torch.no_grad():
        for _, b in zip(range(3), t.get_eval_dataloader()):
            assert abs(float(t.compute_loss(t.model, dict(b))) - float(t.model(**b, use_cache=False).loss)) < 1e-4
    t.train()
    logged = [h for h in t.state.log_history if 'loss' in h]
    assert len(logged) == 6 and all({'mean_token_accuracy', 'entropy'} <= set(h) for h in logged), logged
    assert sum('eval_loss' in h for h in t.state.log_history) == 2

def test_tuned_model_opens_and_closes_its_monologue(trained):
    "Greedy: every reply opens with <think>; after a monologue the most likely next token is </think>."
    model, tok = load_model(None, 'smoke', adapter=trained)
    base, _ = load_model(adapter_base(trained), 'smoke')
    prof = get_profile('smoke')
    held_out = chat_dataset(TRAIN, prof.eval_fraction, prof.seed)['validation']
    prompts = [r['prompt'] for r in held_out]
    enc = tok.apply_chat_template(prompts, add_generation_prompt=True, return_tensors='pt', return_dict=True, padding=True)
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=8, do_sample=False)
        out_base = base.generate(**enc, max_new_tokens=8, do_sample=False)
    replies = tok.batch_decode(out[:, enc['input_ids'].shape[1]:], skip_special_tokens=True)
    assert all(r.startswith('<think>') for r in replies), replies
    base_replies = tok.batch_decode(out_base[:, enc['input_ids'].shape[1]:])
    assert sum(r.startswith('<think>') for r in base_replies) < len(base_replies) / 2, 'the base model does not do it'
    close = tok.convert_tokens_to_ids('</think>')
    closed = 0
    for r in held_out:
        monologue = r['completion'][0]['content'].split('</think>')[0]
        text = tok.apply_chat_template(r['prompt'], add_generation_prompt=True, tokenize=False) + monologue
        ids = tok(text, return_tensors='pt', add_special_tokens=False)
        with torch.no_grad(): closed += int(model(**ids).logits[0, -1].argmax()) == close
    assert closed >= 0.8 * len(held_out), f"</think> is the greedy choice after {closed}/{len(held_out)} monologues"

def test_adapter_reloads_with_the_same_logits(tmp_path):
    prof = get_profile('smoke')
    from friction_reasoning.core import build_tiny_model
    base = build_tiny_model(tmp_path / 'base')
    model, tok = load_model(base, prof, training=True)
    trainer = make_trainer(model, tok, chat_dataset(TRAIN, prof.eval_fraction, prof.seed), prof, tmp_path / 'ckpt',
                           max_steps=5, eval_on_start=False, eval_strategy='no', save_strategy='no',
                           load_best_model_at_end=False)
    trainer.train()
    trainer.model.save_pretrained(tmp_path / 'adapter'); tok.save_pretrained(tmp_path / 'adapter')
    probe = tok.apply_chat_template(to_messages(read_records(TRAIN)[3]), return_tensors='pt', return_dict=True)
    with torch.no_grad():
        before = trainer.model.eval()(**probe).logits
        reloaded = load_model(None, prof, adapter=tmp_path / 'adapter')[0]
        after = reloaded(**probe).logits
        plain = load_model(base, prof)[0](**probe).logits
    assert torch.allclose(before, after, atol=1e-5), float((before - after).abs().max())
    assert not torch.allclose(before, plain, atol=1e-3), 'the adapter changes the model'
    # the same adapter merged into the weights and saved as a plain folder: load_model loads it alone, same logits
    reloaded.merge_and_unload().save_pretrained(tmp_path / 'merged'); tok.save_pretrained(tmp_path / 'merged')
    merged, mtok = load_model(tmp_path / 'merged', prof)
    with torch.no_grad(): assert torch.allclose(before, merged(**probe).logits, atol=1e-4)
    assert mtok.padding_side == 'left' and not merged.training
    # an adapter folder given as the model goes onto its base
    with torch.no_grad(): assert torch.allclose(before, load_model(tmp_path / 'adapter', prof)[0](**probe).logits, atol=1e-5)

def test_adapter_base_names_the_base_or_says_why_not(tmp_path):
    from friction_reasoning.core import FrictionError
    with pytest.raises(FrictionError, match='does not exist'): adapter_base(tmp_path / 'gone')
    with pytest.raises(FrictionError, match='no adapter_config.json'): adapter_base(tmp_path)
    (tmp_path / 'adapter_config.json').write_text(json.dumps({'peft_type': 'LORA', 'base_model_name_or_path': 'org/base'}))
    assert adapter_base(tmp_path) == 'org/base'

def test_stopped_run_resumes_from_its_checkpoint(tmp_path):
    from transformers import TrainerCallback
    class Crash(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            if state.global_step == 5: raise KeyboardInterrupt('power cut')
    out = tmp_path / 'adapter'
    kw = dict(max_steps=8, save_steps=2, eval_steps=2)
    with pytest.raises(KeyboardInterrupt): train(TRAIN, out, 'smoke', callbacks=[Crash()], **kw)
    ckpts = tmp_path / 'adapter.checkpoints'
    assert not out.exists() and sorted(p.name for p in ckpts.iterdir())[-1] == 'checkpoint-4'
    with pytest.raises(Exception, match='--resume'): train(TRAIN, out, 'smoke', **kw)
    train(TRAIN, out, 'smoke', resume=True, **kw)
    cfg = json.loads((out / 'training_config.json').read_text())
    assert cfg['results']['steps'] == 8 and not ckpts.exists()
    assert [s for s, _ in cfg['results']['eval_losses']][:2] == [0, 2]  # history from before the crash is kept

def test_overwrite_starts_afresh_and_never_resumes_an_old_checkpoint(tmp_path):
    "`friction run` always passes overwrite: a stopped run's checkpoints must not survive into the next run's resume."
    from transformers import TrainerCallback
    class Crash(TrainerCallback):
        def __init__(self, step): self.step = step
        def on_step_end(self, args, state, control, **kw):
            if state.global_step == self.step: raise KeyboardInterrupt('power cut')
    out, ckpts = tmp_path / 'adapter', tmp_path / 'adapter.checkpoints'
    kw = dict(max_steps=6, save_steps=2, eval_steps=2)
    with pytest.raises(KeyboardInterrupt): train(TRAIN, out, 'smoke', callbacks=[Crash(5)], **kw)
    assert (ckpts / 'checkpoint-4').is_dir()
    with pytest.raises(KeyboardInterrupt): train(TRAIN, out, 'smoke', overwrite=True, callbacks=[Crash(1)], **kw)
    assert not list(ckpts.glob('checkpoint-*')), 'the old run\'s checkpoints are gone'
    with pytest.raises(Exception, match='nothing to resume'): train(TRAIN, out, 'smoke', resume=True, **kw)

def test_resume_without_checkpoint_is_an_error(run_friction, tmp_path):
    err = one_line_error(run_friction('train', '--out', tmp_path / 'a', '--resume'))
    assert 'nothing to resume' in err and not (tmp_path / 'a').exists()

# ---- bad input: one line, nothing half-written ----

def test_missing_data_file(run_friction, tmp_path):
    err = one_line_error(run_friction('train', '--data', tmp_path / 'nope.jsonl', '--out', tmp_path / 'a'))
    assert 'nope.jsonl' in err and 'no such file' in err
    assert list(tmp_path.iterdir()) == []

def test_malformed_data_file_names_file_and_line(run_friction, tmp_path):
    bad = tmp_path / 'bad.jsonl'
    bad.write_text(TRAIN.read_text().splitlines()[0] + '\n{"id": "broken", \n')
    err = one_line_error(run_friction('train', '--data', bad, '--out', tmp_path / 'a'))
    assert 'bad.jsonl:2' in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ['bad.jsonl']

def test_record_without_assistant_turn(run_friction, tmp_path):
    rec = json.loads(TRAIN.read_text().splitlines()[0]); del rec['final_answer']
    bad = tmp_path / 'bad.jsonl'
    bad.write_text(TRAIN.read_text().splitlines()[1] + '\n' + json.dumps(rec) + '\n')
    err = one_line_error(run_friction('train', '--data', bad, '--out', tmp_path / 'a'))
    assert 'bad.jsonl:2' in err and 'final_answer' in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ['bad.jsonl']

def test_unknown_profile(run_friction, tmp_path):
    err = one_line_error(run_friction('train', '--profile', 'mars', '--out', tmp_path / 'a'))
    assert "'mars'" in err and 'smoke' in err and 'gpu24' in err
    assert not (tmp_path / 'a').exists()

def test_existing_adapter_folder_is_refused(run_friction, tmp_path):
    out = tmp_path / 'a'; out.mkdir(); (out / 'keep.txt').write_text('mine')
    err = one_line_error(run_friction('train', '--out', out))
    assert '--overwrite' in err and str(out) in err
    assert [p.name for p in out.iterdir()] == ['keep.txt'] and len(list(tmp_path.iterdir())) == 1

@pytest.mark.skipif(has_cuda(), reason='this machine has a GPU')
@pytest.mark.parametrize('profile', ['t4', 'gpu24'])
def test_gpu_profile_without_gpu(run_friction, tmp_path, profile):
    err = one_line_error(run_friction('train', '--profile', profile, '--out', tmp_path / 'a'))
    assert 'needs a CUDA GPU' in err and '--profile smoke' in err
    assert list(tmp_path.iterdir()) == []

def test_missing_base_model_folder(run_friction, tmp_path):
    err = one_line_error(run_friction('train', '--base-model', tmp_path / 'nobase', '--out', tmp_path / 'a'))
    assert 'cannot load base model' in err and not (tmp_path / 'a').exists()
