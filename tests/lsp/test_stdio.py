"""How editors connect: the other tests speak to `cordon lsp` over pipes;
libuv-based editors (Neovim, VS Code) hand a language server a Unix socket
pair instead. A whole session must work over one."""

from __future__ import annotations

import json
import os
import socket
import subprocess

from support import BINARY, SHOP, server_env

CART = SHOP / "src" / "cart.rs"


class SocketClient:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.sock.settimeout(15)
        self.buffer = b""

    def send(self, message: dict) -> None:
        body = json.dumps(message).encode()
        self.sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def receive(self) -> dict | None:
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                return None
            self.buffer += chunk
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        length = int(head.split(b":", 1)[1])
        while len(rest) < length:
            chunk = self.sock.recv(1 << 16)
            assert chunk, "the server closed the socket mid-message"
            rest += chunk
        self.buffer = rest[length:]
        return json.loads(rest[:length])

    def request(self, msg_id: int, method: str, params: dict | None = None) -> dict:
        self.send({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        while True:
            message = self.receive()
            assert message is not None, f"the server closed the socket before answering {method}"
            if message.get("id") == msg_id and "method" not in message:
                return message


def test_a_session_over_a_unix_socket_pair():
    ours, theirs = socket.socketpair()
    proc = subprocess.Popen([str(BINARY), "lsp"], stdin=theirs, stdout=theirs, env=server_env())
    theirs.close()
    client = SocketClient(ours)
    try:
        init = client.request(1, "initialize", {"processId": os.getpid(), "rootUri": SHOP.as_uri(), "capabilities": {}})
        assert "capabilities" in init["result"], init
        client.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        client.send({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": CART.as_uri(), "languageId": "rust", "version": 1, "text": CART.read_text()}}})
        answer = client.request(2, "textDocument/inlineCompletion", {
            "textDocument": {"uri": CART.as_uri()}, "position": {"line": 56, "character": 18},
            "context": {"triggerKind": 1}})
        assert answer["result"]["items"][0]["insertText"].startswith("items"), answer
        assert client.request(3, "shutdown") == {"jsonrpc": "2.0", "id": 3, "result": None}
        client.send({"jsonrpc": "2.0", "method": "exit"})
        assert proc.wait(15) == 0
    finally:
        ours.close()
        if proc.poll() is None:
            proc.kill()
