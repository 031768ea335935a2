"""Benchmark: batched local generation vs one prompt at a time, on the smoke profile's tiny model.

64 prompts of the course suite, greedy, the smoke profile's budget of 64 new tokens, `generate_answers` with
batch_size 1 and with the profile's batch size (32) and 64, measured side by side in one run; prints the ratios.
Goal: batched at least 4x faster than one at a time.

    OMP_NUM_THREADS=1 .venv/bin/python bench/evaluation_generate.py
"""
import os, platform, sys, tempfile, time
os.environ.setdefault('OMP_NUM_THREADS', '1'); os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')
from pathlib import Path
import torch
from transformers import AutoTokenizer, AutoModelForCausalLM
from transformers.utils import logging
from friction_reasoning.core import build_tiny_model, data_path, get_profile
from friction_reasoning.evaluation import generate_answers, read_suite, take

logging.disable_progress_bar(); logging.set_verbosity_error()
prof = get_profile('smoke')
n, new = 64, prof.eval_max_new_tokens
folder = build_tiny_model(Path(tempfile.mkdtemp()) / 'tiny', corpus=data_path('train.jsonl').read_text().splitlines())
tok, model = AutoTokenizer.from_pretrained(folder), AutoModelForCausalLM.from_pretrained(folder).eval()
items = take(read_suite(data_path('eval.jsonl')), n)
prompts, histories = [i['prompt'] for i in items], [i['history'] for i in items]
print(f"{n} prompts, {new} new tokens each, greedy; torch {torch.__version__}, {torch.get_num_threads()} thread(s); "
      f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores")

generate_answers(model, tok, prompts[:4], histories[:4], new, 4, progress=False)  # warm-up
times, outs = {}, {}
for bs in (1, prof.eval_batch_size, 64):
    t0 = time.perf_counter()
    outs[bs] = generate_answers(model, tok, prompts, histories, new, bs, progress=False)
    times[bs] = time.perf_counter() - t0
    print(f"batch_size {bs:2}: {times[bs]:6.2f} s  ({n / times[bs]:6.1f} answers/s)", flush=True)
for bs in (prof.eval_batch_size, 64):
    same = sum(a == b for a, b in zip(outs[1], outs[bs]))
    print(f"batched ({bs}) vs one at a time: {times[1] / times[bs]:.1f}x faster; identical greedy answers: {same}/{n}")
ok = times[1] / times[prof.eval_batch_size] >= 4
print(f"goal >= 4x with the profile's batch size: {'met' if ok else 'NOT met'}")
sys.exit(0 if ok else 1)
