"""Copy the talk's plots from a `friction run` folder into slides/figures/, with a caption naming what made them.

    friction run --profile smoke --out runs/smoke
    python slides/figures.py runs/smoke

It reads the run's `run.json`: the artefacts 'scorecard_plot' and 'loss_plot' (PNG files; a run without a training
stage has only the first) and the profile. It writes slides/figures/scorecard.png, slides/figures/loss.png and
slides/figures/figures.json, which records the profile,
its base model, the hardware it ran on (this machine's CPU or GPU, as the run does not record it), the run's start
time and a caption. The slides build (slides/build.py) shows those figures with that caption and never runs a
model itself. A smoke run's plots are labelled as such: they prove the pipeline runs, not that a model improved.
"""
import argparse, json, os, platform, shutil, sys, tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PLOTS = {'scorecard_plot': 'scorecard.png', 'loss_plot': 'loss.png'}


def this_machine() -> str:
    "One line naming the hardware of this machine: the CUDA GPU if torch sees one, else the CPU and its cores."
    try:
        import torch
        if torch.cuda.is_available(): return f'{torch.cuda.get_device_name(0)} GPU'
    except ImportError: pass
    cpu = platform.processor() or platform.machine()
    try:
        names = [l.split(':', 1)[1].strip() for l in Path('/proc/cpuinfo').read_text().splitlines() if l.startswith('model name')]
        if names: cpu = names[0]
    except OSError: pass
    n = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()
    return f'{n}-core CPU ({cpu})'


def results(run_dir: Path, arts: dict) -> dict | None:
    "The before/after numbers and a few answer pairs, read from the run's evaluation/scorecard.json and answers."
    card_path = artefact_file(run_dir, arts.get('scorecard', '')) if arts.get('scorecard') else None
    if not card_path: return None
    card = json.loads(card_path.read_text(encoding='utf-8'))
    if not {'baseline', 'tuned'} <= set(card.get('models', {})): return None
    def side(c):
        ms, pr = c['models'], c.get('paired', {})
        row = lambda key: {'baseline': ms['baseline'][key], 'tuned': ms['tuned'][key], 'p': pr.get(key, {}).get('p')}
        return {'suite': c['suite'], 'n_items': c['n_items'], 'push_back': row('push_back'),
                'over_refusal': row('over_refusal'), 'think_ok': row('think_ok')}
    out = {'run': card.get('run', {}), 'course': side(card)}
    if card.get('xstest'): out['xstest'] = side(card['xstest'])
    answers = artefact_file(run_dir, arts.get('answers', '')) if arts.get('answers') else None
    if answers:  # up to three prompts (one per behaviour) where only the tuned model got the right label
        rows = [json.loads(l) for l in answers.read_text(encoding='utf-8').splitlines() if l.strip()]
        by = {(r['model'], r['id']): r for r in rows if 'label' in r}
        pairs = [(by['baseline', i], by['tuned', i]) for m, i in by if m == 'baseline' and ('tuned', i) in by]
        from friction_reasoning.core import BEHAVIOURS
        want = lambda r: BEHAVIOURS[r['behaviour']].expected_label if r['behaviour'] in BEHAVIOURS else None
        good = [(a, b) for a, b in pairs if b['behaviour'] != 'answer' and b['label'] == want(b) != a['label']]
        one_each = list({a['behaviour']: (a, b) for a, b in reversed(good)}.values())[::-1]  # first of each behaviour
        out['examples'] = [{'behaviour': a['behaviour'], 'prompt': a['prompt'], 'baseline': a['response'][:400],
                            'tuned': b['response'][:600], 'labels': [a['label'], b['label']]} for a, b in one_each[:3]]
    return out


def caption(info: dict) -> str:
    "What the slide says under the plots: which profile and hardware made them, and what that means."
    s = (f"Run of profile `{info['profile']}` on {info['hardware']}, base model {info['base_model']}, "
         f"started {info['started']}.")
    if 'training' not in info['stages']:
        s += ' This run had no training stage: its scorecard is of the untrained base model.'
    if info['profile'] == 'smoke':
        s += (' Smoke run: a tiny model built on the spot and an offline stand-in LLM. These plots prove that the '
              'pipeline runs end to end; they are not results of a real model. Real-model results come from the '
              'laptop profile (SmolLM2-135M-Instruct) and the GPU profiles (t4, gpu24).')
    return s


def artefact_file(run_dir: Path, path: str) -> Path | None:
    "An artefact's file: run.json may hold paths relative to where `friction run` was started, so try the run folder too."
    p = Path(path)
    for cand in (p, Path(run_dir) / p, Path(run_dir) / Path(*p.parts[-2:])):
        if cand.is_file(): return cand
    return None


def copy_figures(run_dir: Path,  # a `friction run` output folder (holds run.json)
                 dest: Path = HERE / 'figures',  # where the slides look for their figures
                 hardware: str | None = None,  # what the run ran on; default: this machine
                 ) -> dict:  # what figures.json records
    "Copy the run's scorecard and loss plots into `dest` (old ones removed) and write figures.json beside them."
    run_json = Path(run_dir) / 'run.json'
    if not run_json.exists(): raise SystemExit(f'figures: error: {run_json} not found: make a run first '
                                               f'(friction run --profile smoke --out {run_dir})')
    run = json.loads(run_json.read_text(encoding='utf-8'))
    arts, prof = run.get('artefacts', {}), run.get('profile', {})
    found = {k: f for k in PLOTS if arts.get(k) and (f := artefact_file(run_dir, arts[k]))}
    if not found: raise SystemExit(f"figures: error: {run_json}: no {' or '.join(PLOTS)} artefact that is a file "
                                   f"(stages run: {', '.join(run.get('stages', {})) or 'none'})")
    for k, path in found.items():
        with open(path, 'rb') as f:
            if f.read(8) != b'\x89PNG\r\n\x1a\n': raise SystemExit(f'figures: error: {path} ({k}) is not a PNG file')
    info = {'profile': prof.get('name', '?'), 'base_model': 'tiny (built on the spot)' if prof.get('base_model') == 'tiny' else prof.get('base_model', '?'),
            'hardware': hardware or run.get('hardware') or this_machine(), 'profile_hardware': prof.get('hardware', ''),
            'started': run.get('started', '?'), 'run': Path(run_dir).name, 'stages': list(run.get('stages', {})),
            'files': {k: PLOTS[k] for k in found}, 'missing': [k for k in PLOTS if k not in found]}
    res = results(run_dir, arts)
    if res:
        info['results'] = res
        if res['run'].get('model') and prof.get('base_model') != 'tiny': info['base_model'] = res['run']['model']
    info['caption'] = caption(info)
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest) as tmp:  # copy everything, then move into place: no half-updated set
        for k, path in found.items(): shutil.copyfile(path, Path(tmp) / PLOTS[k])
        (Path(tmp) / 'figures.json').write_text(json.dumps(info, indent=2) + '\n', encoding='utf-8')
        for name in [*info['files'].values(), 'figures.json']: os.replace(Path(tmp) / name, dest / name)
    for k in info['missing']: (dest / PLOTS[k]).unlink(missing_ok=True)  # never show a plot from another run
    return info


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('run_dir', nargs='?', default='runs/smoke', help='the run folder (default runs/smoke)')
    ap.add_argument('--dest', default=str(HERE / 'figures'), help='where to put the figures (default slides/figures)')
    ap.add_argument('--hardware', help='what the run ran on, when it was not this machine (e.g. "Colab T4 GPU")')
    a = ap.parse_args()
    info = copy_figures(Path(a.run_dir), Path(a.dest), a.hardware)
    print(f"figures: copied {', '.join(info['files'].values())} from {a.run_dir} -> {a.dest}"
          + (f" (not in this run: {', '.join(info['missing'])})" if info['missing'] else '') + f"\n  {info['caption']}")


if __name__ == '__main__': main()
