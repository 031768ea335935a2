"""Benchmark: dialogues in flight. `generate` makes 100 dialogues (7 LLM calls each: six personas and the answer;
one more to reword the seed when a seed is used a second time, as 30 of the 100 are)
against the local OpenAI-compatible test server with 0.2 s latency per call, once with 16 dialogues in flight and
once with 1, in the same run; prints the speed-up (goal: >= 8x). It also shows that importing LiteLLM through
`friction_reasoning.agents` opens no network connection, while a bare `import litellm` without its offline
switches reaches for the internet.

    .venv/bin/python bench/agents_concurrency.py [--dialogues 100] [--latency 0.2] [--concurrency 16]
"""
import argparse, json, os, platform, random, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'tests'))
from openai_server import OpenAIServer, echo_reply  # noqa: E402

WORDS = 'river stone lamp quiet orbit maple signal harbor velvet ember canyon pixel meadow copper lantern thistle'.split()


def varied_reply(messages):
    "The echo plus 24 random words: replies differ from call to call, as a model's do, so no dialogue is a near-duplicate."
    return f"{echo_reply(messages)} {' '.join(random.choices(WORDS, k=24))}"

PROBE = r"""
import json, socket, sys, time
attempts = []
_connect, _getaddrinfo = socket.socket.connect, socket.getaddrinfo
def connect(self, addr): attempts.append(repr(addr)); return _connect(self, addr)
def getaddrinfo(host, *a, **k): attempts.append(str(host)); return _getaddrinfo(host, *a, **k)
socket.socket.connect, socket.getaddrinfo = connect, getaddrinfo
t0 = time.perf_counter()
if sys.argv[1] == 'agents':
    from friction_reasoning.agents import _litellm
    _litellm()
else:
    import litellm
print(json.dumps({'seconds': round(time.perf_counter() - t0, 2), 'attempts': sorted(set(attempts))}))
"""


def import_probe(how):
    "Import LiteLLM in a fresh process with its offline switches unset; report seconds and network attempts."
    env = {k: v for k, v in os.environ.items() if not k.startswith('LITELLM_')}
    r = subprocess.run([sys.executable, '-c', PROBE, how], capture_output=True, text=True, env=env, timeout=600)
    if r.returncode: raise SystemExit(r.stderr[-2000:])
    return json.loads(r.stdout.strip().splitlines()[-1])


def timed_generate(server, n, concurrency, folder):
    from friction_reasoning.dataset import generate
    server.requests = 0
    out = Path(folder) / f'c{concurrency}.jsonl'
    t0, c0 = time.perf_counter(), time.process_time()
    rep = generate(out, n, 'openai/bench', concurrency=concurrency, api_base=server.url, progress=False, timeout=30)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert rep['written'] == n and not rep['failed'], rep
    return {'concurrency': concurrency, 'seconds': round(wall, 2), 'calls': server.requests,
            'cpu_ms_per_call': round(1000 * cpu / server.requests, 1), 'dialogues_per_s': round(n / wall, 2)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--dialogues', type=int, default=100)
    ap.add_argument('--latency', type=float, default=0.2)
    ap.add_argument('--concurrency', type=int, default=16)
    args = ap.parse_args()

    print('LiteLLM import, offline switches unset in the environment:')
    ours, bare = import_probe('agents'), import_probe('bare')
    print(f"  via friction_reasoning.agents: {ours['seconds']:5.1f} s, network attempts: {ours['attempts'] or 'none'}")
    print(f"  bare `import litellm`:         {bare['seconds']:5.1f} s, network attempts: {bare['attempts'] or 'none'}")

    from friction_reasoning.agents import complete
    with OpenAIServer(latency=args.latency, reply=varied_reply) as server, tempfile.TemporaryDirectory() as tmp:
        complete([{'role': 'user', 'content': 'warm up'}], 'openai/bench', api_base=server.url)  # import, client setup
        print(f"\n{args.dialogues} dialogues, 7-8 calls each, {args.latency} s latency per call:")
        many = timed_generate(server, args.dialogues, args.concurrency, tmp)
        print(f"  {args.concurrency:2d} in flight: {many['seconds']:7.2f} s  ({many['calls']} calls, "
              f"{many['cpu_ms_per_call']} ms CPU per call)", flush=True)
        one = timed_generate(server, args.dialogues, 1, tmp)
        print(f"   1 in flight: {one['seconds']:7.2f} s  ({one['calls']} calls, {one['cpu_ms_per_call']} ms CPU per call)")
    ideal = min(args.concurrency, args.dialogues)  # every worker busy all the time, zero overhead
    floor = one['calls'] * args.latency  # 1 in flight can not beat the sum of latencies
    ratio = one['seconds'] / many['seconds']
    print(f"\nspeed-up {args.concurrency} vs 1 in flight: {ratio:.1f}x (goal >= 8x; upper bound {ideal}x; "
          f"1 in flight spent {one['seconds'] - floor:.1f} s beyond the {floor:.0f} s of pure latency)")
    result = {'date': time.strftime('%Y-%m-%d'), 'machine': f"{platform.machine()}, {os.cpu_count()} cores, "
              f"Python {platform.python_version()}", 'dialogues': args.dialogues, 'latency_s': args.latency,
              'many': many, 'one': one, 'speedup': round(ratio, 2), 'ideal_speedup': round(ideal, 2),
              'import_agents': ours, 'import_bare': bare}
    out = ROOT / 'bench' / 'results' / 'agents_concurrency.json'
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + '\n')
    print(f"saved {out.relative_to(ROOT)}")
    return 0 if ratio >= 8 else 1


if __name__ == '__main__':
    sys.exit(main())
