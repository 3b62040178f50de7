"""Inline (ghost-text) completion while typing: debouncing, superseding,
the answer cache, explicit invocation and `$/cancelRequest`.

No timing is asserted except generous "answers within N seconds" bounds
(see support.ANSWER_WITHIN_S); what is asserted is what a user would notice:
how many model calls a burst costs and which answers are shown.
"""

import asyncio

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from support import REQUEST_CANCELLED, inline_items

CART = "src/cart.rs"
LINE = 56  # 0-based; `        self.line_` in tests/fixtures/shop/src/cart.rs
KEY_INTERVAL_S = 0.030

# 100 keystrokes on one line, ending where the workspace's field completes.
BURST = (
    "let a = self.units(); let b = self.units(); let c = self.units(); "
    "let totals = a + b + c; self.line_"
)
assert len(BURST) == 100, len(BURST)


def clear_line(editor, doc) -> None:
    """Remove `self.line_` from the line, leaving the indentation."""
    end = doc.line_end(LINE)
    editor.edit(doc, end - len("self.line_"), end, "")
    assert doc.text.split("\n")[LINE] == "        "


def delta(before: dict, after: dict, key: str) -> int:
    return after[key] - before[key]


async def type_with_requests(editor, doc, text: str) -> list:
    """Type `text` one character at a time, each keystroke followed by an
    automatic inline-completion request, KEY_INTERVAL_S apart; then wait for
    every answer."""
    pending = []
    for ch in text:
        editor.insert(doc, doc.line_end(LINE), ch)
        params = editor.inline_params(doc, doc.line_end(LINE))
        pending.append(
            asyncio.ensure_future(editor.client.text_document_inline_completion_async(params))
        )
        await asyncio.sleep(KEY_INTERVAL_S)
    return await editor.within(asyncio.gather(*pending), "answers to the burst")


async def test_typing_burst_costs_one_or_two_model_calls_and_shows_only_the_last_answer(
    editor,
):
    doc = editor.open(CART)
    clear_line(editor, doc)
    before = await editor.stats()

    answers = await type_with_requests(editor, doc, BURST)

    after = await editor.stats()
    model_calls = delta(before, after, "model_requests")
    assert delta(before, after, "inline_requests") == len(BURST)
    assert 1 <= model_calls <= 2, f"{model_calls} model calls for a 100-key burst"
    last = inline_items(answers[-1])
    assert last, "the request after the pause got no ghost text"
    assert last[0].insert_text.startswith("items"), last
    # Superseded requests answer null. At most one earlier request may have
    # reached the model (a stall of the test machine longer than the
    # debounce), and only then may one earlier answer be non-null.
    shown_early = [i for i, a in enumerate(answers[:-1]) if a is not None]
    assert len(shown_early) <= model_calls - 1, (
        f"answers shown for superseded keystrokes {shown_early} with {model_calls} model calls"
    )
    assert delta(before, after, "superseded") >= len(BURST) - model_calls

    # Backspace three times and type the same three characters again: the
    # answer comes from the cache, the model is not called.
    for _ in range(3):
        end = doc.line_end(LINE)
        editor.edit(doc, end - 1, end, "")
    for ch in BURST[-3:]:
        editor.insert(doc, doc.line_end(LINE), ch)
    assert doc.text.split("\n")[LINE] == "        " + BURST
    again = await editor.inline(doc, doc.line_end(LINE))
    final = await editor.stats()
    assert inline_items(again) == last
    assert delta(after, final, "model_requests") == 0
    assert delta(after, final, "cache_hits") >= 1


async def test_same_text_again_is_served_from_the_cache(editor):
    doc = editor.open(CART)
    cursor = doc.line_end(LINE)
    first = await editor.inline(doc, cursor, invoked=True)
    before = await editor.stats()

    second = await editor.inline(doc, cursor, invoked=True)
    completion = await editor.complete(doc, cursor)

    after = await editor.stats()
    assert inline_items(second) == inline_items(first)
    assert completion.items[0].text_edit.new_text == inline_items(first)[0].insert_text
    assert delta(before, after, "model_requests") == 0
    assert delta(before, after, "plugin_calls") == 0
    assert delta(before, after, "cache_hits") == 2


async def test_explicit_invocation_is_not_debounced(editor):
    editor.configure({"cordon": {"debounce_ms": 2000}})
    cart = editor.open(CART)
    catalog = editor.open("src/catalog.rs")
    waiting = asyncio.ensure_future(
        editor.client.text_document_inline_completion_async(
            editor.inline_params(cart, cart.line_end(LINE))
        )
    )
    await asyncio.sleep(0.05)  # let the automatic request reach the server

    invoked = await editor.inline(catalog, catalog.line_end(2), invoked=True)

    assert invoked is not None
    assert not waiting.done(), (
        "the automatic request (debounce 2000 ms) answered before an explicit one: "
        "either the explicit request was debounced or the setting was ignored"
    )
    # The debounced request still answers after its quiet time.
    items = inline_items(await editor.within(waiting))
    assert items and items[0].insert_text.startswith("items")


@pytest.mark.init_options({"cordon": {"debounce_ms": 500}})
async def test_a_newer_request_supersedes_a_waiting_one(editor):
    doc = editor.open(CART)
    cursor = doc.line_end(LINE)
    older = asyncio.ensure_future(
        editor.client.text_document_inline_completion_async(editor.inline_params(doc, cursor))
    )
    newer = asyncio.ensure_future(
        editor.client.text_document_inline_completion_async(editor.inline_params(doc, cursor))
    )

    older_answer, newer_answer = await editor.within(asyncio.gather(older, newer))

    assert older_answer is None
    assert inline_items(newer_answer)[0].insert_text.startswith("items")


@pytest.mark.init_options({"cordon": {"debounce_ms": 500}})
async def test_an_edit_cancels_the_answer_for_the_old_text(editor):
    doc = editor.open(CART)
    before = await editor.stats()
    stale = asyncio.ensure_future(
        editor.client.text_document_inline_completion_async(
            editor.inline_params(doc, doc.line_end(LINE))
        )
    )
    await asyncio.sleep(0)  # send it
    editor.insert(doc, doc.line_end(LINE), "i")

    assert await editor.within(stale) is None
    after = await editor.stats()
    assert delta(before, after, "model_requests") == 0


@pytest.mark.init_options({"cordon": {"debounce_ms": 500}})
async def test_cancel_request_gets_cancelled_or_null_and_never_a_late_answer(editor):
    # With the local model this cancels during the debounce wait; the case of
    # a model request in flight is in test_slow_backend.py.
    doc = editor.open(CART)
    before = await editor.stats()
    msg_id = "cancel-me"
    future = editor.client.protocol.send_request(
        types.TEXT_DOCUMENT_INLINE_COMPLETION,
        editor.inline_params(doc, doc.line_end(LINE)),
        msg_id=msg_id,
    )
    editor.client.cancel_request(types.CancelParams(id=msg_id))

    try:
        result = await editor.within(asyncio.wrap_future(future))
    except JsonRpcException as err:
        assert err.code == REQUEST_CANCELLED, err
    else:
        assert result is None, f"a cancelled request was answered: {result}"

    # Past the debounce: nothing else arrives for the cancelled request.
    await asyncio.sleep(1.0)
    responses = [r for r in editor.responses if r[0] == msg_id]
    assert len(responses) == 1, f"responses to one request: {responses}"
    after = await editor.stats()
    assert delta(before, after, "model_requests") == 0
    # The server still serves the document.
    items = inline_items(await editor.inline(doc, doc.line_end(LINE), invoked=True))
    assert items and items[0].insert_text.startswith("items")


async def test_cancelling_a_request_that_already_answered_changes_nothing(editor):
    doc = editor.open(CART)
    msg_id = "answered-then-cancelled"
    future = editor.client.protocol.send_request(
        types.TEXT_DOCUMENT_INLINE_COMPLETION,
        editor.inline_params(doc, doc.line_end(LINE), invoked=True),
        msg_id=msg_id,
    )
    result = await editor.within(asyncio.wrap_future(future))
    editor.client.cancel_request(types.CancelParams(id=msg_id))

    assert inline_items(result)[0].insert_text.startswith("items")
    await editor.stats()  # a round trip after the cancel
    assert len([r for r in editor.responses if r[0] == msg_id]) == 1
