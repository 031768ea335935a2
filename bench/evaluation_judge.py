"""Benchmark: offline judge throughput on one CPU core.

Judges the answers of data/judge_dev.jsonl (typically 30-120 words) several times over, the answers of the hand-labelled
judge test set (real SmolLM2 replies, most with a `<think>` monologue the judge labels too, and replies written in the
manner of other chat-model families), and the judge_dev answers glued four at a time (long, 150-450 word replies, like
a verbose chat model), pinned to one core. Goal: at least 2,000 responses per second on the first two.

    .venv/bin/python bench/evaluation_judge.py
"""
import json, os, platform, sys, time
if hasattr(os, 'sched_setaffinity'): os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
from friction_reasoning.core import data_path
from friction_reasoning.evaluation import fill_prompts, judge

rows = [json.loads(l) for l in data_path('judge_dev.jsonl').read_text().splitlines() if l.strip()]
long = [dict(r, response='\n\n'.join(x['response'] for x in rows[i:i + 4])) for i, r in enumerate(rows)]
test = fill_prompts([json.loads(l) for l in data_path('judge_test.jsonl').read_text().splitlines() if l.strip()])  # XSTest prompts from ../shared/eval
cores = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else '?'
print(f"offline judge on {cores} core ({platform.processor() or platform.machine()}, Python {platform.python_version()})")
for r in rows[:20]: judge(r['prompt'], r['response'], r['history'])  # warm-up
results = {}
for name, data, reps in (('judge_dev answers', rows, 10), ('judge test set answers', test, 5), ('long answers (4 glued)', long, 3)):
    words = sum(len(r['response'].split()) for r in data) / len(data)
    t0 = time.perf_counter()
    for _ in range(reps):
        for r in data: judge(r['prompt'], r['response'], r['history'])
    dt = time.perf_counter() - t0
    results[name] = reps * len(data) / dt
    print(f"{name:24} {reps * len(data):5} responses, {words:5.0f} words on average: {results[name]:7.0f} responses/s")
ok = min(results['judge_dev answers'], results['judge test set answers']) >= 2000
print(f"goal >= 2000 responses/s on one core (judge_dev and judge test set answers): {'met' if ok else 'NOT met'}")
sys.exit(0 if ok else 1)
