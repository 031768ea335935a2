"""The LLM client against a real OpenAI-compatible HTTP server on 127.0.0.1 (tests/openai_server.py): LiteLLM's
Router retries 429/500, timeouts and malformed replies (one request per attempt, Retry-After honoured), never a
bad request or a rejected key; empty, truncated and refused replies fail at once; keys from the environment; several
providers share the calls; the stand-in through LiteLLM; and an import of LiteLLM that never reaches for the network.
LiteLLM's backoff waits about 0.5 s before a first retry and 1 s before a second, so these tests keep retries few."""
import asyncio, os, subprocess, sys, time
from pathlib import Path
import pytest
from openai_server import OpenAIServer, openai_server  # noqa: F401 (fixture)
from friction_reasoning.agents import (LLMError, STANDIN_MODEL, PERSONAS, Persona, acomplete, answer_messages, complete,
                                       missing_keys, persona_messages, standin_reply)

MSGS = [{'role': 'user', 'content': 'Is a tomato a fruit?'}]
FAST = dict(timeout=5)


def call(server, **kw):
    return complete(MSGS, 'openai/test', api_base=server.url, **{**FAST, **kw})


def test_plain_call_returns_the_reply(openai_server):
    assert call(openai_server) == 'Local test server reply to: Is a tomato a fruit?'
    assert openai_server.requests == 1


@pytest.mark.parametrize('faults', [['429'], ['500'], ['429', 'malformed']])
def test_transient_errors_are_retried_until_success(openai_server, faults):
    openai_server.faults = list(faults)
    assert call(openai_server, retries=3).startswith('Local test server reply')
    assert openai_server.served == faults + [None]  # one request per attempt: no hidden retries underneath


def test_async_client_retries_too(openai_server):
    openai_server.faults = ['500', '429']
    reply = asyncio.run(acomplete(MSGS, 'openai/test', api_base=openai_server.url, retries=2, **FAST))
    assert reply.startswith('Local test server reply') and openai_server.requests == 3


def test_retries_are_bounded_and_the_error_names_the_reason(openai_server):
    openai_server.faults = ['429'] * 10
    with pytest.raises(LLMError) as e: call(openai_server, retries=1)
    assert e.value.reason == 'rate limit' and 'after 2 attempts' in str(e.value) and len(str(e.value).splitlines()) == 1
    assert openai_server.requests == 2


def test_server_error_with_no_retries_is_one_request(openai_server):
    openai_server.faults = ['500', '500']
    with pytest.raises(LLMError) as e: call(openai_server, retries=0)
    assert e.value.reason == 'server error' and openai_server.requests == 1


def test_retry_after_header_is_honoured(openai_server):
    "The server's 429 asks for Retry-After: 2 (LiteLLM's own first wait is 0.5-1.25 s): the retry waits for it."
    openai_server.faults, openai_server.retry_after = ['429'], 2
    t0 = time.perf_counter()
    assert call(openai_server, retries=1).startswith('Local test server reply')
    assert 2 <= time.perf_counter() - t0 < 4.5


def test_timeout_maps_to_an_error(openai_server):
    openai_server.hang = 10
    openai_server.faults = ['timeout', 'timeout']
    t0 = time.perf_counter()
    with pytest.raises(LLMError) as e: call(openai_server, retries=1, timeout=0.3)
    assert e.value.reason == 'timeout' and openai_server.requests == 2
    assert time.perf_counter() - t0 < 8, 'the timeout applies per attempt (the server would take 10 s)'


def test_timeout_then_success(openai_server):
    openai_server.hang = 3
    openai_server.faults = ['timeout']
    assert call(openai_server, retries=1, timeout=0.3).startswith('Local test server reply')


def test_malformed_json_is_reported_not_crashing(openai_server):
    openai_server.faults = ['malformed'] * 5
    with pytest.raises(LLMError) as e: call(openai_server, retries=1)
    assert e.value.reason == 'malformed reply' and 'Expecting value' in str(e.value)


def test_malformed_json_once_is_retried(openai_server):
    openai_server.faults = ['malformed']
    assert call(openai_server, retries=1).startswith('Local test server reply')


@pytest.mark.parametrize('fault,reason', [('empty', 'empty reply'), ('truncated', 'truncated'), ('refusal', 'refused')])
def test_bad_answers_fail_at_once_with_their_reason(openai_server, fault, reason):
    openai_server.faults = [fault]
    with pytest.raises(LLMError) as e: call(openai_server, retries=3)
    assert e.value.reason == reason
    assert openai_server.requests == 1, 'a bad answer is not a transport error: the caller decides what to retry'


def test_refused_connection_is_an_error_not_a_traceback():
    with pytest.raises(LLMError) as e:
        complete(MSGS, 'openai/test', api_base='http://127.0.0.1:9/v1', retries=1, **FAST)
    assert e.value.reason == 'connection'


def test_keys_come_from_the_environment_only(openai_server, monkeypatch):
    with pytest.raises(ValueError, match='environment'): call(openai_server, api_key='sk-secret')
    monkeypatch.setenv('FRICTION_LLM_API_BASE', openai_server.url)  # a server of your own, by environment
    assert complete(MSGS, 'openai/test', **FAST).startswith('Local test server reply')


def test_standin_through_litellm_sync_and_async():
    msgs = persona_messages('problem_framer', 'Why is the sea salty because of fish tears?', 'challenge_premise')
    a = complete(msgs, STANDIN_MODEL, seed=4)
    assert a == standin_reply(msgs, seed=4) and a.startswith('[stand-in]')
    assert asyncio.run(acomplete(msgs, STANDIN_MODEL, seed=4)) == a
    answers = {complete(answer_messages('Why is the sea salty because of fish tears?', 'challenge_premise'),
                        STANDIN_MODEL, seed=s) for s in range(10)}
    assert len(answers) > 1


@pytest.mark.parametrize('key', list(PERSONAS))
def test_standin_speaks_as_each_persona(key):
    t = standin_reply(persona_messages(key, 'What will my exam grade be?', 'admit_uncertainty'), seed=1)
    assert t.startswith('[stand-in]') and 'no behaviour' not in t


NET_PROBE = r"""
import os, socket, sys, json
for k in ('LITELLM_LOCAL_MODEL_COST_MAP', 'LITELLM_OFFLINE_MODE'): os.environ.pop(k, None)
attempts = []
_connect, _getaddrinfo = socket.socket.connect, socket.getaddrinfo
def connect(self, addr): attempts.append(repr(addr)); return _connect(self, addr)
def getaddrinfo(host, *a, **k): attempts.append(repr(host)); return _getaddrinfo(host, *a, **k)
socket.socket.connect, socket.getaddrinfo = connect, getaddrinfo
from friction_reasoning.agents import complete, STANDIN_MODEL, _litellm
_litellm()
complete([{'role': 'user', 'content': 'hi'}], STANDIN_MODEL)
print(json.dumps({'attempts': attempts, 'cost_map': os.environ.get('LITELLM_LOCAL_MODEL_COST_MAP'),
                  'offline': os.environ.get('LITELLM_OFFLINE_MODE')}))
"""


def test_importing_litellm_does_not_reach_for_the_network():
    "With LiteLLM's switches unset in the environment, the module sets them itself: no socket is opened."
    env = {k: v for k, v in os.environ.items() if not k.startswith('LITELLM_')}
    r = subprocess.run([sys.executable, '-c', NET_PROBE], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    out = __import__('json').loads(r.stdout.strip().splitlines()[-1])
    assert out['attempts'] == [], out['attempts']
    assert (out['cost_map'], out['offline']) == ('True', 'true')


@pytest.mark.parametrize('fault,reason', [('401', 'auth'), ('400', 'bad request')])
def test_rejected_key_or_bad_request_is_not_retried(openai_server, fault, reason):
    openai_server.faults = [fault] * 3
    with pytest.raises(LLMError) as e: call(openai_server, retries=3)
    assert e.value.reason == reason and openai_server.requests == 1 and 'attempts' not in str(e.value)
    assert len(str(e.value).splitlines()) == 1, 'one line, not LiteLLM\'s paragraph'


def test_several_providers_share_the_calls(openai_server):
    "Comma-separated model ids: one Router spreads the calls over them (here two model names on one server)."
    from friction_reasoning.agents import llm_router
    for i in range(12): complete([{'role': 'user', 'content': f'q{i}'}], 'openai/a,openai/b', api_base=openai_server.url, **FAST)
    assert set(openai_server.models) <= {'a', 'b'} and len(openai_server.models) == 12  # every call answered, by one of them
    router = llm_router('openai/a,openai/b', openai_server.url, None, FAST.get('backoff', 0.0))
    assert sorted(d['litellm_params']['model'] for d in router.model_list) == ['openai/a', 'openai/b']
    # which one answers is the Router's choice (random; a deployment that failed cools down): one CI run sent all 12 to b


def test_missing_keys_names_every_provider_s_key(monkeypatch):
    monkeypatch.delenv('FRICTION_LLM_API_BASE', raising=False)
    for k in ('OPENAI_API_KEY', 'ANTHROPIC_API_KEY'): monkeypatch.delenv(k, raising=False)
    assert missing_keys(STANDIN_MODEL) == []
    assert missing_keys(f'{STANDIN_MODEL},openai/gpt-4o-mini,anthropic/claude-3-5-haiku-latest') == ['OPENAI_API_KEY', 'ANTHROPIC_API_KEY']
    monkeypatch.setenv('OPENAI_API_KEY', 'sk-test')
    assert missing_keys('openai/gpt-4o-mini') == []


def test_a_persona_of_your_own_speaks_with_the_standin():
    "Notebook 01's exercise, offline: a voice the stand-in has no lines for speaks from its own role and friction."
    devil = Persona('devils_advocate', "Devil's Advocate", "Argues for simply giving the user what they asked for.",
                    "Provocative but brief.", "Tests whether the friction is really needed.")
    previous = [(p, standin_reply(persona_messages(p, 'Why is the sea salty?', 'challenge_premise'), seed=1)) for p in PERSONAS]
    t = complete(persona_messages(devil, 'Why is the sea salty?', 'challenge_premise', previous=previous), STANDIN_MODEL, seed=1)
    assert t.startswith('[stand-in] My part: argues for simply giving') and 'tests whether the friction is really needed' in t
    notes = answer_messages('Why is the sea salty?', 'challenge_premise', previous=[*previous, (devil.key, t)])[1]['content']
    assert "- devils_advocate: [stand-in] My part" in notes
