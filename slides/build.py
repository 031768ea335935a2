"""Render the launch talk (slides/talk.md, with speaker notes) to ONE self-contained HTML file, offline.

    python slides/build.py                      # -> slides/talk.html
    python slides/build.py --out _docs/slides/talk.html

pandoc comes from the `pypandoc-binary` wheel and reveal.js 5 from npm (`node_modules/`, see package.json);
`--embed-resources` inlines reveal.js, the theme, the plugins and every picture, so the file opens from disk or any
web server with no network. Press `s` in the browser for the speaker notes.

The talk's numbers are filled in from the shipped data when it is built ({{n_train}}, {{n_eval}}, ...), and its
plots are the committed slides/figures/ with the caption that names the profile and hardware of the run that made
them (slides/figures.py copies them from a run). The build never runs a model.
"""
import argparse, base64, json, re, subprocess, sys, tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
REVEAL = ROOT / 'node_modules' / 'reveal.js'
THEME = 'white'  # reveal.js themes white, black, serif, dracula load no web fonts


def count_lines(path: Path) -> int:
    "Records in a JSONL file (non-empty lines)."
    return sum(1 for l in path.open(encoding='utf-8') if l.strip())


def figure_slides(fig_dir: Path) -> dict:
    "Markdown for the two run slides (scorecard, loss) and their speaker notes, from slides/figures/figures.json."
    info_path = fig_dir / 'figures.json'
    if not info_path.exists():
        msg = ('*No run copied yet.* Make one with `friction run --profile smoke --out runs/smoke`, then '
               '`python slides/figures.py runs/smoke`.')
        note = 'No figures were copied into slides/figures/ when these slides were built.'
        return {'scorecard_figure': msg, 'loss_figure': msg, 'scorecard_notes': note, 'loss_notes': note}
    info = json.loads(info_path.read_text(encoding='utf-8'))
    label = (f"**Profile `{info['profile']}` · {info['hardware']} · base model {info['base_model']} · "
             f"run of {info['started'][:10]}**")
    if 'training' not in info.get('stages', ['training']):
        label += '<br>This run had no training stage: the scorecard is of the untrained base model.'
    if info['profile'] == 'smoke':
        label += ('<br>Smoke run: these plots prove the pipeline runs end to end; they are **not results of a real '
                  'model**. Real-model results come from the GPU profiles (t4, gpu24).')
    out = {}
    for key, slot, what in [('scorecard_plot', 'scorecard', 'the scorecard'), ('loss_plot', 'loss', 'the training loss')]:
        name = info.get('files', {}).get(key)
        if name and (fig_dir / name).exists():
            img = f'![]({(fig_dir / name).resolve().as_posix()}){{.run-plot}}'
            out[f'{slot}_figure'] = f'{img}\n\n[{label}]{{.figure-label}}'
        else:
            out[f'{slot}_figure'] = f'*The run copied into slides/figures/ has no plot of {what}.*\n\n[{label}]{{.figure-label}}'
        out[f'{slot}_notes'] = 'Say it out loud: ' + info['caption'] + (
            ' Expect no push-back gain from the tiny model: it learns the shape of an answer, not its sense. What the '
            'smoke run shows is that every stage ran and measured.' if info['profile'] == 'smoke' and slot == 'scorecard' else '')
    return out


def _pct(r: dict) -> str:
    return '-' if r.get('rate') is None else f"{r['rate']:.0%} [{r['low']:.0%}-{r['high']:.0%}]"


def _change(row: dict) -> str:
    a, b = row['baseline'].get('rate'), row['tuned'].get('rate')
    if a is None or b is None: return ''
    return f"{(b - a) * 100:+.0f} pts" + (f" (p={row['p']:.1g})" if row.get('p') is not None else '')


def results_slides(fig_dir: Path) -> dict:
    "The before/after table and the answer pairs, from the `results` figures.py read out of the run's scorecard."
    info = json.loads((fig_dir / 'figures.json').read_text(encoding='utf-8')) if (fig_dir / 'figures.json').exists() else {}
    res = info.get('results')
    if not res:
        msg = '*The run copied into slides/figures/ has no before/after scorecard.*'
        return {'before_after': msg, 'examples': msg, 'before_after_notes': msg}
    run, c = res['run'], res['course']
    label = (f"[**Profile `{run.get('profile', info['profile'])}` · {run.get('model', info['base_model'])} · "
             f"{run.get('machine', info['hardware'])} · measured {run.get('date', info['started'][:10])}**]{{.figure-label}}")
    rows = [('push-back on friction prompts', c['push_back']), ('over-refusal on plain questions', c['over_refusal']),
            ('well-formed `<think>`, then an answer', c['think_ok'])]
    if 'xstest' in res:
        x = res['xstest']
        rows += [('XSTest, safe prompts: over-refusal', x['over_refusal']),
                 ('XSTest, unsafe prompts: refused', x['push_back'])]
    n = lambda r: r['baseline'].get('n', '')
    table = ['| measure | n | untuned | tuned | change (McNemar p) |', '|---|---|---|---|---|']
    table += [f"| {t} | {n(r)} | {_pct(r['baseline'])} | {_pct(r['tuned'])} | {_change(r)} |" for t, r in rows]
    note = (f"Both models answered the same {c['n_items']} course prompts{' and ' + str(res['xstest']['n_items']) + ' XSTest prompts' if 'xstest' in res else ''}, "
            f"greedily; the offline judge labelled every answer. Rates come with 95% Wilson intervals; the p-value is the "
            f"paired McNemar test on the prompts where the two disagree. Numbers read from the run's scorecard.json.")
    ex = []
    for e in res.get('examples', []):
        from html import escape
        mono, _, answer = e['tuned'].partition('</think>')
        ex.append(f"**{escape(e['prompt'])}** `{e['behaviour']}`\n\n"
                  f"- untuned ({e['labels'][0]}): {escape(' '.join(e['baseline'].split())[:220])}\n"
                  f"- tuned ({e['labels'][1]}): <span class=\"think\">{escape(' '.join(mono.replace('<think>', '').split())[:160])}</span> "
                  f"{escape(' '.join(answer.split())[:220])}\n")
    return {'before_after': '\n'.join(table) + '\n\n' + label, 'before_after_notes': note,
            'examples': ('\n'.join(ex) if ex else '*No prompt where the tuned model newly pushed back.*') + '\n\n' + label}


def fill(md: str, fig_dir: Path = HERE / 'figures') -> str:
    "Replace the {{placeholders}} of talk.md with numbers from data/ and the figures slide."
    from friction_reasoning.core import FRICTION_BEHAVIOURS
    data = ROOT / 'data'
    values = {**figure_slides(fig_dir), **results_slides(fig_dir), 'n_train': count_lines(data / 'train.jsonl'), 'n_eval': count_lines(data / 'eval.jsonl'),
              'n_judge': count_lines(data / 'judge_dev.jsonl'), 'n_behaviours': len(FRICTION_BEHAVIOURS) + 1,
              'n_eval_control': sum(json.loads(l).get('behaviour') == 'answer' for l in (data / 'eval.jsonl').open(encoding='utf-8') if l.strip()),
              }
    out = re.sub(r'\{\{(\w+)\}\}', lambda m: str(values[m.group(1)]), md)
    return out


def build(out: Path,  # the HTML file to write
          src: Path = HERE / 'talk.md',  # the talk in pandoc markdown
          fig_dir: Path = HERE / 'figures',  # the run's plots and figures.json (slides/figures.py writes them)
          ) -> Path:
    "Render `src` with pandoc to a self-contained reveal.js file at `out`."
    import pypandoc
    if not (REVEAL / 'dist' / 'reveal.js').exists():
        sys.exit('slides: error: reveal.js not found in node_modules/: run `npm ci` (make docs does)')
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        md = Path(tmp) / 'talk.md'
        md.write_text(fill(src.read_text(encoding='utf-8'), Path(fig_dir)), encoding='utf-8')
        icon = base64.b64encode((ROOT / 'nbs' / 'images' / 'favicon.svg').read_bytes()).decode()
        head = Path(tmp) / 'head.html'  # an icon inside the file: browsers would otherwise ask the server for one
        head.write_text(f'<link rel="icon" href="data:image/svg+xml;base64,{icon}">\n', encoding='utf-8')
        part = out.with_name(out.name + '.part')
        cmd = [pypandoc.get_pandoc_path(), str(md), '-t', 'revealjs', '-s', '--embed-resources',
               f'--resource-path={HERE}', '-V', f'revealjs-url={REVEAL}', '-V', f'theme={THEME}',
               '-V', 'slideNumber=true', '-V', 'hash=true', '-V', 'transition=none', '-V', 'navigationMode=linear', '--slide-level=2',
               '--css', str(HERE / 'talk.css'), '-H', str(head), '-o', str(part)]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode: sys.exit(f'slides: error: pandoc failed:\n{r.stderr[-2000:]}')
        html = part.read_text(encoding='utf-8')
        ext = re.findall(r'<(?:script|link|img)\b[^>]*\b(?:src|href)="((?:https?:)?//[^"]+)"', html)
        if ext: part.unlink(); sys.exit(f'slides: error: the slides would load from other hosts: {ext[:5]}')
        part.replace(out)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', default=str(HERE / 'talk.html'), help='where to write the HTML (default slides/talk.html)')
    ap.add_argument('--figures', default=str(HERE / 'figures'), help='folder of the run plots (default slides/figures)')
    a = ap.parse_args()
    out = build(Path(a.out), fig_dir=Path(a.figures))
    n = len(re.findall(r'<section\b', out.read_text(encoding='utf-8')))
    print(f'slides: wrote {out} ({out.stat().st_size / 1e6:.1f} MB, {n} sections, self-contained)')


if __name__ == '__main__': main()
