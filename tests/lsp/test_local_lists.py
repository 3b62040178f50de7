"""Completion lists of the offline `local` model as a user meets them: the
word being typed first whether the file is saved (`cordon run complete`) or
not (an editor's unsaved buffer), members after `x.` from other files and
from `x`'s type, and nothing learnt from the text at or after the cursor."""

import json
import subprocess
from pathlib import Path

from support import BINARY, edit_of, inline_items, server_env

INVENTORY = """pub struct Inventory {
    items: Vec<Item>,
}

impl Inventory {
    pub fn restock(&mut self, sku: &str, amount: u32) {
        self.items.push(Item::new(sku, amount));
    }

    pub fn remove_item(&mut self, sku: &str) {
        self.items.retain(|item| item.sku != sku);
    }
}
"""

REPORT = """pub fn refill(inventory: &mut Inventory, sku: &str, amount: u32) {
    inventory.restock(sku, amount);
}

pub fn tidy(cache: &mut Cache, names: &mut Names) {
    cache.remove(0);
    names.remove(1);
}
"""


def workspace(tmp_path: Path, **files: str) -> Path:
    root = tmp_path / "ws"
    (root / ".git").mkdir(parents=True)
    for name, text in {"src/inventory.rs": INVENTORY, "src/report.rs": REPORT, **files}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def run_complete(root: Path, rel: str, line: int, col: int) -> list[dict]:
    done = subprocess.run(
        [str(BINARY), "run", "complete", f"{rel}:{line}:{col}", "--json"],
        cwd=root,
        env=server_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    return [item for result in answer["results"] for item in result.get("items", [])]


def test_a_saved_file_ending_in_the_unfinished_word_gets_the_member_first(tmp_path):
    # Saved (and so indexed) with `inventory.rest` at its end.
    root = workspace(tmp_path, **{"src/audit.rs": "pub fn audit(inventory: &mut Inventory) {\n    inventory.rest"})
    items = run_complete(root, "src/audit.rs", 2, 19)
    assert items, "no proposal at all"
    assert items[0]["label"].startswith("restock"), items
    words = [i for i in items if i["insert_text"] == i["label"]]
    assert words and words[0]["label"] == "restock", items
    assert "report.rs" in words[0]["detail"] or "inventory.rs" in words[0]["detail"], words[0]
    # The word replaces what was typed.
    assert words[0]["replace"]["start"] == {"line": 2, "column": 15}
    assert all(i["label"] != "rest" for i in items), items


def test_the_method_of_the_type_not_only_a_word_seen_after_other_receivers(tmp_path):
    root = workspace(tmp_path, **{"src/audit.rs": "pub fn audit(inventory: &mut Inventory) {\n    inventory.remo\n}\n"})
    items = run_complete(root, "src/audit.rs", 2, 19)
    labels = [i["label"] for i in items]
    # `remove` follows other receivers; the ghost text does not guess
    # between the two, the list puts the method of `Inventory` first.
    assert labels[0] == "remove_item", labels
    assert "Inventory" in items[0]["detail"], items[0]


def test_the_text_at_and_after_the_cursor_never_teaches_the_model(tmp_path):
    # The only place the workspace spells this call is the saved file
    # itself, after the cursor.
    audit = "fn main() {\n    let shipment = prepare_quarterly_shipment_manifest(&warehouse);\n}\n"
    root = workspace(tmp_path, **{"src/main.rs": audit})
    items = run_complete(root, "src/main.rs", 2, 32)  # after `prepare_quar`
    assert all("terly_shipment" not in i["insert_text"] for i in items), items
    # The same line in another file does teach it (the check can fail).
    root2 = workspace(tmp_path / "two", **{"src/main.rs": audit, "src/other.rs": audit})
    items = run_complete(root2, "src/main.rs", 2, 32)
    assert any(i["label"].startswith("prepare_quarterly_shipment_manifest") for i in items), items


async def test_an_unsaved_buffer_lists_the_members_of_the_type_from_another_file(editor):
    # tests/fixtures/shop: `Cart` (src/cart.rs) defines `total_cents`.
    text = "fn pay(cart: &mut Cart, catalog: &Catalog) -> u64 {\n    cart.tot"
    doc = editor.open("src/checkout.rs", text)
    answer = await editor.complete(doc, len(text))
    labels = [i.label for i in answer.items]
    assert "total_cents" in labels, labels
    word = next(i for i in answer.items if i.label == "total_cents")
    assert "cart.rs" in (word.detail or ""), word
    edit = edit_of(word)
    assert doc.apply(edit.range, edit.new_text, editor.encoding).endswith("cart.total_cents")

    # Ghost text shows the model's one proposal, never the list's words.
    ghost = inline_items(await editor.inline(doc, len(text), invoked=True))
    assert all(g.insert_text != "total_cents" or g.range.start != edit.range.start for g in ghost), ghost
