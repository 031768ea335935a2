"""A real OpenAI-compatible chat server on 127.0.0.1 for tests and benchmarks (stdlib only).

It answers `POST /v1/chat/completions` after `latency` seconds and can inject the faults a real provider shows:

- `'429'`: rate limited (with a `Retry-After` header of `retry_after` seconds, 0 unless set); `'500'`: server error; `'401'`: key rejected;
  `'400'`: bad request;
- `'timeout'`: waits `hang` seconds before answering, longer than a client's timeout;
- `'malformed'`: status 200 with a body that is not JSON; `'empty'`: a reply whose content is '';
- `'truncated'`: `finish_reason='length'`; `'refusal'`: `finish_reason='content_filter'`, no content.

Faults come from two places: `faults`, a queue used one per request (`None` = answer normally), and `rules`, a list
of `(text, fault)` that apply to every request whose messages contain `text`. Use it as a context manager, or through
the pytest fixture `openai_server` (import it into a test module: `from openai_server import openai_server`).
"""
import json, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FAULTS = ('400', '401', '429', '500', 'timeout', 'malformed', 'empty', 'truncated', 'refusal')


def echo_reply(messages):
    "Default reply: echoes the user's words (the last 'User: ' line of a relay prompt, else the last user message)."
    last = str(next((m['content'] for m in reversed(messages) if m.get('role') == 'user'), ''))
    said = [line[6:] for line in last.splitlines() if line.startswith('User: ')]
    return f"Local test server reply to: {' '.join((said[-1] if said else last).split())[-300:]}"


class OpenAIServer:
    "An OpenAI-compatible chat completions server on 127.0.0.1 with injectable latency and faults."

    def __init__(self, latency=0.0, hang=5.0, reply=echo_reply, port=0, retry_after=0):
        self.latency, self.hang, self.reply, self.retry_after = latency, hang, reply, retry_after
        self.faults, self.rules = [], []  # one-shot queue; persistent (text, fault) rules
        self.requests, self.served, self.models = 0, [], []  # request count; the fault (or None) and model of each
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(('127.0.0.1', port), self._handler())
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self.url = f'http://127.0.0.1:{self.port}/v1'
        self._thread = None

    def _pick_fault(self, body):
        text = json.dumps(body.get('messages', []), ensure_ascii=False)
        with self._lock:
            self.requests += 1
            fault = next((f for t, f in self.rules if t in text), None)
            if fault is None and self.faults: fault = self.faults.pop(0)
            self.served.append(fault); self.models.append(body.get('model'))
        return fault

    def _handler(server_self):
        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True  # else every small reply waits ~40 ms for a delayed ACK
            protocol_version = 'HTTP/1.1'

            def log_message(self, *args): pass

            def _send(self, status, body, headers=()):
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(data)))
                for k, v in headers: self.send_header(k, v)
                self.end_headers()
                try: self.wfile.write(data)
                except OSError: pass  # the client gave up (timeout): nothing to do

            def do_GET(self):  # model list, for clients that probe it
                self._send(200, {'object': 'list', 'data': [{'id': 'local-test', 'object': 'model'}]})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get('Content-Length', 0))) or b'{}')
                fault = server_self._pick_fault(body)
                time.sleep(server_self.hang if fault == 'timeout' else server_self.latency)
                if fault == '429':
                    return self._send(429, {'error': {'message': 'rate limited (test server)', 'type': 'rate_limit_error'}},
                                      [('Retry-After', str(server_self.retry_after))])
                if fault == '401':
                    return self._send(401, {'error': {'message': 'invalid api key (test server)', 'type': 'invalid_request_error'}})
                if fault == '400':
                    return self._send(400, {'error': {'message': 'bad request (test server)', 'type': 'invalid_request_error'}})
                if fault == '500':
                    return self._send(500, {'error': {'message': 'internal error (test server)', 'type': 'server_error'}})
                if fault == 'malformed': return self._send(200, b'{"id": "x", "choices": [ this is not json')
                content = server_self.reply(body.get('messages', []))
                finish = 'stop'
                if fault == 'empty': content = ''
                elif fault == 'truncated': content, finish = content[:20], 'length'
                elif fault == 'refusal': content, finish = None, 'content_filter'
                self._send(200, {
                    'id': f'chatcmpl-{server_self.requests}', 'object': 'chat.completion', 'created': int(time.time()),
                    'model': body.get('model', 'local-test'),
                    'choices': [{'index': 0, 'finish_reason': finish,
                                 'message': {'role': 'assistant', 'content': content}}],
                    'usage': {'prompt_tokens': 10, 'completion_tokens': 10, 'total_tokens': 20}})
        return Handler

    def start(self):
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={'poll_interval': 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._httpd.shutdown(); self._httpd.server_close()

    def __enter__(self): return self.start()
    def __exit__(self, *exc): self.stop()


try:
    import pytest

    @pytest.fixture
    def openai_server():
        "A fresh local OpenAI-compatible server per test; set `.latency`, `.faults`, `.rules` on it."
        with OpenAIServer() as s: yield s
except ImportError:  # the benchmark runs without pytest
    pass


if __name__ == '__main__':  # python tests/openai_server.py [PORT]: serve until Ctrl-C
    import sys
    s = OpenAIServer(port=int(sys.argv[1]) if len(sys.argv) > 1 else 8011).start()
    print(f'serving {s.url}'); s._thread.join()
