"""The LLM client against a real OpenAI-compatible HTTP server on 127.0.0.1 (tests/openai_server.py): retries on
429/500, timeouts, malformed and empty replies, keys from the environment; the stand-in through LiteLLM; and an
import of LiteLLM that never reaches for the network."""
import asyncio, os, subprocess, sys, time
from pathlib import Path
import pytest
from openai_server import OpenAIServer, openai_server  # noqa: F401 (fixture)
from friction_reasoning.agents import (LLMError, STANDIN_MODEL, PERSONAS, acomplete, answer_messages, complete,
                                       persona_messages, standin_reply)

MSGS = [{'role': 'user', 'content': 'Is a tomato a fruit?'}]
FAST = dict(backoff=0.01, timeout=5)  # tests do not wait for real backoff


def call(server, **kw):
    return complete(MSGS, 'openai/test', api_base=server.url, **{**FAST, **kw})


def test_plain_call_returns_the_reply(openai_server):
    assert call(openai_server) == 'Local test server reply to: Is a tomato a fruit?'
    assert openai_server.requests == 1


@pytest.mark.parametrize('faults', [['429'], ['500'], ['429', '500', '429']])
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
    with pytest.raises(LLMError) as e: call(openai_server, retries=2)
    assert e.value.reason == 'rate limit' and 'after 3 attempts' in str(e.value)
    assert openai_server.requests == 3


def test_server_error_with_no_retries_is_one_request(openai_server):
    openai_server.faults = ['500', '500']
    with pytest.raises(LLMError) as e: call(openai_server, retries=0)
    assert e.value.reason == 'server error' and openai_server.requests == 1


def test_retry_after_header_is_honoured(openai_server):
    "The server's 429 says Retry-After: 0, so even a 30 s backoff setting does not make us wait."
    openai_server.faults = ['429']
    t0 = time.perf_counter()
    call(openai_server, retries=1, backoff=30)
    assert time.perf_counter() - t0 < 5


def test_timeout_maps_to_an_error(openai_server):
    openai_server.hang = 3
    openai_server.faults = ['timeout', 'timeout']
    t0 = time.perf_counter()
    with pytest.raises(LLMError) as e: call(openai_server, retries=1, timeout=0.3)
    assert e.value.reason == 'timeout' and openai_server.requests == 2
    assert time.perf_counter() - t0 < 2.5, 'the timeout applies per attempt'


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


def test_rejected_key_is_not_retried(openai_server):
    openai_server.faults = ['401'] * 3
    with pytest.raises(LLMError) as e: call(openai_server, retries=3)
    assert e.value.reason == 'auth' and openai_server.requests == 1
