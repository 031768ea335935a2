"""The laptop profile on SmolLM2-135M-Instruct, measured side by side in one run:

1. training throughput: trl's trainer (as `friction train` builds it) against a bare peft loop on the same packed
   rows, same model, same sequence length (goal: trl >= 90% of the bare loop's tokens/s);
2. a short learning-rate sweep: validation loss after the same number of steps at each rate;
3. generation: answers/s and tokens/s of batched greedy decoding at two batch sizes.

    .venv/bin/python bench/laptop.py [--steps 12] [--sweep-steps 30] [--lrs 3e-4 1e-3 3e-3]

Prints tables; record the figures (with date and machine) in bench/laptop.md."""
import argparse, os, time
from pathlib import Path

for k, v in dict(TOKENIZERS_PARALLELISM='false', HF_HUB_OFFLINE='1', TRANSFORMERS_OFFLINE='1', HF_DATASETS_OFFLINE='1',
                 MPLBACKEND='Agg').items(): os.environ.setdefault(k, v)
ROOT = Path(__file__).resolve().parent.parent

def throughput(prof, base, ds, tmp, steps):
    "Real (loss-carrying context included) tokens per second: trl's trainer vs a bare peft loop on the same rows."
    import torch
    from peft import get_peft_model
    from friction_reasoning.training import load_model, make_trainer, lora_config
    model, tok = load_model(base, prof, training=True)
    tr = make_trainer(model, tok, ds, prof, tmp / 'ckpt', max_steps=steps, eval_strategy='no', eval_on_start=False,
                      save_strategy='no', load_best_model_at_end=False, gradient_accumulation_steps=1, logging_steps=steps)
    batches = [b for _, b in zip(range(steps + 2), tr.get_train_dataloader())]
    tokens = sum(int(b['input_ids'].numel()) for b in batches[2:])
    t0 = time.perf_counter(); tr.train(); t_trl = time.perf_counter() - t0  # includes trainer set-up, as a user pays it
    torch.manual_seed(0)
    bare = get_peft_model(load_model(base, prof, training=True)[0], lora_config(prof))
    opt = torch.optim.AdamW([p for p in bare.parameters() if p.requires_grad], lr=prof.learning_rate)
    bare.train()
    def step(b):
        out = bare(**{k: v for k, v in b.items() if k in ('input_ids', 'labels', 'position_ids')}, use_cache=False)
        out.loss.backward(); opt.step(); opt.zero_grad()
    for b in batches[:2]: step(b)  # warm-up, as the trainer's first steps
    t0 = time.perf_counter()
    for b in batches[2:]: step(b)
    t_bare = time.perf_counter() - t0
    trl_tokens = sum(int(b['input_ids'].numel()) for b in batches[:steps])
    return trl_tokens / t_trl, tokens / t_bare

def sweep(prof, base, data, tmp, lrs, steps):
    from friction_reasoning.training import train
    import json
    rows = []
    for lr in lrs:
        out = train(data, tmp / f'lr{lr}', prof, base_model=base, overwrite=True, learning_rate=lr, max_steps=steps,
                    eval_every=0.5)
        r = json.loads((out / 'training_config.json').read_text())['results']
        rows.append((lr, r['initial_eval_loss'], r['best_eval_loss'], r['seconds']))
    return rows

def generation(prof, base, batch_sizes, n_prompts, max_new):
    from friction_reasoning.evaluation import generate_answers, read_suite, take
    from friction_reasoning.training import load_model
    from friction_reasoning.core import data_path
    model, tok = load_model(base, prof)
    prompts = [i['prompt'] for i in take(read_suite(data_path('eval.jsonl')), n_prompts)]
    rows = []
    for bs in batch_sizes:
        t0 = time.perf_counter()
        out = generate_answers(model, tok, prompts, max_new_tokens=max_new, batch_size=bs, progress=False)
        dt = time.perf_counter() - t0
        toks = sum(len(tok(o, add_special_tokens=False)['input_ids']) for o in out)
        rows.append((bs, len(prompts) / dt, toks / dt, dt))
    return rows

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--steps', type=int, default=12, help='optimizer steps per side of the throughput comparison')
    ap.add_argument('--sweep-steps', type=int, default=30)
    ap.add_argument('--lrs', type=float, nargs='*', default=[3e-4, 1e-3, 3e-3])
    ap.add_argument('--gen-prompts', type=int, default=32)
    args = ap.parse_args()
    import tempfile, torch
    from friction_reasoning.core import get_profile, data_path
    from friction_reasoning.pipeline import smollm2_base, quiet_libraries
    from friction_reasoning.training import chat_dataset, _hardware
    quiet_libraries()
    prof, base, tmp = get_profile('laptop'), smollm2_base(), Path(tempfile.mkdtemp())
    data = data_path('train.jsonl')
    ds = chat_dataset(data, prof.eval_fraction, prof.seed)
    print(f"laptop profile, {base.name}, {_hardware()}, {time.strftime('%Y-%m-%d')}")
    trl_tps, bare_tps = throughput(prof, base, ds, tmp, args.steps)
    print(f"\ntraining, {prof.max_seq_len}-token packed rows, LoRA r{prof.lora_r} all-linear, {args.steps} steps each:")
    print(f"  trl trainer {trl_tps:6.0f} tokens/s | bare peft loop {bare_tps:6.0f} tokens/s | ratio {trl_tps / bare_tps:.2f} (goal >= 0.90)")
    if args.lrs:
        print(f"\nlearning-rate sweep, {args.sweep_steps} steps of {prof.grad_accum} x {prof.max_seq_len} tokens:")
        for lr, v0, v1, s in sweep(prof, base, data, tmp, args.lrs, args.sweep_steps):
            print(f"  lr {lr:7.0e}: validation loss {v0:.3f} -> {v1:.3f}  ({s:.0f} s)")
    print(f"\ngreedy generation, {args.gen_prompts} course prompts, {prof.eval_max_new_tokens} new tokens at most:")
    for bs, aps, tps, dt in generation(prof, base, (8, 32), args.gen_prompts, prof.eval_max_new_tokens):
        print(f"  batch {bs:3}: {aps:5.2f} answers/s, {tps:5.0f} tokens/s ({dt:.0f} s)")
    print(f"torch threads {torch.get_num_threads()}; load average {os.getloadavg()[0]:.1f}")

if __name__ == '__main__': main()
