"""A local OpenAI-compatible chat-completions server for tests of the `ChatOpenAI` path.

It is a fake *model*, not a fake client: `ChatOpenAI` talks to it over real HTTP on loopback, with
streaming (SSE), tool calls and structured output. Its behaviour is scripted by rules:
- a structured-output request (`response_format`, or a forced `tool_choice`) gets `route_json`;
- a request with `tools` whose last message is the user's gets a call to the first tool named in
  `tool_calls` that the request offers, with the scripted arguments;
- anything else gets a text answer that quotes the first `"result_text"` / `"headline"` it finds in
  the prompt, so tests can check the answer was written from the tool result.
Every request body is kept in `requests` for assertions.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse


class FakeOpenAI:
    """The server and its script."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.route_json: dict[str, Any] = {"route": "finance", "reason": "asks for a finance metric"}
        self.tool_calls: dict[str, dict[str, Any]] = {}
        self.app = FastAPI()
        self.app.post("/v1/chat/completions")(self._complete)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self._server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning"))
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> FakeOpenAI:
        self._thread.start()
        deadline = time.time() + 10
        while not self._server.started and time.time() < deadline:
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)

    # -- the "model" --------------------------------------------------------------------------
    def _reply(self, body: dict[str, Any]) -> dict[str, Any]:
        messages = body.get("messages", [])
        if body.get("response_format"):
            return {"content": json.dumps(self.route_json)}
        forced = body.get("tool_choice")
        if isinstance(forced, dict) and forced.get("type") == "function":  # structured output via a forced tool
            name = forced["function"]["name"]
            return {
                "tool_calls": [
                    {
                        "id": "call_0",
                        "type": "function",
                        "function": {"name": name, "arguments": json.dumps(self.route_json)},
                    }
                ]
            }
        offered = {t["function"]["name"] for t in body.get("tools", [])}
        if offered and messages and messages[-1]["role"] == "user":
            for name, args in self.tool_calls.items():
                if name in offered:
                    return {
                        "tool_calls": [
                            {
                                "id": "call_1",
                                "type": "function",
                                "function": {"name": name, "arguments": json.dumps(args)},
                            }
                        ]
                    }
        prompt = "\n".join(str(m.get("content", "")) for m in messages)
        found = re.search(r'"(?:result_text|headline)":\s*"([^"]+)"', prompt)
        return {"content": f"According to the tool: {found.group(1) if found else 'no data'}. Steps were shown above."}

    async def _complete(self, request: Request) -> Any:
        body = await request.json()
        self.requests.append(body)
        reply = self._reply(body)
        model = body.get("model", "fake")
        if not body.get("stream"):
            message = {"role": "assistant", "content": reply.get("content")}
            if "tool_calls" in reply:
                message["tool_calls"] = reply["tool_calls"]
            return JSONResponse(
                {
                    "id": "chatcmpl-1",
                    "object": "chat.completion",
                    "created": 0,
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "message": message,
                            "finish_reason": "tool_calls" if "tool_calls" in reply else "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
                }
            )

        def chunk(delta: dict[str, Any], finish: str | None = None, usage: dict[str, int] | None = None) -> str:
            data: dict[str, Any] = {
                "id": "chatcmpl-1",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            if usage is not None:
                data["choices"] = []
                data["usage"] = usage
            return f"data: {json.dumps(data)}\n\n"

        def events() -> Any:
            yield chunk({"role": "assistant", "content": ""})
            if "tool_calls" in reply:
                call = reply["tool_calls"][0]
                yield chunk({"tool_calls": [{"index": 0, **call}]})
                yield chunk({}, "tool_calls")
            else:
                for word in re.findall(r"\S+\s*", reply["content"]):
                    yield chunk({"content": word})
                yield chunk({}, "stop")
            yield chunk({}, usage={"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120})
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")
