"""Positions on lines with non-ASCII text, in both negotiated encodings.

Each test runs twice: with a client that offers UTF-8 (the server must pick
it) and with one that offers only UTF-16. "🦀" is 4 bytes / 2 UTF-16 units,
each CJK character 3 bytes / 1 unit, and "é" is written as "e" + U+0301 (a
combining accent: two characters that look like one).
"""

from lsprotocol import types

from support import edit_of, inline_items

CART = "src/cart.rs"
LINE = 56  # 0-based; `        self.line_` in tests/fixtures/shop/src/cart.rs
DECORATION = 'let tag = "🦀 中文 e\u0301"; '
TYPED = "        " + DECORATION + "self.line_"

# Where the cursor is at the end of TYPED, as each encoding counts it.
CURSOR_COLUMN = {"utf-8": 47, "utf-16": 40}


def type_decoration(editor, doc) -> int:
    """Type DECORATION before `self.line_`; return the cursor offset at the
    end of the line."""
    editor.insert(doc, doc.line_end(LINE) - len("self.line_"), DECORATION)
    assert doc.text.split("\n")[LINE] == TYPED
    return doc.line_end(LINE)


async def test_ghost_text_lands_at_the_cursor_after_emoji_cjk_and_combining_marks(
    encoded_editor,
):
    editor = encoded_editor
    doc = editor.open(CART)
    cursor = type_decoration(editor, doc)
    at = types.Position(line=LINE, character=CURSOR_COLUMN[editor.encoding])
    assert doc.position(cursor, editor.encoding) == at

    items = inline_items(await editor.inline(doc, cursor, invoked=True))

    assert items, "no ghost text"
    assert items[0].range == types.Range(start=at, end=at)
    line = doc.apply(items[0].range, items[0].insert_text, editor.encoding).split("\n")[LINE]
    assert line.startswith(TYPED + "items"), line


async def test_completion_edit_lands_at_the_cursor_after_emoji_cjk_and_combining_marks(
    encoded_editor,
):
    editor = encoded_editor
    doc = editor.open(CART)
    cursor = type_decoration(editor, doc)
    at = types.Position(line=LINE, character=CURSOR_COLUMN[editor.encoding])

    answer = await editor.complete(doc, cursor)

    assert answer.items, "no completion items"
    edit = edit_of(answer.items[0])
    assert edit.range == types.Range(start=at, end=at)
    line = doc.apply(edit.range, edit.new_text, editor.encoding).split("\n")[LINE]
    assert line.startswith(TYPED + "items"), line


async def test_edits_inside_a_non_ascii_line_use_the_negotiated_encoding(encoded_editor):
    editor = encoded_editor
    doc = editor.open(CART)
    type_decoration(editor, doc)
    # Delete the crab (a range whose width is 4 bytes or 2 UTF-16 units), then
    # type after the cursor: if the server measured the range in the wrong
    # encoding its copy of the line would differ from ours, and so would the
    # position of its answer.
    crab = doc.offset("🦀", after=False)
    editor.edit(doc, crab, crab + 1, "")
    editor.insert(doc, doc.offset("中", after=False), "文")  # 文文 → 文中文
    editor.insert(doc, doc.line_end(LINE), "items.it")
    cursor = doc.line_end(LINE)
    expected = doc.position(cursor, editor.encoding)
    assert doc.text.split("\n")[LINE] == '        let tag = " 文中文 e\u0301"; self.line_items.it'

    answer = await editor.complete(doc, cursor)

    assert answer.items, "no completion after the edits"
    edit = edit_of(answer.items[0])
    assert edit.range == types.Range(start=expected, end=expected)
    assert edit.new_text.startswith("er")


async def test_a_position_inside_a_character_does_not_fail(encoded_editor):
    # UTF-16 unit 1 of "🦀" (a surrogate half) or byte 2 of it: invalid
    # positions an editor can still send. The spec leaves the rounding to the
    # server; it must answer, not error, and any range it returns must fall
    # on a character boundary.
    editor = encoded_editor
    doc = editor.open(CART, text='fn f() {\n    "🦀";\n}\n')
    line = 1
    inside = types.Position(line=line, character=6)  # after `    "` + part of 🦀
    answer = await editor.within(
        editor.client.text_document_completion_async(
            types.CompletionParams(
                text_document=types.TextDocumentIdentifier(uri=doc.uri),
                position=inside,
            )
        )
    )
    for item in answer.items:
        doc.offset_of(edit_of(item).range.start, editor.encoding)  # asserts a boundary
