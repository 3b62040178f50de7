"""The soak of bench/soak.py, short: 2 000 requests (completion, inline
completion, code actions, explain) against a loopback model that resets,
answers 429 / 5xx, truncates, garbles and stalls, with the hostile plugin
spinning in every completion call. No response is lost, no answer is for
older text, and the server exits cleanly. The full run (100 000 requests,
with the memory figure) is `python3 bench/soak.py`; see BENCHMARKS.md."""

from __future__ import annotations

import sys

from support import BINARY, REPO

sys.path.insert(0, str(REPO / "bench"))
import soak  # noqa: E402


def test_a_short_soak_loses_nothing_and_shows_nothing_stale(monkeypatch):
    monkeypatch.setattr(soak, "BINARY", BINARY)
    figures = soak.soak(2000)
    assert figures["lost"] == 0, figures
    assert figures["stale"] == 0, figures["stale_examples"]
    assert figures["exit_code"] == 0, figures
    # The checks had something to check: model answers were compared, and
    # every fault was injected.
    assert figures["model_text_checked"] > 0, (
        f"no model answer came back: outcomes {figures['outcomes']}, faults served {figures['faults']}"
    )
    assert set(figures["faults"]) == set(soak.FAULTS), figures["faults"]
    for kind in ("completion", "inline", "code_action", "explain"):
        assert figures["outcomes"].get(f"{kind}: ok", 0) > 0, (kind, figures["outcomes"])
