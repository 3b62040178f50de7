"""`cordon audit report LOG… --html FILE`: one self-contained page, rendered
in headless Chromium (Debian's `chromium`): a screenshot is produced, the
page fetches nothing, and the numbers on the rendered page are the log's
(counted here from the JSONL, independently of Cordon)."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter, defaultdict
from html.parser import HTMLParser
from pathlib import Path

from support import Setup

# scripts/test-lsp installs it (as root); without it the test fails.
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def chromium(*args: str) -> subprocess.CompletedProcess:
    assert CHROMIUM, "chromium is missing: apt-get install chromium"
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-dev-shm-usage", "--virtual-time-budget=2000", *args],
        capture_output=True, text=True, timeout=90,
    )


class Metrics(HTMLParser):
    """Collects `data-metric` values: the cards, and per table row."""

    def __init__(self) -> None:
        super().__init__()
        self.cards: dict[str, int] = {}
        self.rows: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
        self.chains: list[str] = []
        self.rendered = None
        self._row: tuple[str, str] | None = None
        self._metric: str | None = None
        self._card = False
        self._text = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "html":
            self.rendered = a.get("data-rendered")
        if tag == "tr":
            self._row = next(((k[5:], v) for k, v in a.items()
                              if k in ("data-plugin", "data-backend", "data-model", "data-kind")), None)
            if "data-chain" in a:
                self.chains.append(a["data-chain"])
        if "data-metric" in a:
            self._metric = a["data-metric"]
            self._card = tag == "b"
            self._text = ""

    def handle_data(self, data):
        if self._metric:
            self._text += data

    def handle_endtag(self, tag):
        if self._metric and tag in ("b", "td"):
            value = int(self._text.strip())
            if self._card:
                self.cards[self._metric] = value
            elif self._row:
                self.rows[self._row][self._metric] = value
            self._metric = None


def expected(records: list[dict]) -> tuple[dict, dict]:
    """The figures, counted from the log records themselves."""
    cards = Counter()
    rows: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for r in records:
        request = r["capability"] == "model" and "input_tokens" in r
        denied = r["decision"] == "denied"
        groups = [("plugin", r["plugin"])]
        if "backend" in r:
            groups.append(("backend", r["backend"]))
        if "model" in r:
            groups.append(("model", r["model"]))
        for target in [cards] + [rows[g] for g in groups]:
            target["requests"] += request
            target["input_tokens"] += r.get("input_tokens", 0) if request else 0
            target["output_tokens"] += r.get("output_tokens", 0) if request else 0
            target["denials"] += denied
            target["redactions"] += r["redactions"]
        for kind, n in r.get("redaction_kinds", {}).items():
            rows[("kind", kind)]["redactions"] += n
        cards["budget_hits"] += denied and ("requests_per_minute" in r["reason"] or "tokens_per_day" in r["reason"])
    cards["records"] = len(records)
    return dict(cards), {k: dict(v) for k, v in rows.items()}


def test_the_usage_page_shows_the_logs_numbers(tmp_path: Path) -> None:
    s = Setup(tmp_path)
    try:
        for _ in range(3):
            s.complete()
        s.explain()
        s.explain()
        # A second log whose chain is broken (a byte changed).
        tampered = tmp_path / "tampered.jsonl"
        tampered.write_text(s.log.read_text().replace('"redactions":2', '"redactions":0', 1))
        page = tmp_path / "usage.html"
        r = s.cordon("audit", "report", str(s.log), "--html", str(page))
        assert r.returncode == 0, r.stderr
        html = page.read_text()

        # Self-contained: nothing to fetch, and the page says so to the browser.
        assert not re.search(r"""(?:src|href|action|srcset)\s*=""", html, re.I), "the page links to something"
        assert "http://" not in html and "https://" not in html and "@import" not in html
        assert "default-src 'none'" in html

        dom = chromium("--dump-dom", page.as_uri())
        assert dom.returncode == 0, dom.stderr
        got = Metrics()
        got.feed(dom.stdout)
        assert got.rendered == "yes", "the page's inline script did not run"
        records = s.records()
        cards, rows = expected(records)
        assert cards["requests"] == 3 and cards["denials"] >= 2 and cards["redactions"] == 6, cards
        for metric, value in cards.items():
            assert got.cards.get(metric, 0) == value, (metric, got.cards, cards)
        for key, figures in rows.items():
            for metric, value in figures.items():
                assert got.rows[key].get(metric, 0) == value, (key, metric, got.rows[key], figures)
        assert set(got.rows) == set(rows)
        assert got.chains == ["intact"]

        # The screenshot is produced and is a real picture.
        shot = tmp_path / "usage.png"
        r = chromium(f"--screenshot={shot}", "--window-size=1200,2400", page.as_uri())
        assert r.returncode == 0, r.stderr
        data = shot.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000, len(data)

        # Two logs: the broken chain is reported on the page, counts add up.
        both = tmp_path / "both.html"
        r = s.cordon("audit", "report", str(s.log), str(tampered), "--html", str(both))
        assert r.returncode == 0, r.stderr
        assert "altered" in r.stderr
        got = Metrics()
        got.feed(chromium("--dump-dom", both.as_uri()).stdout)
        assert got.chains == ["intact", "broken"]
        assert got.cards["records"] == 2 * len(records)
        assert got.cards["requests"] == 6
    finally:
        s.close()
