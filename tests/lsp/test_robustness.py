"""Bad input from the editor gets a proper JSON-RPC error (or is ignored
where the spec says so), never a crash or a hang; after each, the server
still answers. Also the lifecycle: shutdown/exit, and stdin closing.

Malformed frames cannot be sent through pytest-lsp, so those tests (and the
ones that need full control of the session) use `RawServer`: the binary
driven with hand-written Content-Length frames.
"""

import json

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from support import (
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    SERVER_NOT_INITIALIZED,
    SHOP,
    RawServer,
    error_of,
    inline_items,
)

CART = "src/cart.rs"
CART_URI = (SHOP / CART).as_uri()
LINE = 56  # `        self.line_`


def assert_still_serving(raw: RawServer) -> None:
    answer = raw.request("cordon/stats")
    assert "result" in answer, answer


def open_cart(raw: RawServer) -> None:
    raw.notify(
        "textDocument/didOpen",
        {
            "textDocument": {
                "uri": CART_URI,
                "languageId": "rust",
                "version": 1,
                "text": (SHOP / CART).read_text(encoding="utf-8"),
            }
        },
    )


def completion(uri: str = CART_URI, line: int = LINE, character: int = 18) -> dict:
    return {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}}


# --- the raw protocol -------------------------------------------------------


def test_requests_before_initialize_are_refused_and_initialize_still_works(raw):
    for method, params in [
        ("textDocument/completion", completion()),
        ("cordon/stats", None),
        ("shutdown", None),
    ]:
        answer = raw.request(method, params)
        assert answer.get("error", {}).get("code") == SERVER_NOT_INITIALIZED, (method, answer)
    # Notifications before initialize are dropped, not fatal.
    open_cart(raw)

    capabilities = raw.initialize()["capabilities"]

    assert capabilities["inlineCompletionProvider"] is True
    assert capabilities["positionEncoding"] == "utf-16"
    assert_still_serving(raw)


def test_a_second_initialize_is_an_invalid_request(raw):
    raw.initialize()
    answer = raw.request(
        "initialize", {"processId": None, "rootUri": SHOP.as_uri(), "capabilities": {}}
    )
    assert answer.get("error", {}).get("code") == INVALID_REQUEST, answer
    assert_still_serving(raw)


def test_malformed_json_gets_a_parse_error_and_the_server_keeps_serving(raw):
    raw.initialize()

    raw.frame(b'{"jsonrpc": "2.0", "id": 7, "method": ')  # cut short

    error = raw.next_reply()
    assert error["id"] is None and error["error"]["code"] == PARSE_ERROR, error
    assert_still_serving(raw)


def test_json_that_is_not_a_message_gets_invalid_request_and_the_server_keeps_serving(raw):
    raw.initialize()

    raw.frame(json.dumps({"hello": "world"}).encode())

    error = raw.next_reply()
    assert error["error"]["code"] == INVALID_REQUEST, error
    assert_still_serving(raw)


def test_a_body_that_is_not_utf8_is_refused_and_the_server_keeps_serving(raw):
    raw.initialize()

    raw.frame(b'{"jsonrpc": "2.0", "method": "x\xff\xfe"}')

    error = raw.next_reply()
    assert error["error"]["code"] in (PARSE_ERROR, INVALID_REQUEST), error
    assert_still_serving(raw)


def test_wrongly_typed_params_are_invalid_params(raw):
    raw.initialize()
    for method, params in [
        ("textDocument/completion", "not an object"),
        ("textDocument/inlineCompletion", {"textDocument": {"uri": CART_URI}}),
        ("textDocument/codeAction", {"textDocument": 3}),
    ]:
        answer = raw.request(method, params)
        assert answer.get("error", {}).get("code") == INVALID_PARAMS, (method, answer)
    assert_still_serving(raw)


def test_edits_the_server_cannot_apply_are_ignored_until_a_full_sync(raw):
    raw.initialize()
    # An edit for a document that is not open, and one past its end.
    raw.notify(
        "textDocument/didChange",
        {
            "textDocument": {"uri": "file:///not/open.rs", "version": 2},
            "contentChanges": [{"text": "x"}],
        },
    )
    open_cart(raw)
    raw.notify(
        "textDocument/didChange",
        {
            "textDocument": {"uri": CART_URI, "version": 2},
            "contentChanges": [
                {
                    "range": {
                        "start": {"line": 500, "character": 0},
                        "end": {"line": 501, "character": 0},
                    },
                    "text": "lost",
                }
            ],
        },
    )
    assert_still_serving(raw)
    # A full sync brings client and server back in step.
    # (The document's own text before the cursor is what it teaches.)
    text = "fn clear(&mut self) {\n    self.line_items.clear();\n    self.line_"
    raw.notify(
        "textDocument/didChange",
        {"textDocument": {"uri": CART_URI, "version": 3}, "contentChanges": [{"text": text}]},
    )
    answer = raw.request("textDocument/completion", completion(line=2, character=14))
    item = answer["result"]["items"][0]
    assert item["textEdit"]["range"]["start"] == {"line": 2, "character": 14}


def test_a_plugin_that_does_not_load_is_reported_and_the_others_serve(tmp_path):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "broken.wasm").write_bytes(b"\0asm not really a component")
    raw = RawServer("--plugin-dir", str(plugins))
    try:
        raw.initialize()
        open_cart(raw)
        answer = raw.request("textDocument/completion", completion())
        assert answer["result"]["items"][0]["textEdit"]["newText"].startswith("items")
        warnings = [m["message"] for m in raw.shown_messages() if m["type"] == 2]
        assert any("broken" in m for m in warnings), raw.skipped
    finally:
        raw.kill()


# --- through a real client ---------------------------------------------------


async def test_unknown_methods(editor):
    with pytest.raises(JsonRpcException) as excinfo:
        await editor.request("cordon/doesNotExist", {})
    assert error_of(excinfo).code == METHOD_NOT_FOUND
    # Unknown notifications, `$/` ones included, are ignored.
    editor.client.protocol.notify("cordon/somethingHappened", {})
    editor.client.protocol.notify("$/someFutureNotification", {})
    await editor.stats()


@pytest.mark.init_options({"cordon": {"hover_explain": True}})
async def test_requests_for_a_document_that_is_not_open_are_invalid_params(editor):
    uri = editor.uri("src/never_opened.rs")
    position = types.Position(line=0, character=0)
    document = types.TextDocumentIdentifier(uri=uri)
    requests = {
        "completion": editor.client.text_document_completion_async(
            types.CompletionParams(text_document=document, position=position)
        ),
        "inlineCompletion": editor.client.text_document_inline_completion_async(
            types.InlineCompletionParams(
                text_document=document,
                position=position,
                context=types.InlineCompletionContext(
                    trigger_kind=types.InlineCompletionTriggerKind.Invoked
                ),
            )
        ),
        "codeAction": editor.client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=document,
                range=types.Range(start=position, end=position),
                context=types.CodeActionContext(diagnostics=[]),
            )
        ),
        "hover": editor.client.text_document_hover_async(
            types.HoverParams(text_document=document, position=position)
        ),
        "cordon.explain": editor.client.workspace_execute_command_async(
            types.ExecuteCommandParams(
                command="cordon.explain",
                arguments=[{"uri": uri, "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}}],
            )
        ),
    }
    for name, request in requests.items():
        with pytest.raises(JsonRpcException) as excinfo:
            await editor.within(request, name)
        err = error_of(excinfo)
        assert err.code == INVALID_PARAMS, (name, err.code, err.message)
        assert "not open" in err.message, (name, err.message)
    await editor.stats()


async def test_a_line_past_the_end_is_invalid_params(editor):
    doc = editor.open(CART)
    lines = doc.text.count("\n") + 1
    past = types.Position(line=lines + 10, character=0)
    document = types.TextDocumentIdentifier(uri=doc.uri)
    for name, request in {
        "completion": editor.client.text_document_completion_async(
            types.CompletionParams(text_document=document, position=past)
        ),
        "inlineCompletion": editor.client.text_document_inline_completion_async(
            types.InlineCompletionParams(
                text_document=document,
                position=past,
                context=types.InlineCompletionContext(
                    trigger_kind=types.InlineCompletionTriggerKind.Invoked
                ),
            )
        ),
        "codeAction": editor.client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=document,
                range=types.Range(start=types.Position(line=0, character=0), end=past),
                context=types.CodeActionContext(diagnostics=[]),
            )
        ),
    }.items():
        with pytest.raises(JsonRpcException) as excinfo:
            await editor.within(request, name)
        assert error_of(excinfo).code == INVALID_PARAMS, name
    # The document still completes.
    assert inline_items(await editor.inline(doc, doc.line_end(LINE), invoked=True))


async def test_a_character_past_the_line_end_means_the_line_end(editor):
    # The LSP specification: "If the character value is greater than the
    # line length it defaults back to the line length."
    doc = editor.open(CART)
    answer = await editor.within(
        editor.client.text_document_completion_async(
            types.CompletionParams(
                text_document=types.TextDocumentIdentifier(uri=doc.uri),
                position=types.Position(line=LINE, character=500),
            )
        )
    )
    edit = answer.items[0].text_edit
    assert edit.range.start == doc.position(doc.line_end(LINE), editor.encoding)
    assert edit.new_text.startswith("items")


async def test_a_reversed_range_is_invalid_params(editor):
    doc = editor.open(CART)
    with pytest.raises(JsonRpcException) as excinfo:
        await editor.code_actions(doc, doc.line_end(LINE), doc.line_end(LINE - 3))
    assert error_of(excinfo).code == INVALID_PARAMS
    await editor.stats()


# --- lifecycle ----------------------------------------------------------------


async def test_shutdown_then_exit_exits_with_code_0(editor):
    doc = editor.open(CART)
    await editor.inline(doc, doc.line_end(LINE), invoked=True)

    await editor.within(editor.client.shutdown_session(), "exit after shutdown")

    assert editor.client._server.returncode == 0


def test_requests_after_shutdown_are_invalid_requests(raw):
    raw.initialize()
    assert raw.request("shutdown")["result"] is None
    answer = raw.request("cordon/stats")
    assert answer.get("error", {}).get("code") == INVALID_REQUEST, answer
    raw.notify("exit")
    assert raw.wait() == 0


def test_exit_without_shutdown_exits_with_code_1(raw):
    # LSP: "The server should exit with success code 0 if the shutdown
    # request has been received before; otherwise with error code 1."
    raw.initialize()
    raw.notify("exit")
    assert raw.wait() == 1


def test_the_server_exits_when_the_editor_closes_stdin(raw):
    raw.initialize()
    open_cart(raw)
    raw.proc.stdin.close()
    raw.wait()  # any code, but it must not hang or linger as an orphan
