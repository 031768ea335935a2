"""Training on the smoke profile: how much of each batch is real tokens, packed vs not packed, and how long
`friction train --profile smoke` takes end to end (goals: >= 0.9 non-pad with packing; < 60 s on 2 cores).

    .venv/bin/python bench/training_smoke.py [--data data/train.jsonl]

Prints one table; record the figures (with date and machine) in bench/training.md."""
import argparse, json, os, subprocess, sys, tempfile, time
from pathlib import Path

for k, v in dict(OMP_NUM_THREADS='1', TOKENIZERS_PARALLELISM='false', HF_HUB_OFFLINE='1', TRANSFORMERS_OFFLINE='1',
                 HF_DATASETS_OFFLINE='1', MPLBACKEND='Agg').items(): os.environ.setdefault(k, v)
ROOT = Path(__file__).resolve().parent.parent

def token_shares(trainer, pad_id):
    "Over one pass of the training dataloader: (positions, real tokens, tokens carrying loss)."
    pos = real = learnt = 0
    for b in trainer.get_train_dataloader():
        ids = b['input_ids']
        pos += ids.numel()
        # padding-free batches have no padding at all; padded batches mark it in the attention mask
        real += int(b['attention_mask'].sum()) if 'attention_mask' in b else ids.numel()
        learnt += int((b['labels'] != -100).sum())
    return pos, real, learnt

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--data', default=str(ROOT / 'data' / 'train.jsonl'))
    ap.add_argument('--unpacked-batch', type=int, default=8, help='rows per step for the comparison without packing')
    args = ap.parse_args()
    from friction_reasoning.core import get_profile, build_tiny_model
    from friction_reasoning.training import load_model, chat_dataset, make_trainer, _hardware, quiet_libraries
    quiet_libraries()
    prof = get_profile('smoke')
    tmp = Path(tempfile.mkdtemp())
    lines = [l for l in Path(args.data).read_text(encoding='utf-8').splitlines() if l.strip()]
    base = build_tiny_model(tmp / 'base', corpus=[json.dumps(json.loads(l), ensure_ascii=False) for l in lines])
    ds = chat_dataset(args.data, prof.eval_fraction, prof.seed)
    rows = []
    for name, kw in [(f'packed (profile: {prof.batch_size} row(s) of {prof.max_seq_len})', {}),
                     (f'not packed, {args.unpacked_batch} dialogues per batch',
                      dict(packing=False, padding_free=False, per_device_train_batch_size=args.unpacked_batch))]:
        model, tok = load_model(base, prof, training=True)
        tr = make_trainer(model, tok, ds, prof, tmp / 'ckpt', **kw)
        pos, real, learnt = token_shares(tr, tok.pad_token_id)
        rows.append((name, pos, real / pos, learnt / pos))
    print(f"\n{'batches':44} {'positions':>10} {'non-pad':>8} {'with loss':>10}")
    for name, pos, share, ls in rows: print(f"{name:44} {pos:10,} {share:8.3f} {ls:10.3f}")
    print(f"non-pad share, packed / not packed: {rows[0][2] / rows[1][2]:.2f}x  (goal: packed >= 0.9)")

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
