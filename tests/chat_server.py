"""A scripted OpenAI chat-completions server on localhost, for tests that drive the real `openai` client."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclasses.dataclass
class Reply:
    """One scripted reply: an answer's text, or an HTTP error, or raw bytes, maybe after a delay."""

    content: str | None = None
    status: int = 200
    headers: dict = dataclasses.field(default_factory=dict)
    delay: float = 0.0
    raw: bytes | None = None
    finish_reason: str = "stop"


class ChatServer:
    def __init__(self, script=()):
        self.script = [s if isinstance(s, Reply) else Reply(content=s) for s in script]
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                with server._lock:
                    server.requests.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                                            "body": body})
                    reply = server.script.pop(0) if server.script else Reply(
                        status=400, content="the test script has no more answers")
                time.sleep(reply.delay)
                try:
                    self._send(reply, body)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (a time-out)
                    pass

            def _send(self, reply: Reply, body: dict):
                if reply.raw is not None:
                    payload = reply.raw
                elif reply.status != 200:
                    payload = json.dumps({"error": {"message": reply.content or "scripted error",
                                                    "type": "scripted", "code": reply.status}}).encode()
                else:
                    payload = json.dumps({
                        "id": f"chatcmpl-{len(server.requests)}", "object": "chat.completion",
                        "created": 0, "model": body.get("model", "?"),
                        "choices": [{"index": 0, "finish_reason": reply.finish_reason,
                                     "message": {"role": "assistant", "content": reply.content}}],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                    }).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                       daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> "ChatServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def last_user_message(self, index: int = -1) -> str:
        messages = self.requests[index]["body"]["messages"]
        return [m for m in messages if m["role"] == "user"][-1]["content"]
