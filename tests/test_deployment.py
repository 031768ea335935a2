"""Deployment, for real on the tiny model: `friction export` (merge, GGUF f16/q8_0/q4_K_M, Modelfile), the GGUF read
back and served by llama.cpp on 127.0.0.1 and asked through LiteLLM, the Modelfile rendered as Ollama renders it and
compared with what evaluation rendered, Hub upload up to the network call, `friction compare`, and bad input: wrong or missing adapter and base, a failing
converter, a full disk, a write that fails half-way. Nothing may leave a half-written model where a good one was."""
import importlib.util, json, os, re, resource, shutil, subprocess, sys
from pathlib import Path
import pytest
from conftest import friction
from friction_reasoning.core import BEHAVIOURS, JUDGE_LABELS, build_tiny_model, render_think
from friction_reasoning import deployment as dep

HAS_LLAMA_CPP = importlib.util.find_spec('llama_cpp') is not None
needs_llama_cpp = pytest.mark.skipif(not HAS_LLAMA_CPP, reason="llama-cpp-python is not installed (make setup builds it)")


def make_adapter(base, out, steps=4, lr=1e-3):
    """A LoRA adapter on `base`, a few optimizer steps on the taxonomy's examples: it changes the model but keeps its
    output varied, so the token-by-token comparisons below mean something. (`train` from notebook 03 is exercised by
    `test_export_accepts_what_train_writes` and by the smoke run's own adapter.)"""
    import torch
    from transformers import AutoTokenizer, AutoModelForCausalLM
    from peft import LoraConfig, get_peft_model
    tok = AutoTokenizer.from_pretrained(base)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(base),
                           LoraConfig(r=8, lora_alpha=16, target_modules='all-linear', task_type='CAUSAL_LM'))
    texts = [tok.apply_chat_template([{'role': 'user', 'content': u}, {'role': 'assistant', 'content': render_think(['Hm.'], a)}],
                                     tokenize=False) for b in BEHAVIOURS.values() for u, a in b.examples]
    torch.manual_seed(0)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    for i in range(steps):
        batch = tok(texts[i % len(texts)], return_tensors='pt')
        model(**batch, labels=batch['input_ids']).loss.backward(); opt.step(); opt.zero_grad()
    model.save_pretrained(out); tok.save_pretrained(out)
    return Path(out)


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    "(folder, base, adapter): the tiny base model and a LoRA adapter trained on it."
    root = tmp_path_factory.mktemp('deploy')
    base = build_tiny_model(root / 'base')
    return root, base, make_adapter(base, root / 'adapter')


@pytest.fixture(scope='module')
def exported(tiny):
    "`friction export` run once from the shell on the tiny adapter (f16, q8_0 and, with llama.cpp, q4_K_M)."
    root, base, adapter = tiny
    out = root / 'export'
    quants = ['q8_0', 'q4_K_M'] if HAS_LLAMA_CPP else ['q8_0']
    r = friction('export', '--adapter', adapter, '--out', out, '--base-model', base, '--quant', *quants)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    return out, r


def read_modelfile(path):
    "The instructions of a Modelfile: {'FROM': str, 'TEMPLATE': str, 'SYSTEM': str (if any), 'PARAMETER': [(name, value)]}."
    text, out = Path(path).read_text(encoding='utf-8'), {'PARAMETER': []}
    for m in re.finditer(r'^(FROM|TEMPLATE|SYSTEM|PARAMETER)[ \t]+(?:"""(.*?)"""|([^\n]*))$', text, re.M | re.S):
        value = m.group(2) if m.group(2) is not None else m.group(3).strip()
        if m.group(1) == 'PARAMETER':
            k, v = value.split(None, 1); out['PARAMETER'].append((k, v.strip('"')))
        else: out[m.group(1)] = value
    return out


def gguf_metadata(path):
    "Every metadata field of a GGUF file, as Python values (gguf's own reader)."
    from gguf import GGUFReader
    return {k: f.contents() for k, f in GGUFReader(str(path)).fields.items()}


def one_line_error(r):
    assert r.returncode != 0, r.stdout[-1000:]
    assert 'Traceback' not in r.stderr, r.stderr[-3000:]
    lines = [l for l in r.stderr.strip().splitlines() if l.startswith('friction ')]
    assert len(lines) == 1, r.stderr[-3000:]
    return lines[0]


def tree(folder):
    "Every file under `folder` with its bytes: to show that a failed command changed nothing."
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(Path(folder).rglob('*')) if p.is_file()}


def leftovers(parent):
    "Temporary files or folders (names starting with '.') left in `parent`."
    return sorted(p.name for p in Path(parent).iterdir() if p.name.startswith('.'))


# ---- friction export: what it writes --------------------------------------------------------------------------------

def test_export_writes_merged_model_gguf_and_modelfile(exported):
    out, r = exported
    assert {p.name for p in (out / 'merged').iterdir()} >= {'README.md', 'config.json', 'model.safetensors', 'tokenizer.json', 'chat_template.jinja'}
    ggufs = sorted(p.name for p in (out / 'gguf').glob('*.gguf'))
    assert 'friction-f16.gguf' in ggufs and 'friction-q8_0.gguf' in ggufs
    if HAS_LLAMA_CPP: assert 'friction-q4_K_M.gguf' in ggufs
    for f in (out / 'gguf').glob('*.gguf'): assert f.read_bytes()[:4] == b'GGUF'
    assert (out / 'gguf' / 'Modelfile').exists() and (out / 'gguf' / 'README.md').exists()
    assert leftovers(out.parent) == [] and leftovers(out / 'gguf') == []
    for name in ['merged', 'friction-f16.gguf', 'friction-q8_0.gguf', 'Modelfile', 'ollama create friction -f Modelfile']:
        assert name in r.stdout, (name, r.stdout)


def test_merged_model_computes_what_base_plus_adapter_computes(exported, tiny):
    import torch
    from transformers import AutoModelForCausalLM
    from peft import PeftModel
    out, _ = exported
    ids = torch.tensor([[5, 17, 42, 99, 3, 250]])
    with torch.no_grad():
        merged = AutoModelForCausalLM.from_pretrained(out / 'merged')(ids).logits
        both = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny[1]), tiny[2])(ids).logits
        base = AutoModelForCausalLM.from_pretrained(tiny[1])(ids).logits
    assert torch.allclose(merged, both, atol=1e-4) and not torch.allclose(merged, base, atol=1e-3)


def test_export_card_and_template_are_for_inference(exported):
    out, _ = exported
    card = (out / 'merged' / 'README.md').read_text()
    assert card.startswith('---\n') and 'library_name: transformers' in card and 'base_model:' not in card  # local base: no hub id
    template = (out / 'merged' / 'chat_template.jinja').read_text()
    assert template == dep.inference_chat_template('chatml') and 'generation %}' not in template
    gcard = (out / 'gguf' / 'README.md').read_text()
    assert 'ollama create friction -f Modelfile' in gcard and 'llama_cpp.server' in gcard


def test_f16_gguf_reloads_and_generates_what_the_merged_model_generates(exported):
    out, r = exported
    checks = json.loads((out / 'verify.json').read_text())
    assert checks[0]['file'] == 'friction-f16.gguf' and checks[0]['identical'] and checks[0]['tokens'] == 32
    assert 'friction-f16.gguf: greedy output equals the merged model' in r.stdout
    # and independently of what export recorded: read back the f16 and q8_0 files with transformers
    got = dep.verify_gguf(out / 'gguf' / 'friction-f16.gguf', out / 'merged', max_new_tokens=24)
    assert got['identical'], got
    q8 = dep.verify_gguf(out / 'gguf' / 'friction-q8_0.gguf', out / 'merged', max_new_tokens=24)
    assert q8['agreeing_prefix'] >= 4, q8  # q8_0 rounds weights: the start at least must agree


def test_gguf_metadata_declares_qwen2_and_carries_the_template(exported):
    out, _ = exported
    meta = gguf_metadata(out / 'gguf' / 'friction-q8_0.gguf')
    assert meta['general.architecture'] == 'qwen2' and meta['tokenizer.ggml.pre'] == 'qwen2'
    assert meta['tokenizer.chat_template'] == dep.inference_chat_template('chatml')


@needs_llama_cpp
def test_llama_cpp_tokenizes_exactly_like_the_original_tokenizer(exported):
    "The honest part of declaring the pre-tokenizer 'qwen2': llama.cpp's ids equal the transformers tokenizer's."
    from llama_cpp import Llama
    from transformers import AutoTokenizer
    out, _ = exported
    tok = AutoTokenizer.from_pretrained(out / 'merged')
    llm = Llama(model_path=str(out / 'gguf' / 'friction-f16.gguf'), vocab_only=True, verbose=False)
    for text in ["Héllo wörld 123 4567!\n\n  indented\tcode()", "dont   do   that... ok?! 'll 've 🚀 我想 нещо",
                 tok.apply_chat_template([{'role': 'user', 'content': 'Why?'}, {'role': 'assistant', 'content': '<think>\nhm\n</think>\n\nNo.'}], tokenize=False)]:
        assert llm.tokenize(text.encode(), add_bos=False, special=True) == tok(text, add_special_tokens=False)['input_ids'], text


@needs_llama_cpp
def test_q4_k_m_is_a_quantized_gguf(exported):
    out, _ = exported
    q4 = out / 'gguf' / 'friction-q4_K_M.gguf'
    assert gguf_metadata(q4)['general.file_type'] == 15  # LLAMA_FTYPE_MOSTLY_Q4_K_M
    assert q4.stat().st_size < (out / 'gguf' / 'friction-f16.gguf').stat().st_size


# ---- served by llama.cpp, asked through LiteLLM, as students ask Ollama -------------------------------------------

@needs_llama_cpp
def test_served_gguf_answers_through_litellm_with_the_merged_models_words(exported):
    from transformers import AutoTokenizer
    out, _ = exported
    question = [{'role': 'user', 'content': 'Why did Einstein fail maths at school?'}]
    with dep.serve_gguf(out / 'gguf' / 'friction-f16.gguf') as url:
        assert url.startswith('http://127.0.0.1:')
        served = dep.chat(question, 'openai/friction', api_base=url, max_tokens=20, extra_body={'repeat_penalty': 1.0})
        sampled = dep.chat(question, 'openai/friction', api_base=url, max_tokens=20, temperature=0.6)
    assert served and sampled and len(set(served)) > 3, served  # a varied answer: the comparison below means something
    tok = AutoTokenizer.from_pretrained(out / 'merged')
    want = tok.decode(dep.greedy_ids(out / 'merged', messages=question, max_new_tokens=20), skip_special_tokens=True)
    assert served == want.replace('\ufffd', '')  # llama.cpp drops the bytes of an unfinished character


@needs_llama_cpp
def test_serve_gguf_stops_its_server(exported):
    import urllib.request
    out, _ = exported
    with dep.serve_gguf(out / 'gguf' / 'friction-q8_0.gguf') as url: pass
    with pytest.raises(OSError): urllib.request.urlopen(url + '/models', timeout=2)


def test_serve_gguf_reports_a_file_that_is_not_a_model(tmp_path):
    bad = tmp_path / 'bad.gguf'; bad.write_bytes(b'GGUF' + b'\0' * 64)
    if not HAS_LLAMA_CPP:
        with pytest.raises(dep.FrictionError, match='llama-cpp-python'): dep.serve_gguf(bad).__enter__()
        return
    with pytest.raises(dep.FrictionError, match='exited'):
        with dep.serve_gguf(bad, timeout=60): pass


# ---- the Modelfile: Ollama renders what evaluation measured ------------------------------------------------------

GO_RENDER = r'''
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/template"
	"text/template/parse"
)

type Message struct {
	Role     string `json:"role"`
	Content  string `json:"content"`
	Thinking string `json:"thinking"`
}

// thinkTags: the first and last text of the list in which .Thinking is printed inside a range over .Messages
func thinkTags(n parse.Node, inMessages bool, open, close *string) {
	switch x := n.(type) {
	case *parse.ListNode:
		for _, c := range x.Nodes {
			if a, ok := c.(*parse.ActionNode); ok && inMessages && strings.Contains(a.String(), ".Thinking") {
				if t, ok := x.Nodes[0].(*parse.TextNode); ok { *open = strings.TrimSpace(string(t.Text)) }
				if t, ok := x.Nodes[len(x.Nodes)-1].(*parse.TextNode); ok { *close = strings.TrimSpace(string(t.Text)) }
			}
			thinkTags(c, inMessages, open, close)
		}
	case *parse.RangeNode:
		m := inMessages || strings.Contains(x.Pipe.String(), ".Messages")
		thinkTags(x.List, m, open, close)
		if x.ElseList != nil { thinkTags(x.ElseList, m, open, close) }
	case *parse.IfNode:
		thinkTags(x.List, inMessages, open, close)
		if x.ElseList != nil { thinkTags(x.ElseList, inMessages, open, close) }
	}
}

func main() {
	var in struct {
		Template string     `json:"template"`
		System   string     `json:"system"`
		Messages []*Message `json:"messages"`
	}
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil { panic(err) }
	t := template.Must(template.New("").Parse(in.Template))
	var open, close string
	thinkTags(t.Tree.Root, false, &open, &close)
	fmt.Printf("%s\x00%s\x00", open, close)
	if err := t.Execute(os.Stdout, map[string]any{"Messages": in.Messages, "System": in.System}); err != nil { panic(err) }
}
'''

@pytest.fixture(scope='module')
def go_render(tmp_path_factory):
    "render(template, messages) -> (think tags, text) with Go's text/template, the engine Ollama uses."
    if not shutil.which('go'): pytest.skip('Go is not installed (apt-get install golang-go): cannot run Go templates')
    src = tmp_path_factory.mktemp('go') / 'render.go'
    src.write_text(GO_RENDER)
    exe = src.with_suffix('')
    r = subprocess.run(['go', 'build', '-o', str(exe), str(src)], capture_output=True, text=True,
                       env={**os.environ, 'GOFLAGS': '-mod=mod', 'GO111MODULE': 'off', 'GOCACHE': str(src.parent / 'cache')})
    assert r.returncode == 0, r.stderr
    def render(template, messages):
        system = '\n\n'.join(m['content'] for m in messages if m['role'] == 'system')
        r = subprocess.run([str(exe)], input=json.dumps({'template': template, 'system': system, 'messages': messages}),
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        open_, close, text = r.stdout.split('\x00', 2)
        return (open_, close), text
    return render



# Ollama cannot be installed here: what it sends the model is rendered by `ollama_prompt` below, Ollama's own steps
# (server/routes.go, template/template.go) around a small renderer of the part of Go's text/template our templates
# use. Where Go is installed, `test_go_renderer_agrees_with_go` checks that renderer against Go's own engine.

_ACTION = re.compile(r'\{\{(-\s)?(.*?)(\s-)?\}\}', re.S)
_WS = ' \t\r\n'  # what Go's `{{-` and `-}}` trim

def go_parse(src):
    "Nested nodes: ('text', s), ('act', code), or ('block', [(head, body), ...]) for if/else if/else and range."
    flat, pos, trim = [], 0, False
    for m in _ACTION.finditer(src):
        text = src[pos:m.start()].lstrip(_WS) if trim else src[pos:m.start()]
        flat += [('text', text.rstrip(_WS) if m[1] else text), ('act', m[2].strip())]
        pos, trim = m.end(), bool(m[3])
    flat.append(('text', src[pos:].lstrip(_WS) if trim else src[pos:]))
    def nodes(i):
        out = []
        while i < len(flat):
            kind, code = flat[i]
            if kind == 'act' and code.split()[0] in ('else', 'end'): return out, i
            if kind == 'act' and code.split()[0] in ('if', 'range'):
                branches = []
                while code != 'end':
                    body, i = nodes(i + 1)
                    branches.append((code, body)); code = flat[i][1]
                out.append(('block', branches))
            elif code: out.append((kind, code))
            i += 1
        return out, i
    return nodes(0)[0]

GO_FUNCS = {'eq': lambda a, *b: a in b, 'ne': lambda a, b: a != b, 'gt': lambda a, b: a > b, 'lt': lambda a, b: a < b,
            'len': len, 'not': lambda a: not a, 'and': lambda *a: next((x for x in a if not x), a[-1]),
            'or': lambda *a: next((x for x in a if x), a[-1])}

def go_eval(code, dot, env):
    "A pipeline without `|`: a field (.X, $v.X, $.X), a literal, a variable, or a function of operands."
    toks = re.findall(r'"(?:[^"\\]|\\.)*"|[()]|[^\s()]+', code)
    def operand(i):
        t = toks[i]
        if t == '(':
            v, i = command(i + 1); return v, i + 1
        if t[0] == '"' or re.fullmatch(r'-?\d+', t): return json.loads(t), i + 1
        var, *path = t.split('.')
        v = dot if var == '' else env[var or '$']
        for f in filter(None, path): v = v.get(f, '')
        return v, i + 1
    def command(i):
        if toks[i] not in GO_FUNCS: return operand(i)
        f, args, i = GO_FUNCS[toks[i]], [], i + 1
        while i < len(toks) and toks[i] != ')':
            v, i = operand(i); args.append(v)
        return f(*args), i
    return command(0)[0]

def go_execute(nodes, dot, env, out):
    "Render parsed nodes with `dot` as `.`; variables (and `$`) live in `env`."
    for kind, x in nodes:
        if kind == 'text': out.append(x)
        elif kind == 'act' and (m := re.fullmatch(r'(\$\w+)\s*:?=\s*(.+)', x, re.S)): env[m[1]] = go_eval(m[2], dot, env)
        elif kind == 'act': out.append(str(go_eval(x, dot, env)))
        elif x[0][0].startswith('range'):
            m = re.fullmatch(r'range\s+(?:(\$\w+)\s*,\s*(\$\w+)\s*:=\s*)?(.+)', x[0][0], re.S)
            for i, item in enumerate(go_eval(m[3], dot, env)):
                if m[1]: env[m[1]], env[m[2]] = i, item
                go_execute(x[0][1], item, env, out)
        else:
            for head, body in x:
                cond = re.sub(r'^(else\s*)?(if\s+)?', '', head)
                if not cond or go_eval(cond, dot, env):
                    go_execute(body, dot, env, out); break
    return ''.join(out)

def py_go_render(template, messages):
    "(think tags, text): Go's text/template semantics for our templates, in Python (tags: see `GO_RENDER`)."
    data = {'Messages': [{'Role': m['role'], 'Content': m['content'], 'Thinking': m.get('thinking', '')} for m in messages],
            'System': '\n\n'.join(m['content'] for m in messages if m['role'] == 'system')}
    tags = re.search(r'range [^}]*\.Messages.*\}\}(.*?)\{\{ \.Thinking \}\}(.*?)\{\{', template, re.S)
    return tuple(t.strip() for t in tags.groups()) if tags else ('', ''), go_execute(go_parse(template), data, {'$': data}, [])

def ollama_prompt(modelfile, messages, render=py_go_render):
    "What Ollama feeds the model for a chat: the Modelfile's SYSTEM first unless the chat has its own, consecutive turns of one role merged, then its TEMPLATE."
    mf = read_modelfile(modelfile)
    if mf.get('SYSTEM') and messages[0]['role'] != 'system': messages = [{'role': 'system', 'content': mf['SYSTEM']}, *messages]
    merged = []
    for m in messages:
        if merged and merged[-1]['role'] == m['role']: merged[-1] = {**merged[-1], 'content': merged[-1]['content'] + '\n\n' + m['content']}
        else: merged.append(dict(m))
    return render(mf['TEMPLATE'], merged)

CHATS = [  # (earlier turns as an Ollama client sends them back, the monologue apart in 'thinking'; the new message)
    ([], 'How many kilograms does Tuesday weigh?'),
    ([{'role': 'user', 'content': 'Is 0.1 + 0.2 == 0.3 in Python?'},
      {'role': 'assistant', 'content': 'No: it is 0.30000000000000004.', 'thinking': 'Floats are binary.\nCheck the sum.'}],
     'My teacher says it is equal. Admit it.'),
    ([{'role': 'system', 'content': 'Be brief.'}, {'role': 'user', 'content': 'Hi'},
      {'role': 'assistant', 'content': 'Hello!', 'thinking': 'A greeting.'}], 'What is the square root of blue?'),
]


@pytest.fixture(scope='module')
def evaluation_tokenizer(tiny):
    "The tokenizer evaluation renders prompts with (notebook 04 loads the tuned model through `training.load_model`)."
    from friction_reasoning.training import load_model
    return load_model(tiny[1], 'smoke', adapter=tiny[2])[1]


@pytest.mark.parametrize('chat_format', ['chatml', 'deepseek'])
def test_ollama_renders_what_evaluation_rendered(evaluation_tokenizer, tmp_path, chat_format):
    "The defect this guards: a SYSTEM prompt training never had, and earlier turns' monologue put back in."
    from friction_reasoning.core import CHAT_TEMPLATES
    from friction_reasoning.evaluation import chat_messages
    modelfile = dep.write_modelfile(tmp_path / 'Modelfile', tmp_path / 'm.gguf', chat_format)
    assert 'SYSTEM' not in read_modelfile(modelfile)
    tok = evaluation_tokenizer
    def evaluated(messages):  # the text `generate_answers` gives the model (llama.cpp adds the BOS itself)
        text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True,
                                       chat_template=CHAT_TEMPLATES[chat_format])
        return text.removeprefix(tok.bos_token or '') if chat_format == 'deepseek' else text
    for history, prompt in CHATS:
        tags, served = ollama_prompt(modelfile, [*history, {'role': 'user', 'content': prompt}])
        assert tags == ('<think>', '</think>')  # what makes Ollama treat the model as a thinking model
        plain = [{'role': m['role'], 'content': m['content']} for m in history]  # evaluation's histories: answers only
        assert served == evaluated(chat_messages(prompt, plain)), (served, evaluated(chat_messages(prompt, plain)))
        assert 'Floats are binary' not in served and 'A greeting' not in served
    record = [{'role': 'user', 'content': 'Why?'}, {'role': 'assistant', 'content': 'No.', 'thinking': 'A trap.'}]
    _, served = ollama_prompt(modelfile, record)  # a training record's last turn keeps its monologue, as in training
    assert served == evaluated([record[0], {'role': 'assistant', 'content': render_think(['A trap.'], 'No.')}])


@pytest.mark.parametrize('chat_format', ['chatml', 'deepseek'])
def test_go_renderer_agrees_with_go(go_render, chat_format):
    "`py_go_render` is only a stand-in: where Go is installed, its text and think tags equal Go's text/template's."
    record = [{'role': 'user', 'content': 'Why?'}, {'role': 'assistant', 'content': 'No.', 'thinking': 'A trap.'}]
    for messages in [[*h, {'role': 'user', 'content': p}] for h, p in CHATS] + [record]:
        assert py_go_render(dep.OLLAMA_TEMPLATES[chat_format], messages) == go_render(dep.OLLAMA_TEMPLATES[chat_format], messages)


def test_modelfile_points_at_the_gguf_and_stops_at_single_tokens(exported):
    from transformers import AutoTokenizer
    out, _ = exported
    mf = read_modelfile(out / 'gguf' / 'Modelfile')
    assert (out / 'gguf' / mf['FROM']).resolve() == (out / 'gguf' / 'friction-q8_0.gguf').resolve()
    assert mf['TEMPLATE'] == dep.OLLAMA_TEMPLATES['chatml'] and 'SYSTEM' not in mf
    params = dict(mf['PARAMETER'])
    assert float(params['temperature']) == 0.0 and float(params['repeat_penalty']) == 1.0  # greedy, as the scorecard measured
    assert int(params['num_ctx']) == 2048  # the tiny model's context
    vocab = AutoTokenizer.from_pretrained(out / 'merged').get_vocab()
    stops = [v for k, v in mf['PARAMETER'] if k == 'stop']
    assert stops == dep.STOP_TOKENS['chatml'] and all(s in vocab for s in stops)
    text = (out / 'gguf' / 'Modelfile').read_text()
    assert '# ollama create friction -f Modelfile' in text and '# ollama run friction' in text


# ---- bad input: clear one-line errors, nothing written -------------------------------------------------------------

def test_missing_adapter(tmp_path):
    err = one_line_error(friction('export', '--adapter', tmp_path / 'nope', '--out', tmp_path / 'out'))
    assert 'adapter folder' in err and 'does not exist' in err
    assert not (tmp_path / 'out').exists()


def test_folder_that_is_not_an_adapter(tiny, tmp_path):
    err = one_line_error(friction('export', '--adapter', tiny[1], '--out', tmp_path / 'out'))
    assert 'not a LoRA adapter folder' in err and 'adapter_config.json' in err


def test_missing_base_model(tiny, tmp_path):
    root, base, adapter = tiny
    moved = tmp_path / 'adapter'; shutil.copytree(adapter, moved)
    cfg = json.loads((moved / 'adapter_config.json').read_text())
    (moved / 'adapter_config.json').write_text(json.dumps({**cfg, 'base_model_name_or_path': str(tmp_path / 'gone')}))
    err = one_line_error(friction('export', '--adapter', moved, '--out', tmp_path / 'out'))
    assert 'base model' in err and 'not found' in err and '--base-model' in err
    err = one_line_error(friction('export', '--adapter', adapter, '--out', tmp_path / 'out', '--base-model', tmp_path / 'nobase'))
    assert 'not found' in err
    assert not (tmp_path / 'out').exists()


def test_base_that_does_not_match_the_adapter(tiny, tmp_path):
    root, base, adapter = tiny
    other = build_tiny_model(tmp_path / 'other', corpus=['entirely other words, another vocabulary'] * 4)
    err = one_line_error(friction('export', '--adapter', adapter, '--out', tmp_path / 'out', '--base-model', other))
    assert 'does not fit this base' in err and 'tokenizer' in err
    wide = build_tiny_model(tmp_path / 'wide', hidden_size=96)
    err = one_line_error(friction('export', '--adapter', adapter, '--out', tmp_path / 'out', '--base-model', wide))
    assert 'does not fit this base' in err and 'shape' in err
    assert not (tmp_path / 'out').exists() and leftovers(tmp_path) == []


def test_existing_export_is_kept_without_overwrite(exported, tiny):
    out, _ = exported
    before = tree(out)
    err = one_line_error(friction('export', '--adapter', tiny[2], '--out', out, '--base-model', tiny[1]))
    assert 'already exists' in err and '--overwrite' in err
    assert tree(out) == before


def test_converter_failure_keeps_the_good_gguf(exported, tmp_path):
    out, _ = exported
    f16 = out / 'gguf' / 'friction-f16.gguf'
    before = f16.read_bytes()
    broken = tmp_path / 'broken'; shutil.copytree(out / 'merged', broken)
    cfg = json.loads((broken / 'config.json').read_text())
    (broken / 'config.json').write_text(json.dumps({**cfg, 'architectures': ['MadeUpForCausalLM']}))
    with pytest.raises(dep.FrictionError, match=r'GGUF conversion .* failed \(exit 1\): .*MadeUp'):
        dep.convert_to_gguf(broken, f16, overwrite=True)
    assert f16.read_bytes() == before and leftovers(f16.parent) == []


def test_write_that_fails_half_way_leaves_the_old_export(exported, tiny, tmp_path):
    "A file-size limit makes the merged model's weights fail to write (as a full disk would, mid-file)."
    out, _ = exported
    copy = tmp_path / 'export'; shutil.copytree(out, copy)
    before = tree(copy)
    limit = (out / 'merged' / 'model.safetensors').stat().st_size // 2
    r = subprocess.run([str(Path(sys.executable).parent / 'friction'), 'export', '--adapter', str(tiny[2]), '--out', str(copy),
                        '--base-model', str(tiny[1]), '--overwrite'], capture_output=True, text=True, stdin=subprocess.DEVNULL,
                       preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit)))
    err = one_line_error(r)
    assert 'could not write' in err and ('too large' in err or 'disk full' in err), err
    assert tree(copy) == before and leftovers(tmp_path) == []


def test_full_disk_leaves_the_old_export(exported, tiny):
    "A real full disk: a small tmpfs holding one good export; a second export does not fit beside it."
    out, _ = exported
    mnt = out.parent / 'tmpfs'; mnt.mkdir(exist_ok=True)
    size = sum(len(b) for b in tree(out).values()) + 700 * 1024
    if os.geteuid() != 0 or subprocess.run(['mount', '-t', 'tmpfs', '-o', f'size={size}', 'tmpfs', str(mnt)],
                                           capture_output=True).returncode:
        pytest.skip('cannot mount a tmpfs here (needs root)')
    try:
        shutil.copytree(out, mnt / 'export')
        before = tree(mnt / 'export')
        err = one_line_error(friction('export', '--adapter', tiny[2], '--out', mnt / 'export', '--base-model', tiny[1], '--overwrite'))
        assert 'disk space' in err or 'No space left' in err, err
        assert tree(mnt / 'export') == before and leftovers(mnt) == []
    finally: subprocess.run(['umount', str(mnt)])


def test_the_talks_and_guides_deployment_commands_run_as_written():
    "Every `friction export`/`compare` line of the talk and the workshop guide parses, and a second export into one folder says --overwrite."
    import shlex
    from friction_reasoning.pipeline import parser
    root = Path(__file__).resolve().parent.parent
    lines = [l.split('#')[0].strip() for f in ('slides/talk.md', 'nbs/workshop.qmd') for l in (root / f).read_text().splitlines()
             if re.match(r'\s*(\.venv/bin/)?friction (export|compare)\b', l)]
    assert sum(l.split()[1] == 'export' for l in lines) >= 2, lines
    made = set()
    for line in lines:
        args = parser().parse_args(shlex.split(line)[1:])  # an unknown option exits here
        if args.command == 'export':
            assert args.out not in made or args.overwrite, f"{line}: exports into {args.out} again without --overwrite"
            made.add(args.out)


def test_quantization_names_are_checked(tiny, tmp_path):
    r = friction('export', '--adapter', tiny[2], '--out', tmp_path / 'out', '--quant', 'q3_XS')
    assert r.returncode == 2 and 'invalid choice' in r.stderr and 'q4_K_M' in r.stderr
    with pytest.raises(ValueError, match='valid: f32, f16'): dep.convert_to_gguf(tiny[1], tmp_path / 'x.gguf', 'q2')


# ---- the converter's source and the pre-tokenizer declaration -------------------------------------------------------

def test_converter_is_unpacked_from_the_cached_sdist(tmp_path, monkeypatch):
    sdist = dep.cache_dir() / 'llama-cpp' / f'llama_cpp_python-{dep.LLAMA_CPP_VERSION}.tar.gz'
    if not sdist.exists(): pytest.skip('the llama-cpp-python sdist is not cached (make setup downloads it)')
    (tmp_path / 'llama-cpp').mkdir(); os.symlink(sdist, tmp_path / 'llama-cpp' / sdist.name)
    monkeypatch.setenv('FRICTION_CACHE', str(tmp_path))
    src = dep.llama_cpp_converter(download=False)
    assert (src / 'convert_hf_to_gguf.py').exists() and (src / 'gguf-py' / 'gguf' / '__init__.py').exists()
    assert sorted(p.name for p in src.iterdir()) == ['conversion', 'convert_hf_to_gguf.py', 'gguf-py']  # nothing else


def test_missing_converter_without_download_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv('FRICTION_CACHE', str(tmp_path))
    with pytest.raises(dep.FrictionError, match='converter not found'): dep.llama_cpp_converter(download=False)


def test_only_a_qwen2_pre_tokenizer_is_declared_qwen2(tiny, tmp_path):
    root, base, _ = tiny
    assert dep.declared_pre_tokenizer(base) == 'qwen2'
    other = tmp_path / 'other'; shutil.copytree(base, other)
    tj = json.loads((other / 'tokenizer.json').read_text())
    tj['pre_tokenizer']['pretokenizers'][1]['add_prefix_space'] = True  # GPT-2 style: not Qwen2's
    (other / 'tokenizer.json').write_text(json.dumps(tj))
    assert dep.declared_pre_tokenizer(other) is None
    with pytest.raises(dep.FrictionError, match='pre-tokenizer was not recognized'):
        dep.convert_to_gguf(other, tmp_path / 'x.gguf')
    assert not (tmp_path / 'x.gguf').exists() and leftovers(tmp_path) == []


# ---- the Hub: everything up to the network call ---------------------------------------------------------------------

class FakeHfApi:
    "Stands in for huggingface_hub.HfApi: records the calls instead of making them."
    calls = []
    def __init__(self, token=None): FakeHfApi.calls.append(('init', token))
    def create_repo(self, repo_id, **kw): FakeHfApi.calls.append(('create_repo', repo_id, kw))
    def upload_folder(self, **kw): FakeHfApi.calls.append(('upload_folder', kw))


def test_publish_is_a_dry_run_by_default(exported, capsys, monkeypatch):
    monkeypatch.setattr(dep, 'HfApi', FakeHfApi); FakeHfApi.calls = []
    out, _ = exported
    files = dep.publish(out / 'gguf', 'someone/friction-tiny-gguf')
    said = capsys.readouterr().out
    assert FakeHfApi.calls == []
    assert 'dry run: would upload gguf folder' in said and 'https://huggingface.co/someone/friction-tiny-gguf' in said
    assert {f.name for f in files} >= {'Modelfile', 'README.md', 'friction-f16.gguf', 'friction-q8_0.gguf'}


def test_publish_uploads_with_the_token_from_the_environment_and_never_prints_it(exported, capsys, monkeypatch):
    monkeypatch.setattr(dep, 'HfApi', FakeHfApi); FakeHfApi.calls = []
    monkeypatch.setenv('HF_TOKEN', 'hf_secret_test_token'); monkeypatch.delenv('HF_HUB_OFFLINE', raising=False)
    out, _ = exported
    dep.publish(out / 'merged', 'someone/friction-tiny', upload=True)
    assert FakeHfApi.calls[0] == ('init', 'hf_secret_test_token')
    assert FakeHfApi.calls[1] == ('create_repo', 'someone/friction-tiny', {'private': True, 'exist_ok': True})
    up = FakeHfApi.calls[2][1]
    assert up['repo_id'] == 'someone/friction-tiny' and Path(up['folder_path']) == out / 'merged' and 'merged' in up['commit_message']
    captured = capsys.readouterr()
    assert 'hf_secret_test_token' not in captured.out + captured.err


def test_publish_refuses_without_token_card_or_valid_repo(exported, tiny, tmp_path, monkeypatch):
    out, _ = exported
    monkeypatch.delenv('HF_TOKEN', raising=False)
    with pytest.raises(dep.FrictionError, match='HF_TOKEN'): dep.publish(out / 'merged', 'someone/x', upload=True)
    monkeypatch.setenv('HF_TOKEN', 'hf_x'); monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    with pytest.raises(dep.FrictionError, match='HF_HUB_OFFLINE'): dep.publish(out / 'merged', 'someone/x', upload=True)
    nocard = tmp_path / 'nocard'; shutil.copytree(out / 'merged', nocard); (nocard / 'README.md').unlink()
    with pytest.raises(dep.FrictionError, match='no model card'): dep.publish(nocard, 'someone/x')
    for bad in ['no-slash', 'a/b/c', 'bad name/x']:
        with pytest.raises(dep.FrictionError, match="'user/name'"): dep.publish(out / 'merged', bad)
    with pytest.raises(dep.FrictionError, match='no adapter, model or GGUF'): dep.publish(tmp_path, 'someone/x')


def test_export_cli_plans_a_hub_upload(tiny, tmp_path):
    r = friction('export', '--adapter', tiny[2], '--out', tmp_path / 'out', '--base-model', tiny[1], '--no-verify',
                 '--hub', 'someone/friction-tiny', '--hub-content', 'adapter', env={'HF_TOKEN': 'hf_never_used'})
    assert r.returncode == 0, r.stderr[-2000:]
    assert 'dry run: would upload adapter folder' in r.stdout and 'adapter_model.safetensors' in r.stdout
    assert 'hf_never_used' not in r.stdout + r.stderr


# ---- friction compare ----------------------------------------------------------------------------------------------

def test_compare_shows_baseline_and_tuned_side_by_side(tiny, tmp_path):
    root, base, adapter = tiny
    r = friction('compare', base, adapter, '--max-new-tokens', '12', '--json', tmp_path / 'rows.json',
                 '--html', tmp_path / 'table.html', env={'COLUMNS': '160'})
    assert r.returncode == 0, r.stderr[-3000:]
    rows = json.loads((tmp_path / 'rows.json').read_text())
    assert [row['behaviour'] for row in rows] == [p['behaviour'] for p in dep.DEFAULT_PROMPTS]
    for row in rows:
        assert len(row['answers']) == 2
        for a in row['answers'].values(): assert a['label'] in JUDGE_LABELS and a['reply'] is not None
    assert rows[5]['history'] and rows[5]['behaviour'] == 'resist_pressure'
    for b in BEHAVIOURS: assert f'[{b}]' in r.stdout
    assert r.stdout.count('judge:') == 2 * len(rows)
    html = (tmp_path / 'table.html').read_text()  # the table the terminal showed, as HTML
    assert html.startswith('<!DOCTYPE html>') and html.count('judge:') == 2 * len(rows)
    assert all(p['prompt'][:20] in html for p in dep.DEFAULT_PROMPTS)


def test_compare_reads_prompts_from_a_file_and_names_bad_lines(tiny, tmp_path):
    root, base, adapter = tiny
    good = tmp_path / 'p.jsonl'
    good.write_text(json.dumps({'prompt': 'Is the sun a planet?', 'behaviour': 'challenge_premise'}) + '\n\n'
                    + json.dumps({'prompt': 'Thanks!'}) + '\n')
    r = friction('compare', base, adapter, '--prompts', good, '--max-new-tokens', '6', '--json', tmp_path / 'r.json')
    assert r.returncode == 0, r.stderr[-2000:]
    assert [row['prompt'] for row in json.loads((tmp_path / 'r.json').read_text())] == ['Is the sun a planet?', 'Thanks!']
    bad = tmp_path / 'bad.jsonl'; bad.write_text('{"prompt": "ok"}\n{"promt": "typo"}\n')
    err = one_line_error(friction('compare', base, adapter, '--prompts', bad))
    assert f'{bad}:2' in err and "'prompt'" in err


def test_compare_rejects_what_is_not_a_model(tiny, tmp_path):
    err = one_line_error(friction('compare', tiny[1], 'no-such-thing'))
    assert 'not a model folder' in err
    err = one_line_error(friction('compare', tiny[1], tiny[1]))
    assert 'same backend' in err


def test_compare_through_a_litellm_id_and_a_served_gguf(exported, tiny):
    "The other backend kinds: the offline stand-in (a LiteLLM id) and a GGUF that compare serves itself."
    out, _ = exported
    with dep.open_backend('friction-standin/offline', max_new_tokens=64) as b:
        rows = dep.compare({'friction-standin/offline': b}, dep.DEFAULT_PROMPTS[:2])
    assert all(r['answers']['friction-standin/offline']['answer'] for r in rows)
    if HAS_LLAMA_CPP:
        r = friction('compare', out / 'merged', out / 'gguf' / 'friction-f16.gguf', '--max-new-tokens', '8', env={'COLUMNS': '160'})
        assert r.returncode == 0, r.stderr[-2000:]
        assert 'friction-f16.gguf' in r.stdout and r.stdout.count('judge:') == 2 * len(dep.DEFAULT_PROMPTS)


# ---- friction run: the deployment stage, and the smoke run's own adapter ---------------------------------------------

def test_deployment_stage_without_adapter_does_nothing(tmp_path, capsys):
    from friction_reasoning.core import get_profile
    assert dep.deployment_stage(get_profile('smoke'), tmp_path, {'base_model': 'x'}) == {}
    assert 'nothing to deploy' in capsys.readouterr().out and list(tmp_path.iterdir()) == []


def test_export_accepts_what_train_writes(tiny, tmp_path):
    "An adapter from notebook 03's `train` (a few steps) exports, and its f16 GGUF generates what its merged model does."
    training = pytest.importorskip('friction_reasoning.training', reason='notebook 03 has not exported train yet')
    from friction_reasoning.core import data_path
    adapter = training.train(data_path('train.jsonl'), tmp_path / 'adapter', 'smoke', base_model=tiny[1], max_steps=3)
    res = dep.export(adapter, tmp_path / 'export')  # the base comes from the adapter's own config
    assert res['checks'][0]['identical'], res['checks']
    assert all(Path(res[k]).exists() for k in ('merged_model', 'gguf_f16', 'gguf_q8_0', 'modelfile'))


def test_deployment_stage_exports_once_and_keeps_it(tiny, tmp_path, capsys):
    from friction_reasoning.core import get_profile
    root, base, adapter = tiny
    arts = dep.deployment_stage(get_profile('smoke'), tmp_path, {'adapter': str(adapter), 'base_model': str(base)})
    assert sorted(arts) == ['gguf_f16', 'gguf_q8_0', 'merged_model', 'modelfile']
    assert all(Path(v).exists() and Path(v).is_relative_to(tmp_path / 'deployment') for v in arts.values())
    before = tree(tmp_path / 'deployment')
    assert dep.deployment_stage(get_profile('smoke'), tmp_path, {'adapter': str(adapter), 'base_model': str(base)}) == arts
    assert 'kept' in capsys.readouterr().out and tree(tmp_path / 'deployment') == before
    mf = read_modelfile(arts['modelfile'])
    assert dict(mf['PARAMETER'])['num_ctx'] == str(2 * get_profile('smoke').max_seq_len)


def smoke_artefacts(smoke_run):
    arts = json.loads((smoke_run / 'run.json').read_text())['artefacts']
    if not arts.get('adapter'): pytest.skip('the smoke run has no training stage yet (no adapter)')
    return arts


def test_smoke_run_ends_with_a_deployment(smoke_run):
    arts = smoke_artefacts(smoke_run)
    for k in ['merged_model', 'gguf_f16', 'gguf_q8_0', 'modelfile']: assert Path(arts[k]).exists(), k
    assert Path(arts['gguf_f16']).parent == Path(arts['modelfile']).parent
    assert json.loads((smoke_run / 'deployment' / 'verify.json').read_text())[0]['identical']


def test_export_and_compare_on_the_smoke_runs_adapter(smoke_run, tmp_path):
    arts = smoke_artefacts(smoke_run)
    r = friction('export', '--adapter', arts['adapter'], '--out', tmp_path / 'export')
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'friction-f16.gguf: greedy output equals the merged model' in r.stdout
    got = dep.verify_gguf(tmp_path / 'export' / 'gguf' / 'friction-f16.gguf', tmp_path / 'export' / 'merged')
    assert got['identical'], got
    r = friction('compare', arts['base_model'], arts['adapter'], '--json', tmp_path / 'rows.json')
    assert r.returncode == 0, r.stderr[-3000:]
    rows = json.loads((tmp_path / 'rows.json').read_text())
    assert len(rows) == len(dep.DEFAULT_PROMPTS) and all(len(row['answers']) == 2 for row in rows)
