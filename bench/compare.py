#!/usr/bin/env python3
"""Compare two runs of bench/run.py, figure by figure.

    python3 bench/compare.py OLD.json NEW.json

Runs are kept in target/bench/history/. Prints each headline figure of both
runs and NEW/OLD. On a shared machine, differences under ~20 % in latency
figures are usually noise: compare ratios measured within one run first.
"""

import json
import sys


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    old, new = (json.load(open(p)) for p in sys.argv[1:])
    ho, hn = old.get("headline", {}), new.get("headline", {})
    for run, name in ((old, "old"), (new, "new")):
        g, ld = run["git"], run["load"]
        print(f"{name}: {g['commit'][:10]} {g['subject'][:60]!r}{' +dirty' if g['dirty_files'] else ''}, "
              f"{run['started']}, load {ld['loadavg_start'][0]}→{ld['loadavg_end'][0]}, CPU busy {ld['cpu_busy_fraction']:.0%}, "
              f"{'quick' if run['quick'] else 'full'}")
    print()
    print(f"| figure | old | new | new/old |")
    print("| --- | ---: | ---: | ---: |")
    for key in list(ho) + [k for k in hn if k not in ho]:
        a, b = ho.get(key), hn.get(key)
        fmt = lambda v: "—" if v is None else f"{v:.3g}"
        ratio = f"{b / a:.2f}×" if a and b is not None else "—"
        print(f"| {key} | {fmt(a)} | {fmt(b)} | {ratio} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
