"""Set-up steps a person can follow (used by the Makefile). Each step says what it does and how long it usually takes
here, says it is still working when it takes long, and keeps pip's, npm's and apt's output in one log file that any
error names, with the command that fixes it. Standard library only: it runs with the system Python, before .venv.

  python .ci/steps.py step WHAT USUALLY LOG -- COMMAND ...   run COMMAND as one step
  python .ci/steps.py llama-start                            compile llama.cpp in the background, once per machine
"""
import os, subprocess, sys, time
from pathlib import Path

root = Path(__file__).resolve().parent.parent
HEARTBEAT = 30  # seconds between "still working" lines

def _dur(s): return f"{s:.0f} s" if s < 90 else f"{s // 60:.0f} min {s % 60:02.0f} s"

HINTS = [  # (text in the log, what fixes it)
    ('No space left on device', 'free some disk space (`df -h .`), then run the same make command again'),
    ('Permission denied', 'run make as the user who owns this folder (no root needed), or fix the owner: `sudo chown -R $USER .`'),
    ('Could not find a version', 'check that PyPI is reachable (`pip download --no-deps tqdm -d /tmp/x`), then run make again'),
    ('NewConnectionError', 'check that PyPI is reachable (`pip download --no-deps tqdm -d /tmp/x`), then run make again'),
    ('Read timed out', 'the download was interrupted: run the same make command again (pip resumes from its cache)'),
    ('IncompleteRead', 'the download was interrupted: run the same make command again (pip resumes from its cache)'),
    ('hash', 'a download is corrupt: run the same make command again (`pip cache purge` if it repeats)'),
    ('No module named venv', 'install venv: `sudo apt-get install python3-venv` (Debian/Ubuntu)'),
    ('ensurepip is not available', 'install venv: `sudo apt-get install python3-venv` (Debian/Ubuntu)'),
]

def step(what, usually, log, cmd):
    log = Path(log); log.parent.mkdir(parents=True, exist_ok=True)
    print(f"-> {what} (usually {usually} here) ...", flush=True)
    t0 = time.monotonic()
    with open(log, 'a') as f:
        f.write(f"\n=== {time.strftime('%H:%M:%S')} {what}: {' '.join(cmd)}\n"); f.flush()
        p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        beat = HEARTBEAT
        while p.poll() is None:
            time.sleep(1)
            if time.monotonic() - t0 >= beat:
                print(f"   ... still working: {_dur(time.monotonic() - t0)} so far", flush=True); beat += HEARTBEAT
    took = time.monotonic() - t0
    if p.returncode == 0:
        print(f"   done in {_dur(took)}", flush=True); return 0
    text = log.read_text(errors='replace')[-20000:]
    tail = [l.strip() for l in text.splitlines() if l.strip() and not l.startswith('===')]
    last = next((l for l in reversed(tail) if 'error' in l.lower()), tail[-1] if tail else 'no output')[:200]
    fix = next((h for k, h in HINTS if k in text), f'read {log}, fix what it names, then run the same make command again')
    print(f"setup failed: {what} (exit {p.returncode} after {_dur(took)}): {last}; fix: {fix}; full log: {log}",
          file=sys.stderr, flush=True)
    return p.returncode

def llama_start():
    "Start compiling llama.cpp for this CPU in the background with this Python, unless it is cached, running or impossible."
    try:
        import importlib.util
        sys.path.insert(0, str(root))
        from friction_reasoning import pipeline
        for module in ('pip', 'filelock', 'psutil'):  # what the build needs; a bare system Python lacks the last two
            if importlib.util.find_spec(module) is None: raise ImportError(f'no {module}')
    except Exception as e:  # an old or bare system Python: `friction llama --background` starts it after .venv
        print(f"-> llama.cpp: compiled after .venv exists ({e})"); return 0
    if any(root.glob('.venv/lib/python3*/site-packages/llama_cpp/__init__.py')):
        print("-> llama.cpp: installed in .venv already"); return 0
    print(f"-> {pipeline.start_llama_cpp()}")
    return 0

if __name__ == '__main__':
    a = sys.argv[1:]
    if a[:1] == ['step'] and '--' in a:
        i = a.index('--'); what, usually, log = a[1:i]; sys.exit(step(what, usually, log, a[i + 1:]))
    if a == ['llama-start']: sys.exit(llama_start())
    sys.exit(__doc__)
