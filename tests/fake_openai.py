"""A local OpenAI-compatible chat-completions server for tests of the `ChatOpenAI` path.

It is a fake *model*, not a fake client: `ChatOpenAI` talks to it over real HTTP on loopback, with
streaming (SSE), tool calls and structured output. Its behaviour is scripted by rules:
- a structured-output request (`response_format`, or a forced `tool_choice`) gets `route_json`, or
  `grade_json` when it asks for the support agent's grounding verdict (schema `ContextGrade`);
- a request with `tools` whose last message is the user's gets a call to the first tool named in
  `tool_calls` that the request offers, with the scripted arguments;
- anything else gets a text answer that quotes the first `"result_text"` / `"headline"` it finds in
  the prompt, so tests can check the answer was written from the tool result.
Every request body is kept in `requests` for assertions.

Faults: `faults` is a queue of `Fault`s. Each request takes the first queued fault whose `when` matches
it (`route`: a structured-output call; `grade`: the grounding check's structured call; `plan`: a call
offering tools; `answer`: a call without tools; `any`), and is answered with that fault instead of the script: 429 with `Retry-After`, 500, 401, 400,
a hang longer than the client's timeout, a body that is not JSON, a stream cut (TCP closed) after N
chunks, or a tool call whose arguments are invalid (`arguments` is sent verbatim: wrong types,
missing fields, or not JSON at all). Served faults are listed in `served`. `answer_text`, when set,
replaces the scripted text answers.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Literal

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

FaultKind = Literal["429", "500", "401", "400", "hang", "malformed_json", "cut_stream", "tool_args"]
CallKind = Literal["route", "grade", "plan", "answer", "any"]
GRADE_SCHEMA = "ContextGrade"
"""Name of the grounding check's output schema (`graph.llm.grounding.ContextGrade`)."""


@dataclass
class Fault:
    """One scripted failure, served to the next request that matches `when`."""

    kind: FaultKind
    when: CallKind = "any"
    retry_after: float | None = None
    """429: the `Retry-After` header, in seconds."""
    hang_s: float = 30.0
    """hang: how long to wait before answering (or until the client gives up)."""
    after_chunks: int = 3
    """cut_stream: SSE chunks sent before the connection is cut (the role chunk counts)."""
    tool: str = ""
    """tool_args: which tool to call (default: the first scripted tool the request offers)."""
    arguments: str = "{}"
    """tool_args: the arguments string, sent verbatim."""


class CutConnection(Exception):
    """Raised inside a streaming body: uvicorn then closes the TCP connection mid-response."""


def schema_name(body: dict[str, Any]) -> str | None:
    """The output schema a structured-output request asks for (`None` for other requests)."""
    response_format = body.get("response_format")
    if isinstance(response_format, dict):
        return str(response_format.get("json_schema", {}).get("name", response_format.get("type", "")))
    forced = body.get("tool_choice")
    if isinstance(forced, dict):
        return str(forced.get("function", {}).get("name", ""))
    return None


def call_kind(body: dict[str, Any]) -> CallKind:
    """Which of the graph's model calls a request body is."""
    name = schema_name(body)
    if name is not None:
        return "grade" if name == GRADE_SCHEMA else "route"
    return "plan" if body.get("tools") else "answer"


class FakeOpenAI:
    """The server and its script."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.route_json: dict[str, Any] = {"route": "finance", "reason": "asks for a finance metric"}
        self.grade_json: dict[str, Any] | None = None
        """The grounding verdict; `None` answers the grading call with `route_json`, which is no verdict."""
        self.tool_calls: dict[str, dict[str, Any]] = {}
        self.answer_text: str | None = None
        self.faults: list[Fault] = []
        self.served: list[tuple[FaultKind, CallKind]] = []
        self.app = FastAPI()
        self.app.post("/v1/chat/completions")(self._complete)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self._server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning"))
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._stopping = False

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
        self._stopping = True
        self._server.should_exit = True
        self._thread.join(timeout=5)

    # -- the "model" --------------------------------------------------------------------------
    def _reply(self, body: dict[str, Any]) -> dict[str, Any]:
        messages = body.get("messages", [])
        structured = self.route_json
        if call_kind(body) == "grade" and self.grade_json is not None:
            structured = self.grade_json
        if body.get("response_format"):
            return {"content": json.dumps(structured)}
        forced = body.get("tool_choice")
        if isinstance(forced, dict) and forced.get("type") == "function":  # structured output via a forced tool
            name = forced["function"]["name"]
            return {
                "tool_calls": [
                    {
                        "id": "call_0",
                        "type": "function",
                        "function": {"name": name, "arguments": json.dumps(structured)},
                    }
                ]
            }
        offered = {t["function"]["name"] for t in body.get("tools", [])}
        if offered and messages and messages[-1]["role"] in ("user", "tool"):  # a request, or a correction
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
        if self.answer_text is not None:
            return {"content": self.answer_text}
        prompt = "\n".join(str(m.get("content", "")) for m in messages)
        found = re.search(r'"(?:result_text|headline)":\s*"([^"]+)"', prompt)
        return {"content": f"According to the tool: {found.group(1) if found else 'no data'}. Steps were shown above."}

    def _take_fault(self, body: dict[str, Any]) -> Fault | None:
        kind = call_kind(body)
        for i, fault in enumerate(self.faults):
            if fault.when in ("any", kind):
                del self.faults[i]
                self.served.append((fault.kind, kind))
                return fault
        return None

    async def _fault_response(self, fault: Fault, body: dict[str, Any], request: Request) -> Any:
        """The response for `fault`, or `None` when the fault only changes the reply (tool_args, cut_stream)."""
        if fault.kind == "429":
            headers = {} if fault.retry_after is None else {"retry-after": f"{fault.retry_after:g}"}
            return _error(429, "Rate limit reached for requests", "rate_limit_error", headers)
        if fault.kind == "500":
            return _error(500, "The server had an error while processing your request", "server_error")
        if fault.kind == "401":
            return _error(401, "Incorrect API key provided", "invalid_request_error")
        if fault.kind == "400":
            return _error(400, "Invalid 'messages': the request is malformed", "invalid_request_error")
        if fault.kind == "hang":
            deadline = time.monotonic() + fault.hang_s
            while time.monotonic() < deadline and not self._stopping:
                if await request.is_disconnected():
                    break
                await asyncio.sleep(0.05)
            return _error(504, "the fake model hung", "server_error")
        if fault.kind == "malformed_json":
            if body.get("stream"):
                return StreamingResponse(iter(["data: {not json at all\n\n"]), media_type="text/event-stream")
            return Response(b'{"id": "chatcmpl-1", "choices": [{"message": ', media_type="application/json")
        return None

    async def _complete(self, request: Request) -> Any:
        body = await request.json()
        self.requests.append(body)
        fault = self._take_fault(body)
        if fault is not None:
            response = await self._fault_response(fault, body, request)
            if response is not None:
                return response
        reply = self._reply(body)
        if fault is not None and fault.kind == "tool_args":
            offered = [t["function"]["name"] for t in body.get("tools", [])]
            name = fault.tool or next((n for n in self.tool_calls if n in offered), offered[0] if offered else "")
            reply = {
                "tool_calls": [
                    {"id": "call_bad", "type": "function", "function": {"name": name, "arguments": fault.arguments}}
                ]
            }
        cut_after = fault.after_chunks if fault is not None and fault.kind == "cut_stream" else None
        model = body.get("model", "fake")
        if not body.get("stream") and cut_after is not None:
            full = json.dumps({"id": "chatcmpl-1", "object": "chat.completion", "choices": []})

            def partial() -> Any:
                yield full[: len(full) // 2]
                raise CutConnection("cut by the fault script")

            return StreamingResponse(partial(), media_type="application/json")
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
            for sent, event in enumerate(script()):
                if cut_after is not None and sent >= cut_after:
                    raise CutConnection("cut by the fault script")
                yield event

        def script() -> Any:
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


def _error(status: int, message: str, kind: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "type": kind, "param": None, "code": None}},
        status_code=status,
        headers=headers,
    )
