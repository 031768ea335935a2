"""QLoRA on a GPU: peak memory and trained tokens per second for the course's two reference architectures.

Builds Qwen2 models with the shapes of DeepSeek-R1-Distill-Qwen-7B and -1.5B (values from their published
config.json, as in notebook 03's `QWEN2_SHAPES`) with random weights (speed and memory depend on the shape, not on the
values), saves them, loads them in 4-bit nf4 exactly as `friction train` does (`load_model`), puts LoRA on every
linear projection and runs a few optimizer steps of trl's SFTTrainer at sequence length 2048. Compare the peaks with
notebook 03's estimate (`estimate_memory`; its figures are in bench/training.md). Goal: the 7B QLoRA step fits in
12 GiB peak.

    .venv/bin/python bench/training_qlora_gpu.py [--models 7b 1.5b] [--steps 6] [--seq-len 2048] [--batch 1]

Needs a CUDA GPU (and bitsandbytes, trl, peft); without one it says so and exits with code 2."""
import argparse, gc, json, os, shutil, sys, tempfile, time
from pathlib import Path

MODELS = {'7b': ('deepseek-ai/DeepSeek-R1-Distill-Qwen-7B', 'gpu24'),
          '1.5b': ('deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B', 't4')}
SHAPES = {  # from the published config.json files (the fields that set speed and memory)
    'deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B': dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28,
        num_attention_heads=12, num_key_value_heads=2, vocab_size=151936, tie_word_embeddings=False),
    'deepseek-ai/DeepSeek-R1-Distill-Qwen-7B': dict(hidden_size=3584, intermediate_size=18944, num_hidden_layers=28,
        num_attention_heads=28, num_key_value_heads=4, vocab_size=152064, tie_word_embeddings=False),
}
GIB = 2 ** 30

def random_checkpoint(hub_id, folder):
    "Save a Qwen2 model of the hub model's shape with random bf16 weights (built on the GPU: fast), and a tokenizer."
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM
    from friction_reasoning.core import build_tiny_tokenizer
    cfg = Qwen2Config(**SHAPES[hub_id], bos_token_id=0, eos_token_id=0, pad_token_id=0)
    torch.manual_seed(0)
    torch.set_default_dtype(torch.bfloat16)  # build in bf16 directly: a float32 7B would need 30 GB
    try:
        with torch.device('cuda'): model = Qwen2ForCausalLM(cfg)
    finally: torch.set_default_dtype(torch.float32)
    n = sum(p.numel() for p in model.parameters())
    model.save_pretrained(folder, max_shard_size='4GB')
    build_tiny_tokenizer().save_pretrained(folder)  # only its pad token is used: the rows are token ids already
    del model; gc.collect(); torch.cuda.empty_cache()
    return n

def measure(key, steps, seq_len, batch, work):
    import torch
    from datasets import Dataset, DatasetDict
    from transformers import TrainerCallback
    from friction_reasoning.core import get_profile
    from friction_reasoning.training import load_model, make_trainer
    hub_id, prof_name = MODELS[key]
    prof = get_profile(prof_name)
    folder = work / key
    t0 = time.perf_counter(); n = random_checkpoint(hub_id, folder); t_build = time.perf_counter() - t0
    torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter(); model, tok = load_model(folder, prof, training=True); t_load = time.perf_counter() - t0
    weights = torch.cuda.memory_allocated() / GIB
    vocab = model.config.vocab_size
    g = torch.Generator().manual_seed(0)
    rows = [{'input_ids': torch.randint(0, vocab, (seq_len,), generator=g).tolist()} for _ in range(batch * (steps + 2))]
    ds = DatasetDict(train=Dataset.from_list(rows), validation=Dataset.from_list(rows[:1]))
    times = []
    class Clock(TrainerCallback):
        def on_step_begin(self, args, state, control, **kw): torch.cuda.synchronize(); self.t = time.perf_counter()
        def on_step_end(self, args, state, control, **kw): torch.cuda.synchronize(); times.append(time.perf_counter() - self.t)
    trainer = make_trainer(model, tok, ds, prof, work / 'ckpt', callbacks=[Clock()], max_steps=steps + 2,
                           per_device_train_batch_size=batch, gradient_accumulation_steps=1, max_length=seq_len,
                           packing=False, assistant_only_loss=False, eval_strategy='no', eval_on_start=False,
                           save_strategy='no', load_best_model_at_end=False, logging_steps=1)
    trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    trainer.train()
    peak = torch.cuda.max_memory_allocated() / GIB
    reserved = torch.cuda.max_memory_reserved() / GIB
    step = sorted(times[2:])[len(times[2:]) // 2]  # median after two warm-up steps
    del trainer, model; gc.collect(); torch.cuda.empty_cache(); shutil.rmtree(folder, ignore_errors=True)
    return dict(model=hub_id.split('/')[-1], profile=prof.name, params=n, trainable=trainable,
                compute_dtype=prof.compute_dtype, lora_r=prof.lora_r, checkpointing=prof.gradient_checkpointing,
                batch=batch, seq_len=seq_len, weights_gib=round(weights, 2), peak_gib=round(peak, 2),
                reserved_gib=round(reserved, 2),
                step_s=round(step, 3), tokens_per_s=round(batch * seq_len / step), build_s=round(t_build), load_s=round(t_load))

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--models', nargs='+', default=['7b', '1.5b'], choices=list(MODELS))
    ap.add_argument('--steps', type=int, default=6, help='timed optimizer steps (after 2 warm-up steps)')
    ap.add_argument('--seq-len', type=int, default=2048)
    ap.add_argument('--batch', type=int, default=1)
    ap.add_argument('--json', default=None, help='also write the results to this JSON file')
    args = ap.parse_args()
    try:
        import torch
        if not torch.cuda.is_available(): raise RuntimeError('PyTorch sees no CUDA GPU on this machine')
        import bitsandbytes, peft, trl  # noqa: F401  (the QLoRA stack)
    except (ImportError, RuntimeError) as e:
        print(f"training_qlora_gpu: needs a CUDA GPU with bitsandbytes, peft and trl: {e}. Nothing measured.", file=sys.stderr)
        sys.exit(2)
    os.environ.setdefault('HF_HUB_OFFLINE', '1')
    work = Path(tempfile.mkdtemp(prefix='qlora-bench-'))
    gpu = f"{torch.cuda.get_device_name(0)} ({torch.cuda.get_device_properties(0).total_memory / GIB:.0f} GiB)"
    print(f"{gpu}; torch {torch.__version__}, bitsandbytes {bitsandbytes.__version__}, trl {trl.__version__}; "
          f"{time.strftime('%Y-%m-%d')}", flush=True)
    results = []
    try:
        for key in args.models:
            r = measure(key, args.steps, args.seq_len, args.batch, work)
            results.append(r)
            print(json.dumps(r), flush=True)
    finally: shutil.rmtree(work, ignore_errors=True)
    print(f"\n{'model':30} {'profile':7} {'dtype':9} {'r':>3} {'peak GiB':>9} {'tokens/s':>9}")
    for r in results:
        print(f"{r['model']:30} {r['profile']:7} {r['compute_dtype']:9} {r['lora_r']:3} {r['peak_gib']:9.2f} {r['tokens_per_s']:9,}")
    seven = [r for r in results if r['model'].endswith('7B')]
    if seven: print(f"7B peak {seven[0]['peak_gib']:.2f} GiB: goal (<= 12 GiB) {'met' if seven[0]['peak_gib'] <= 12 else 'MISSED'}")
    if args.json: Path(args.json).write_text(json.dumps({'gpu': gpu, 'results': results}, indent=2))

if __name__ == '__main__': main()
