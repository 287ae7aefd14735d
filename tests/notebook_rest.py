"""A small client of a real Jupyter server: its REST API and a kernel's websocket channels.

What a browser does when someone opens a notebook and runs a cell, without the browser:
``POST /api/kernels`` starts a kernel, ``/api/kernels/<id>/channels`` carries the Jupyter
messaging protocol (an ``execute_request`` on the shell channel; stream, result, error and status
messages back on iopub). Used by the notebook tests of both backends.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from typing import Any


class JupyterREST:
    """The server at ``base_url`` (``http://127.0.0.1:PORT``), authenticated with ``token``."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self._sockets: dict[str, Any] = {}

    def request(
        self, path: str, method: str = "GET", body: Any = None, *, token: str | None = ""
    ) -> tuple[int, Any]:
        """(status, decoded JSON) of one request; ``token=None`` sends none, "" the server's."""
        token = self.token if token == "" else token
        headers = {"Authorization": f"token {token}"} if token is not None else {}
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base_url + path, method=method, headers=headers, data=data
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read()
                status = response.status
        except urllib.error.HTTPError as exc:
            return exc.code, None
        try:
            return status, json.loads(raw or b"null")
        except ValueError:
            return status, raw.decode(errors="replace")

    def wait_ready(self, timeout: float = 60.0, *, alive: Any = None) -> None:
        """Wait until ``/api/status`` answers (``alive()`` false: the server died, stop)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if alive is not None and not alive():
                raise RuntimeError("the Jupyter server exited")
            try:
                if self.request("/api/status")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"no Jupyter server at {self.base_url} after {timeout:.0f} s")

    def start_kernel(self) -> str:
        status, kernel = self.request("/api/kernels", "POST", {"name": "python3"})
        assert status == 201, (status, kernel)
        return kernel["id"]

    def kernel_state(self, kernel_id: str) -> str:
        return self.request(f"/api/kernels/{kernel_id}")[1]["execution_state"]

    def execute(self, kernel_id: str, code: str, timeout: float = 120.0) -> str:
        """Run ``code`` in the kernel as a notebook cell; its printed output, or AssertionError."""
        import websocket

        ws = self._sockets.get(kernel_id)
        if ws is None:
            url = self.base_url.replace("http://", "ws://") + f"/api/kernels/{kernel_id}/channels"
            ws = websocket.create_connection(
                url, header=[f"Authorization: token {self.token}"], timeout=timeout
            )
            self._sockets[kernel_id] = ws
        msg_id = uuid.uuid4().hex
        header = {"msg_id": msg_id, "username": "test", "session": uuid.uuid4().hex, "date": "",
                  "msg_type": "execute_request", "version": "5.3"}  # fmt: skip
        content = {"code": code, "silent": False, "store_history": True,
                   "user_expressions": {}, "allow_stdin": False, "stop_on_error": True}  # fmt: skip
        ws.send(json.dumps({"header": header, "parent_header": {}, "metadata": {},
                            "content": content, "channel": "shell"}))  # fmt: skip
        out: list[str] = []
        error = None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = json.loads(ws.recv())
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, body = message["msg_type"], message["content"]
            if kind == "stream":
                out.append(body["text"])
            elif kind == "execute_result":
                out.append(body["data"].get("text/plain", ""))
            elif kind == "error":
                error = f"{body['ename']}: {body['evalue']}\n" + "\n".join(body["traceback"])
            elif kind == "status" and body["execution_state"] == "idle":
                if error:
                    raise AssertionError(f"the cell failed: {error}\noutput: {''.join(out)}")
                return "".join(out)
        raise TimeoutError(f"the cell did not finish within {timeout:.0f} s")

    def close(self) -> None:
        for ws in self._sockets.values():
            ws.close()
        self._sockets.clear()
