"""Which folder the offline model learns from: `--workspace DIR`, else the
first workspace folder, else `rootUri`, else the server's working directory.

The `local` model is built from the workspace's files on disk, so the
completion of `self.line_` (a field of tests/fixtures/shop) tells which
folder was indexed: an empty folder knows no `line_items`.
"""

import pytest

from support import SHOP, RawServer

# cart.rs with its own `line_items` renamed: the buffer being completed
# teaches the model only its text before the cursor, so `line_items` can come
# only from the indexed folder.
CART_TEXT = (SHOP / "src" / "cart.rs").read_text(encoding="utf-8").replace("line_items", "entries")
LINE = 56  # `        self.line_`


def completes_from_shop(raw: RawServer, text: str = CART_TEXT, character: int = 18) -> bool:
    uri = "file:///elsewhere/cart.rs"  # the same buffer, wherever the workspace is
    raw.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": uri, "languageId": "rust", "version": 1, "text": text}},
    )
    answer = raw.request(
        "textDocument/completion",
        {"textDocument": {"uri": uri}, "position": {"line": LINE, "character": character}},
    )
    items = answer["result"]["items"]
    if not items:
        return False
    assert items[0]["textEdit"]["range"]["start"] == {"line": LINE, "character": 18}
    return items[0]["textEdit"]["newText"].startswith("items")


@pytest.fixture
def empty(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    return folder


def test_root_uri_is_the_workspace(empty):
    for root, knows_shop in [(SHOP, True), (empty, False)]:
        raw = RawServer()
        try:
            raw.initialize(root)
            assert completes_from_shop(raw) is knows_shop, root
        finally:
            raw.kill()


def test_the_first_workspace_folder_wins_over_root_uri(raw, empty):
    raw.initialize(
        empty,
        workspaceFolders=[
            {"uri": SHOP.as_uri(), "name": "shop"},
            {"uri": empty.as_uri(), "name": "empty"},
        ],
    )
    assert completes_from_shop(raw)


def test_the_workspace_flag_wins_over_the_client(empty):
    raw = RawServer("--stdio", "--workspace", str(SHOP))
    try:
        raw.initialize(empty, workspaceFolders=[{"uri": empty.as_uri(), "name": "empty"}])
        assert completes_from_shop(raw)
    finally:
        raw.kill()


def test_without_any_root_the_working_directory_is_the_workspace():
    raw = RawServer(cwd=SHOP)
    try:
        raw.initialize(None)
        assert completes_from_shop(raw)
    finally:
        raw.kill()


def test_crlf_documents(raw):
    raw.initialize()
    crlf = CART_TEXT.replace("\n", "\r\n")
    # Past the end of the line means its end, before the "\r\n".
    assert completes_from_shop(raw, crlf, character=200)
