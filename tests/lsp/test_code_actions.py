"""Refactor code actions, "Explain" and hover.

With only the offline `local` model (no chat backend configured), the model
cannot honestly explain or refactor: the built-in actions are offered
disabled, with the reason (to clients that show that; see
test_offline_actions_are_not_offered_to_clients_that_cannot_show_why), and
every path that is taken anyway tells the user, in one sentence with no
JSON-RPC code, to configure a backend, and never invents text or applies an
edit.
"""

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from support import CONTENT_MODIFIED, INVALID_PARAMS, SHOP, RawServer, error_of

CART = "src/cart.rs"


def total_cents_body(doc) -> tuple[int, int]:
    """The method chain in `Cart::total_cents` (lines 37-40 of cart.rs)."""
    start = doc.offset("self.line_items\n            .iter()", after=False)
    return start, doc.offset(".sum()")


def assert_needs_a_backend(message: str) -> None:
    assert "configure" in message, message
    assert "backend" in message, message


async def told_once(editor, what: str) -> str:
    """The one error message the user was shown."""
    await editor.eventually(lambda: editor.shown(types.MessageType.Error), what)
    [message] = editor.shown(types.MessageType.Error)
    assert "-32803" not in message and "RequestFailed" not in message, message
    return message


async def test_refactor_and_explain_actions_for_a_selection(editor):
    doc = editor.open(CART)
    start, end = total_cents_body(doc)

    actions = await editor.code_actions(doc, start, end)

    by_title = {a["title"]: a for a in actions}
    assert set(by_title) == {
        "Extract function",
        "Rewrite doc comment",  # total_cents has a doc comment already
        "Explain this code (Cordon)",
    }, list(by_title)
    # Actions that need the user's words are not offered as plain actions.
    assert not any("Rewrite selection" in t for t in by_title)
    extract = by_title["Extract function"]
    assert extract["kind"] == "refactor.extract"
    # Resolved lazily: no edit (and no model call) until the user picks it.
    assert "edit" not in extract and "command" not in extract
    assert extract["data"]["plugin"] == "refactor"
    assert extract["data"]["id"] == "extract-function"
    # No chat backend: each is offered disabled, saying what to configure.
    for action in actions:
        assert_needs_a_backend(action["disabled"]["reason"])
    explain = by_title["Explain this code (Cordon)"]
    assert explain["command"]["command"] == "cordon.explain"
    [argument] = explain["command"]["arguments"]
    assert argument["uri"] == doc.uri
    assert argument["range"] == {
        "start": {"line": 36, "character": 8},
        "end": {"line": 39, "character": 18},
    }


async def test_listing_actions_does_not_call_the_model(editor):
    doc = editor.open(CART)
    before = await editor.stats()
    await editor.code_actions(doc, *total_cents_body(doc))
    after = await editor.stats()
    assert after["model_requests"] == before["model_requests"]


async def test_only_filters_action_kinds(editor):
    doc = editor.open(CART)
    start, end = total_cents_body(doc)

    extract_only = await editor.code_actions(doc, start, end, only=["refactor.extract"])
    refactors = await editor.code_actions(doc, start, end, only=["refactor"])
    quickfixes = await editor.code_actions(doc, start, end, only=["quickfix"])

    assert [a["title"] for a in extract_only] == ["Extract function"]
    assert {a["kind"] for a in refactors} == {"refactor.extract", "refactor.rewrite"}
    assert quickfixes == []


async def test_cursor_in_a_function_offers_a_doc_comment(editor):
    doc = editor.open(CART)
    cursor = doc.offset("pub fn units")
    actions = await editor.code_actions(doc, cursor, cursor)
    assert [a["title"] for a in actions] == ["Rewrite doc comment", "Explain this code (Cordon)"]


async def test_resolving_a_refactor_without_a_chat_backend_fails_clearly(editor):
    doc = editor.open(CART)
    actions = await editor.code_actions(doc, *total_cents_body(doc))
    extract = next(a for a in actions if a["title"] == "Extract function")
    before = await editor.stats()

    resolved = await editor.request(types.CODE_ACTION_RESOLVE, extract)

    # Nothing to apply, and the reason said once, in words.
    assert "edit" not in resolved, resolved
    message = await told_once(editor, "the reason the refactor failed")
    assert message.startswith("Cordon could not Extract function: "), message
    assert_needs_a_backend(message)
    after = await editor.stats()
    # The refactor plugin asked (through the gate) and the local backend
    # refused: one model request, nothing invented.
    assert after["model_requests"] - before["model_requests"] <= 1
    # Resolving carries no token: the server asked the client to create one
    # (it allows that). A refusal this quick may end before the token exists
    # (then nothing is shown); a progress that began has ended.
    created = [t for t in editor.client.progress_reports if str(t).startswith("cordon-")]
    assert created, editor.client.progress_reports
    reports = editor.client.progress_reports[created[-1]]
    if reports:
        await editor.eventually(
            lambda: isinstance(reports[-1], types.WorkDoneProgressEnd),
            "the server-created progress of codeAction/resolve ends",
        )


async def test_resolving_an_action_listed_for_older_text_is_content_modified(editor):
    doc = editor.open(CART)
    actions = await editor.code_actions(doc, *total_cents_body(doc))
    extract = next(a for a in actions if a["title"] == "Extract function")
    editor.insert(doc, 0, "// edited\n")

    with pytest.raises(JsonRpcException) as excinfo:
        await editor.request(types.CODE_ACTION_RESOLVE, extract)

    assert error_of(excinfo).code == CONTENT_MODIFIED


async def test_resolve_with_foreign_data_is_invalid_params(editor):
    editor.open(CART)
    with pytest.raises(JsonRpcException) as excinfo:
        await editor.request(
            types.CODE_ACTION_RESOLVE,
            {"title": "x", "data": {"uri": editor.uri(CART), "range": None}},
        )
    assert error_of(excinfo).code == INVALID_PARAMS


async def test_explain_command_without_a_chat_backend_fails_clearly(editor):
    doc = editor.open(CART)
    actions = await editor.code_actions(doc, *total_cents_body(doc))
    explain = next(a for a in actions if a["kind"] == "cordon.explain")
    token = "explain-progress"
    editor.client.progress_reports[token] = []  # a token the client made up

    result = await editor.execute(
        explain["command"]["command"], explain["command"]["arguments"], token=token
    )

    assert result is None
    assert_needs_a_backend(await told_once(editor, "why nothing was explained"))
    # No explanation was shown, and the progress the editor displays ended.
    assert editor.shown(types.MessageType.Info) == []
    await editor.eventually(
        lambda: any(
            isinstance(r, types.WorkDoneProgressEnd) for r in editor.client.progress_reports[token]
        ),
        "the work-done progress of cordon.explain ends",
    )
    assert isinstance(editor.client.progress_reports[token][0], types.WorkDoneProgressBegin)


async def test_refactor_command_with_an_instruction_fails_clearly_and_edits_nothing(editor):
    applied = []
    editor.client.feature(types.WORKSPACE_APPLY_EDIT)(
        lambda ls, params: applied.append(params)
        or types.ApplyWorkspaceEditResult(applied=True)
    )
    doc = editor.open(CART)
    start, end = total_cents_body(doc)
    selection = {
        "start": {"line": 36, "character": 8},
        "end": {"line": 39, "character": 18},
    }
    assert doc.position(start, editor.encoding).line == 36

    result = await editor.execute(
        "cordon.refactor",
        [
            {
                "uri": doc.uri,
                "range": selection,
                "plugin": "refactor",
                "action": "rewrite-selection",
                "instruction": "use a for loop",
            }
        ],
    )

    assert result is None
    message = await told_once(editor, "why nothing was refactored")
    assert message.startswith("Cordon could not apply the refactor: "), message
    assert_needs_a_backend(message)
    await editor.stats()
    assert applied == []


@pytest.mark.parametrize(
    "command, arguments",
    [
        ("cordon.nope", []),
        ("cordon.explain", []),  # no target
        ("cordon.explain", [{"uri": "file:///nowhere.rs", "range": None}]),
        (
            "cordon.refactor",  # no plugin / action
            [{"uri": "file:///x.rs", "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}}],
        ),
    ],
)
async def test_bad_commands_are_invalid_params(editor, command, arguments):
    editor.open(CART)
    with pytest.raises(JsonRpcException) as excinfo:
        await editor.execute(command, arguments)
    err = error_of(excinfo)
    assert err.code == INVALID_PARAMS, (err.code, err.message)
    if command == "cordon.nope":
        assert "cordon.explain" in err.message and "cordon.refactor" in err.message
    # And the server still serves.
    await editor.stats()


async def test_unknown_refactor_plugin_is_invalid_params(editor):
    doc = editor.open(CART)
    with pytest.raises(JsonRpcException) as excinfo:
        await editor.execute(
            "cordon.refactor",
            [
                {
                    "uri": doc.uri,
                    "range": {"start": {"line": 36, "character": 8}, "end": {"line": 39, "character": 18}},
                    "plugin": "no-such-plugin",
                    "action": "extract-function",
                }
            ],
        )
    assert error_of(excinfo).code == INVALID_PARAMS
    assert "no-such-plugin" in error_of(excinfo).message


async def test_work_done_progress_ends_even_when_the_arguments_are_bad(editor):
    # An editor shows a spinner from `begin` until `end`: a request that
    # fails must still end it.
    editor.open(CART)
    token = "bad-arguments-progress"
    editor.client.progress_reports[token] = []

    with pytest.raises(JsonRpcException) as excinfo:
        await editor.execute("cordon.explain", [], token=token)

    assert error_of(excinfo).code == INVALID_PARAMS
    reports = editor.client.progress_reports[token]
    await editor.eventually(
        lambda: not reports or isinstance(reports[-1], types.WorkDoneProgressEnd),
        f"the progress begun for a failed cordon.explain ends (reports: {reports})",
        within_s=3,
    )


def hover_params(doc, offset, encoding) -> types.HoverParams:
    return types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=doc.uri),
        position=doc.position(offset, encoding),
    )


async def test_hover_is_off_by_default(editor):
    doc = editor.open(CART)
    before = await editor.stats()
    hover = await editor.within(
        editor.client.text_document_hover_async(
            hover_params(doc, doc.offset("pub fn units"), editor.encoding)
        )
    )
    assert hover is None
    assert (await editor.stats())["model_requests"] == before["model_requests"]


@pytest.mark.init_options({"cordon": {"hover_explain": True}})
async def test_hover_explain_without_a_chat_backend_says_why_in_the_hover(editor):
    doc = editor.open(CART)
    before = await editor.stats()
    hover = await editor.within(
        editor.client.text_document_hover_async(
            hover_params(doc, doc.offset("pub fn units"), editor.encoding)
        )
    )
    text = hover.contents.value
    assert text.startswith("Cordon cannot explain this code: "), text
    assert_needs_a_backend(text)
    # Said in the hover, not asked of a model nor popped up as an error.
    assert (await editor.stats())["model_requests"] == before["model_requests"]
    assert editor.shown(types.MessageType.Error) == []


async def test_offline_actions_are_not_offered_to_clients_that_cannot_show_why(tmp_path):
    """A client without `codeAction.disabledSupport` is not offered actions
    that cannot work: picking one would only fail."""
    server = RawServer()
    try:
        server.initialize()
        text = (SHOP / CART).read_text()
        uri = (SHOP / CART).as_uri()
        server.notify("textDocument/didOpen", {"textDocument": {
            "uri": uri, "languageId": "rust", "version": 1, "text": text,
        }})
        answer = server.request("textDocument/codeAction", {
            "textDocument": {"uri": uri},
            "range": {"start": {"line": 36, "character": 8}, "end": {"line": 39, "character": 18}},
            "context": {"diagnostics": []},
        })
        assert answer["result"] == [], answer
    finally:
        server.kill()
