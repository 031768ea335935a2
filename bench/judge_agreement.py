"""Benchmark: how far the judges agree with people, on the hand-labelled judge test set.

`data/judge_test.jsonl` holds real answers of SmolLM2-135M-Instruct (untuned and tuned) and answers written in the
manner of other chat-model families, each labelled by two independent annotators (`passes`), disagreements resolved
(`label`). Its held-out half (`held_out(id)`) was never read by whoever wrote the judge's rules. This prints, for the
offline judge, agreement on refused-or-not and on the full label, by split and by model family, beside the
agreement between the two annotation passes. With `--llm MODEL` (and `--api-base URL`, or `--serve-smollm2` to serve
the laptop base model's GGUF with llama.cpp here) the LLM judge is scored on the same rows, side by side.

    .venv/bin/python bench/judge_agreement.py                       # offline judge, all rows
    .venv/bin/python bench/judge_agreement.py --serve-smollm2 --limit 120   # and SmolLM2 as an LLM judge
"""
import argparse, json, random, sys, time
from collections import defaultdict
from functools import partial
from pathlib import Path
from friction_reasoning.core import data_path
from friction_reasoning.evaluation import JSON_OBJECT, fill_prompts, held_out, judge, judge_report, llm_judge, verdicts

def agreement(gold, pred):
    "`(refused-or-not, full label)` agreement over rows whose prediction is not None, and how many were skipped."
    pairs = [(g, p) for g, p in zip(gold, pred) if p is not None]
    if not pairs: return None, None, len(gold)
    rep = judge_report(*zip(*pairs))
    return rep['refused_accuracy'], rep['accuracy'], len(gold) - len(pairs)

def table(rows, judged, title):
    "Agreement by split and family, one line each."
    print(f"\n{title}\n{'rows':34} {'n':>4} {'refused-or-not':>15} {'label':>7}  unjudged")
    groups = defaultdict(list)
    for r, p in zip(rows, judged):
        split = 'held-out' if held_out(r['id']) else 'development'
        for g in ('all', split, f"{split}: {r['family']}"): groups[g].append((r['label'], p))
    out = {}
    for g in sorted(groups, key=lambda g: (g.count(':'), g)):
        ref, lab, skipped = agreement(*zip(*groups[g]))
        out[g] = {'n': len(groups[g]), 'refused_agreement': ref, 'label_agreement': lab, 'unjudged': skipped}
        print(f"{g:34} {len(groups[g]):4} {'-' if ref is None else f'{ref:.1%}':>15} {'-' if lab is None else f'{lab:.1%}':>7}  {skipped}")
    return out

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--llm', help='LiteLLM model id of an LLM judge to score beside the offline one')
    ap.add_argument('--api-base', help='OpenAI-compatible server for --llm')
    ap.add_argument('--serve-smollm2', action='store_true', help="serve the laptop base model's GGUF with llama.cpp as the LLM judge")
    ap.add_argument('--limit', type=int, default=0, help='score a seeded sample of this many rows (0: all)')
    ap.add_argument('--out', default='bench/results/judge_agreement.json')
    args = ap.parse_args()
    rows = fill_prompts([json.loads(l) for l in data_path('judge_test.jsonl').read_text(encoding='utf-8').splitlines() if l.strip()])
    if args.limit: rows = random.Random(0).sample(rows, min(args.limit, len(rows)))
    a, b = zip(*(r['passes'] for r in rows))
    print(f"judge test set: {len(rows)} rows; annotators' passes agree: refused-or-not {agreement(a, b)[0]:.1%}, label {agreement(a, b)[1]:.1%}")
    t0 = time.perf_counter()
    offline = [judge(r['prompt'], r['response'], r['history'])['label'] for r in rows]
    print(f"offline judge: {len(rows) / (time.perf_counter() - t0):.0f} replies/s")
    results = {'rows': len(rows), 'passes': dict(zip(('refused_agreement', 'label_agreement'), agreement(a, b)[:2])),
               'offline': table(rows, offline, 'offline judge vs the resolved labels')}
    if args.serve_smollm2 or args.llm:
        results['llm'] = run_llm(rows, args)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=1) + '\n')
    print(f"\nwritten {args.out}")

def run_llm(rows, args):
    "The LLM judge on the same rows (a served GGUF of SmolLM2 when asked), with its table."
    from contextlib import nullcontext
    model, ctx = args.llm, nullcontext(args.api_base)
    if args.serve_smollm2:
        from friction_reasoning.pipeline import smollm2_gguf
        from friction_reasoning.deployment import serve_gguf
        gguf = smollm2_gguf(); model, ctx = f'openai/{gguf.stem}', serve_gguf(gguf, n_ctx=2048)
    with ctx as url:
        fmt = {'response_format': JSON_OBJECT} if args.serve_smollm2 else {}  # llama-cpp-python's server takes a schema this way
        fn = partial(llm_judge, model=model, api_base=url, max_tokens=160, timeout=120, **fmt)
        t0 = time.perf_counter()
        vs = verdicts(rows, fn, workers=2, progress=True)
        dt = time.perf_counter() - t0
    print(f"LLM judge {model}: {len(rows) / dt:.2f} replies/s")
    return {'model': model, 'table': table(rows, [v['label'] for v in vs], f'LLM judge {model} vs the resolved labels'),
            'unjudged_reasons': sorted({v['evidence'][:120] for v in vs if v['label'] is None})[:5]}

if __name__ == '__main__':
    sys.exit(main())
