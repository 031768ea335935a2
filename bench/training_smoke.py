"""Training on the CPU: how much of each batch is real tokens, packed vs not packed; what trl's own (tiled) loss, which
`make_trainer` uses everywhere, costs on a CPU against the model's own loss from the full logits, side by side; and how
long `friction train --profile smoke` takes end to end (goals: >= 0.9 non-pad with packing; < 60 s on 2 cores).

    .venv/bin/python bench/training_smoke.py [--data data/train.jsonl] [--laptop-steps 6]

The loss comparison trains the whole smoke `train()` both ways, and (when the SmolLM2 base is cached, as `make run`
leaves it) a few laptop-profile steps both ways; it reports CPU time (`time.process_time`, one torch thread: what other
jobs on the machine disturb least), the ratio trl / own loss, and whether the losses agree step by step.
Prints tables; record the figures (with date and machine) in bench/training.md."""
import argparse, contextlib, json, os, subprocess, sys, tempfile, time
from pathlib import Path

for k, v in dict(OMP_NUM_THREADS='1', TOKENIZERS_PARALLELISM='false', HF_HUB_OFFLINE='1', TRANSFORMERS_OFFLINE='1',
                 HF_DATASETS_OFFLINE='1', MPLBACKEND='Agg').items(): os.environ.setdefault(k, v)
ROOT = Path(__file__).resolve().parent.parent

def token_shares(trainer):
    "Over one pass of the training dataloader: (positions, real tokens, tokens carrying loss)."
    pos = real = learnt = 0
    for b in trainer.get_train_dataloader():
        ids = b['input_ids']
        pos += ids.numel()
        # padding-free batches have no padding at all; padded batches mark it in the attention mask
        real += int(b['attention_mask'].sum()) if 'attention_mask' in b else ids.numel()
        learnt += int((b['labels'] != -100).sum())
    return pos, real, learnt

def packing(prof, base, ds, tmp, unpacked_batch):
    from friction_reasoning.training import load_model, make_trainer
    rows = []
    for name, kw in [(f'packed (profile: {prof.batch_size} row(s) of {prof.max_seq_len})', {}),
                     (f'not packed, {unpacked_batch} dialogues per batch',
                      dict(packing=False, padding_free=False, per_device_train_batch_size=unpacked_batch))]:
        model, tok = load_model(base, prof, training=True)
        pos, real, learnt = token_shares(make_trainer(model, tok, ds, prof, tmp / 'ckpt', **kw))
        rows.append((name, pos, real / pos, learnt / pos))
    print(f"\n{'batches':44} {'positions':>10} {'non-pad':>8} {'with loss':>10}")
    for name, pos, share, ls in rows: print(f"{name:44} {pos:10,} {share:8.3f} {ls:10.3f}")
    print(f"non-pad share, packed / not packed: {rows[0][2] / rows[1][2]:.2f}x  (goal: packed >= 0.9)")

@contextlib.contextmanager
def loss_path(trl_loss):
    "Inside: `make_trainer` builds trl's trainer as always (`trl_loss`), or one whose loss is the model's own forward."
    import trl
    trainer = trl.SFTTrainer
    class OwnLoss(trainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            out = model(**inputs, use_cache=False, num_items_in_batch=num_items_in_batch)  # shifted cross-entropy
            return (out.loss, out) if return_outputs else out.loss
    trl.SFTTrainer = trainer if trl_loss else OwnLoss
    try: yield
    finally: trl.SFTTrainer = trainer

def smoke_train(data, tmp, trl_loss):
    "CPU seconds of the whole smoke `train()` (set-up, 3 epochs, evaluations, saving) on one loss path; its results."
    from friction_reasoning.training import train
    with loss_path(trl_loss):
        c0 = time.process_time()
        out = train(data, tmp / f'smoke-{trl_loss}', 'smoke', overwrite=True)
        return time.process_time() - c0, json.loads((out / 'training_config.json').read_text())['results']

def laptop_steps(base, ds, tmp, steps, trl_loss):
    "CPU seconds of `steps` laptop-profile optimizer steps (SmolLM2, 256-token rows) on one loss path; the step losses."
    from friction_reasoning.core import get_profile
    from friction_reasoning.training import load_model, make_trainer
    prof = get_profile('laptop')
    with loss_path(trl_loss):
        t = make_trainer(*load_model(base, prof, training=True), ds, prof, tmp / 'ck-laptop', max_steps=steps, max_length=256,
                         logging_steps=1, eval_strategy='no', eval_on_start=False, save_strategy='no', load_best_model_at_end=False)
    c0 = time.process_time(); t.train()
    return time.process_time() - c0, [h['loss'] for h in t.state.log_history if 'loss' in h]

def loss_paths(data, ds, tmp, n_laptop):
    print("\nloss, CPU seconds (one torch thread)        trl's loss   own loss   ratio   losses agree")
    (c_cpu, r_cpu), (c_trl, r_trl) = smoke_train(data, tmp, False), smoke_train(data, tmp, True)
    same = r_cpu['eval_losses'] == r_trl['eval_losses'] and r_cpu['train_losses'] == r_trl['train_losses']
    print(f"{'smoke train(), ' + str(r_cpu['steps']) + ' steps':44} {c_trl:8.1f} {c_cpu:10.1f} {c_trl / c_cpu:7.2f}   {same} "
          f"(best validation loss {r_trl['best_eval_loss']:.4f} / {r_cpu['best_eval_loss']:.4f})")
    from friction_reasoning.pipeline import smollm2_base
    try: base = smollm2_base()
    except Exception as e: return print(f"laptop steps: skipped, no SmolLM2 base here ({str(e).splitlines()[0]})")
    (l_cpu, s_cpu), (l_trl, s_trl) = laptop_steps(base, ds, tmp, n_laptop, False), laptop_steps(base, ds, tmp, n_laptop, True)
    agree = max(abs(a - b) for a, b in zip(s_cpu, s_trl)) < 1e-3
    print(f"{f'laptop (SmolLM2), {n_laptop} steps of 256 tokens':44} {l_trl:8.1f} {l_cpu:10.1f} {l_trl / l_cpu:7.2f}   {agree} "
          f"(losses {', '.join(f'{x:.4f}' for x in s_trl[:3])} ...)")

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--data', default=str(ROOT / 'data' / 'train.jsonl'))
    ap.add_argument('--unpacked-batch', type=int, default=8, help='rows per step for the comparison without packing')
    ap.add_argument('--laptop-steps', type=int, default=6, help='laptop-profile steps per loss path (0: skip)')
    args = ap.parse_args()
    import torch
    from friction_reasoning.core import get_profile, build_tiny_model
    from friction_reasoning.pipeline import quiet_libraries
    from friction_reasoning.training import chat_dataset, _hardware
    quiet_libraries(); torch.set_num_threads(1)
    prof, tmp = get_profile('smoke'), Path(tempfile.mkdtemp())
    lines = [l for l in Path(args.data).read_text(encoding='utf-8').splitlines() if l.strip()]
    base = build_tiny_model(tmp / 'base', corpus=[json.dumps(json.loads(l), ensure_ascii=False) for l in lines])
    ds = chat_dataset(args.data, prof.eval_fraction, prof.seed)
    packing(prof, base, ds, tmp, args.unpacked_batch)
    loss_paths(Path(args.data), ds, tmp, args.laptop_steps)

    out = tmp / 'adapter'
    t0 = time.perf_counter()
    r = subprocess.run([str(Path(sys.executable).parent / 'friction'), 'train', '--profile', 'smoke', '--data', args.data,
                        '--out', str(out)], capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    if r.returncode: sys.exit(f"friction train failed:\n{r.stderr[-2000:]}")
    res = json.loads((out / 'training_config.json').read_text())['results']
    print(f"\nfriction train --profile smoke: {wall:.1f} s wall (goal < 60 s), of which train() {res['seconds']:.1f} s; "
          f"{res['steps']} steps ({res['stopped']}); validation loss {res['initial_eval_loss']:.3f} -> "
          f"{res['best_eval_loss']:.3f}")
    print(f"machine: {_hardware()}; load average {os.getloadavg()[0]:.1f}; {time.strftime('%Y-%m-%d')}")

if __name__ == '__main__': main()
