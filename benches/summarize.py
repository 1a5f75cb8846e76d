#!/usr/bin/env python3
"""Print criterion medians of a bench group as a Markdown table, with the ratio
to a named baseline: python3 benches/summarize.py store_put_4KiB std_fs_durable"""
import json, pathlib, sys

group, baseline = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None
root = pathlib.Path("target/criterion") / group
rows = {}
for est in sorted(root.glob("*/new/estimates.json")):
    rows[est.parent.parent.name] = json.loads(est.read_text())["median"]["point_estimate"]
base = rows.get(baseline)
print(f"| {group} | median | vs {baseline} |\n| --- | --- | --- |")
for name, ns in rows.items():
    t = f"{ns/1e6:.2f} ms" if ns > 1e6 else f"{ns/1e3:.2f} µs" if ns > 1e3 else f"{ns:.0f} ns"
    ratio = f"{base/ns:.2f}x faster" if base and ns <= base else (f"{ns/base:.2f}x slower" if base else "")
    print(f"| {name} | {t} | {ratio if name != baseline else 'baseline'} |")
