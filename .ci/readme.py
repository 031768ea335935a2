"""Make README.md from nbs/index.ipynb (what `nbdev_readme` does, without Quarto): the markdown cells, in order.
`python .ci/readme.py --check` exits 1 when README.md differs from what the notebook makes."""
import json, sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
nb = json.loads((root / 'nbs' / 'index.ipynb').read_text(encoding='utf-8'))
cells = [''.join(c['source']).strip() for c in nb['cells'] if c['cell_type'] == 'markdown']
text = '\n\n'.join(cells).replace('](0', '](nbs/0') + '\n'
text = text.replace('> A notebook-first', 'A notebook-first', 1)
readme = root / 'README.md'
if '--check' in sys.argv:
    ok = readme.exists() and readme.read_text(encoding='utf-8') == text
    print('README.md matches nbs/index.ipynb' if ok else 'README.md is stale: run python .ci/readme.py')
    sys.exit(0 if ok else 1)
readme.write_text(text, encoding='utf-8')
print(f'wrote {readme}')
