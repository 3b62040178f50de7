"""Editor-side settings: `initializationOptions` and
`workspace/didChangeConfiguration`, as `{"cordon": {...}}` or the inner object.

A bad value is reported with `window/showMessage` (type Error) naming the key
as `cordon.<key>`, and the settings in force before stay in force, whole.
"""

import pytest
from lsprotocol import types

from support import SHOP, inline_items

CART = "src/cart.rs"
LINE = 56  # `        self.line_`


async def ghost_text(editor, doc):
    return await editor.inline(doc, doc.line_end(LINE), invoked=True)


async def error_shown(editor, key: str) -> str:
    await editor.eventually(
        lambda: any(f"cordon.{key}" in m for m in editor.shown(types.MessageType.Error)),
        f"a window/showMessage error naming cordon.{key}",
    )
    return next(m for m in editor.shown(types.MessageType.Error) if f"cordon.{key}" in m)


@pytest.mark.init_options({"cordon": {"inline_completion": False}})
async def test_initialization_options_apply(editor):
    doc = editor.open(CART)
    assert await ghost_text(editor, doc) is None
    # Completion items are still served.
    assert (await editor.complete(doc, doc.line_end(LINE))).items


@pytest.mark.init_options({"inline_completion": False})
async def test_initialization_options_as_the_inner_object(editor):
    doc = editor.open(CART)
    assert await ghost_text(editor, doc) is None


async def test_did_change_configuration_turns_features_on_and_off(editor):
    doc = editor.open(CART)
    assert inline_items(await ghost_text(editor, doc))

    editor.configure({"cordon": {"inline_completion": False}})
    assert await ghost_text(editor, doc) is None

    editor.configure({"inline_completion": True})  # the inner object works too
    assert inline_items(await ghost_text(editor, doc))
    assert editor.shown(types.MessageType.Error) == []


async def test_a_bad_value_is_reported_by_key_and_the_previous_settings_stay(editor):
    doc = editor.open(CART)
    editor.configure({"cordon": {"inline_completion": False}})
    assert await ghost_text(editor, doc) is None

    editor.configure({"cordon": {"debounce_ms": "fast"}})

    message = await error_shown(editor, "debounce_ms")
    assert "fast" in message
    # Still disabled: the bad change did not reset anything to defaults.
    assert await ghost_text(editor, doc) is None


async def test_a_change_with_one_bad_value_is_refused_whole(editor):
    doc = editor.open(CART)
    editor.configure({"cordon": {"inline_completion": False}})

    editor.configure({"cordon": {"inline_completion": True, "debounce_ms": 99999}})

    message = await error_shown(editor, "debounce_ms")
    assert "2000" in message  # says what is allowed
    assert await ghost_text(editor, doc) is None


@pytest.mark.parametrize(
    "settings, key",
    [
        ({"cordon": {"hover_explain": "yes"}}, "hover_explain"),
        ({"cordon": {"prefix_chars": -1}}, "prefix_chars"),
        ({"cordon": {"suffix_chars": 1.5}}, "suffix_chars"),
        ({"cordon": {"colour": "blue"}}, "colour"),  # unknown keys are named too
    ],
)
async def test_each_bad_key_is_named(editor, settings, key):
    doc = editor.open(CART)
    editor.configure(settings)
    await error_shown(editor, key)
    # Defaults still in force: ghost text is on.
    assert inline_items(await ghost_text(editor, doc))


async def test_other_servers_settings_are_not_errors(editor):
    # Eglot sends its whole `eglot-workspace-configuration` to every server,
    # and other clients share one settings object between servers: a payload
    # with no `cordon` section and none of Cordon's keys is someone else's.
    doc = editor.open(CART)
    editor.configure({"cordon": {"inline_completion": False}})
    editor.configure({"pylsp": {"plugins": {"pyflakes": {"enabled": False}}}})
    editor.configure({"rust-analyzer": {"cargo": {"features": "all"}}, "cordon": None})

    assert await ghost_text(editor, doc) is None  # unchanged
    await editor.stats()
    assert editor.shown(types.MessageType.Error) == []


async def test_null_settings_change_nothing(editor):
    # Some editors send `settings: null` or `{}` on start-up.
    doc = editor.open(CART)
    editor.configure(None)
    editor.configure({})
    assert inline_items(await ghost_text(editor, doc))
    await editor.stats()
    assert editor.shown(types.MessageType.Error) == []


def test_bad_initialization_options_are_reported_and_defaults_apply(raw):
    # A typo in the editor's config must not leave the user with no
    # assistant at all: like a bad didChangeConfiguration, it is shown
    # (naming the key) and the defaults stay in force.
    raw.initialize(initializationOptions={"cordon": {"debounce_ms": "soon"}})
    raw.request("cordon/stats")
    errors = [m["message"] for m in raw.shown_messages() if m["type"] == 1]
    assert any("cordon.debounce_ms" in m for m in errors), raw.skipped
    cart = SHOP / CART
    raw.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": cart.as_uri(), "languageId": "rust", "version": 1,
                          "text": cart.read_text(encoding="utf-8")}},
    )
    answer = raw.request(
        "textDocument/inlineCompletion",
        {"textDocument": {"uri": cart.as_uri()}, "position": {"line": LINE, "character": 18},
         "context": {"triggerKind": 1}},
    )
    assert answer["result"]["items"][0]["insertText"].startswith("items"), answer
