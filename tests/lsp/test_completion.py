"""Completions a user sees while typing: ghost text and completion items,
built by the offline `local` model from the workspace's own identifiers."""

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from support import INVALID_PARAMS, edit_of, error_of, inline_items

# tests/fixtures/shop/src/cart.rs, line 57 (1-based) is `        self.line_`;
# the struct has a field `line_items` that the workspace uses everywhere.
CART = "src/cart.rs"
CLEAR_LINE = 56  # 0-based


def cursor_range(doc, offset, encoding):
    at = doc.position(offset, encoding)
    return types.Range(start=at, end=at)


async def test_inline_completion_offers_the_workspace_field(editor):
    doc = editor.open(CART)
    cursor = doc.line_end(CLEAR_LINE)

    items = inline_items(await editor.inline(doc, cursor))

    assert items, "no ghost text after `self.line_`"
    first = items[0]
    assert first.insert_text.startswith("items"), first
    assert first.range == cursor_range(doc, cursor, editor.encoding)
    applied = doc.apply(first.range, first.insert_text, editor.encoding)
    assert applied.split("\n")[CLEAR_LINE].startswith("        self.line_items")


async def test_completion_items_carry_text_edits_at_the_cursor(editor):
    doc = editor.open(CART)
    cursor = doc.line_end(CLEAR_LINE)

    answer = await editor.complete(doc, cursor)

    assert isinstance(answer, types.CompletionList)
    # Every keystroke changes the answer: the client must ask again.
    assert answer.is_incomplete is True
    assert answer.items, "no completion items after `self.line_`"
    item = answer.items[0]
    assert item.label.startswith("line_items"), item
    edit = edit_of(item)
    assert edit.new_text.startswith("items")
    assert edit.range == cursor_range(doc, cursor, editor.encoding)
    applied = doc.apply(edit.range, edit.new_text, editor.encoding)
    assert applied.split("\n")[CLEAR_LINE].startswith("        self.line_items")


async def test_completion_follows_incremental_edits(editor):
    doc = editor.open(CART)
    cursor = doc.line_end(CLEAR_LINE)
    before = await editor.complete(doc, cursor)
    assert edit_of(before.items[0]).new_text.startswith("items")

    # The user accepts `items.` and types `it`, one edit each.
    editor.insert(doc, cursor, "items.")
    editor.insert(doc, doc.line_end(CLEAR_LINE), "it")
    cursor = doc.line_end(CLEAR_LINE)
    assert doc.text.split("\n")[CLEAR_LINE] == "        self.line_items.it"

    answer = await editor.complete(doc, cursor)

    assert answer.items, "no completion after `self.line_items.it`"
    edit = edit_of(answer.items[0])
    assert edit.range == cursor_range(doc, cursor, editor.encoding)
    assert edit.new_text.startswith("er"), edit  # iter()
    inline = inline_items(await editor.inline(doc, cursor, invoked=True))
    assert inline and inline[0].insert_text.startswith("er"), inline


async def test_multi_line_edits_move_the_cursor_line(editor):
    doc = editor.open(CART)
    # Two new lines above `self.line_`, typed as one edit (a paste).
    editor.insert(doc, doc.line_end(CLEAR_LINE - 1), "\n        let n = self.units();\n")
    line = CLEAR_LINE + 2
    assert doc.text.split("\n")[line] == "        self.line_"
    cursor = doc.line_end(line)

    answer = await editor.complete(doc, cursor)

    assert answer.items
    edit = edit_of(answer.items[0])
    assert edit.range.start.line == line
    assert edit.range == cursor_range(doc, cursor, editor.encoding)
    assert edit.new_text.startswith("items")

    # An edit that joins lines back (deletes across a line break).
    start = doc.line_end(CLEAR_LINE - 1)
    editor.edit(doc, start, doc.line_end(CLEAR_LINE + 1), "")
    assert doc.text.split("\n")[CLEAR_LINE] == "        self.line_"
    answer = await editor.complete(doc, doc.line_end(CLEAR_LINE))
    assert edit_of(answer.items[0]).range.start.line == CLEAR_LINE


async def test_full_document_sync_replaces_the_text(editor):
    doc = editor.open(CART)
    lines = doc.text.split("\n")
    lines[CLEAR_LINE] = "        self.line_items.it"
    editor.replace_all(doc, "\n".join(lines))

    answer = await editor.complete(doc, doc.line_end(CLEAR_LINE))

    assert answer.items
    assert edit_of(answer.items[0]).new_text.startswith("er")


async def test_closing_a_document_frees_it(editor):
    cart = editor.open(CART)
    catalog = editor.open("src/catalog.rs")
    assert (await editor.stats())["open_documents"] == 2

    editor.close(cart)

    assert (await editor.stats())["open_documents"] == 1
    with pytest.raises(JsonRpcException) as excinfo:
        await editor.complete(cart, cart.line_end(CLEAR_LINE))
    assert error_of(excinfo).code == INVALID_PARAMS
    assert "not open" in error_of(excinfo).message
    # The other document still answers, and reopening the closed one works.
    await editor.complete(catalog, catalog.line_end(0))
    cart = editor.open(CART)
    answer = await editor.complete(cart, cart.line_end(CLEAR_LINE))
    assert answer.items
    editor.close(cart)
    editor.close(catalog)
    assert (await editor.stats())["open_documents"] == 0


async def test_documents_outside_the_workspace_still_complete(editor, tmp_path):
    # An unsaved buffer or a file elsewhere: the model is the workspace's,
    # the text is the editor's.
    text = "fn clear(&mut self) {\n    self.line_"
    # A new buffer: an open workspace file's saved copy is set aside for
    # its live text (which here never defines `line_items`).
    doc = editor.open("src/scratch.rs", text=text)
    doc_elsewhere = type(doc)(uri=(tmp_path / "scratch.rs").as_uri(), text=text)
    editor.client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=doc_elsewhere.uri, language_id="rust", version=1, text=text
            )
        )
    )
    for d in (doc, doc_elsewhere):
        answer = await editor.complete(d, len(text))
        assert answer.items, d.uri
        assert edit_of(answer.items[0]).new_text.startswith("items")
