#!/usr/bin/env python3
"""Top-1 accuracy of symspellpy on the same held-out halves as `spell_eval`.

    ~/.cache/spell-venv/bin/python scripts/symspellpy_eval.py [DATA_DIR]

symspellpy 6.10 with its bundled English frequency dictionary (the same word
list the crate ships), max edit distance 2, prefix length 7, Verbosity.TOP
(closest distance first, then frequency), lookup of each misspelling alone.
"""
import sys, time, pathlib
from importlib.resources import files
from symspellpy import SymSpell, Verbosity

data = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parent.parent / "tests/spell/data")

def is_test(word):
    h = 0xCBF29CE484222325
    for b in word.encode():
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h & 1 == 1

t = time.time()
sym = SymSpell(max_dictionary_edit_distance=2, prefix_length=7)
sym.load_dictionary(str(files("symspellpy") / "frequency_dictionary_en_82_765.txt"), 0, 1)
print(f"symspellpy load {1000 * (time.time() - t):.0f} ms")
for name in ["wikipedia", "codespell", "cspell"]:
    pairs = [l.rstrip("\n").split("\t") for l in open(data / f"{name}.tsv")]
    test = [(b, g) for b, g in pairs if is_test(b)]
    t = time.time()
    right = 0
    for bad, good in test:
        s = sym.lookup(bad, Verbosity.TOP, max_edit_distance=2, include_unknown=True)
        if s and s[0].term == good:
            right += 1
    us = 1e6 * (time.time() - t) / len(test)
    print(f"{name:10} test n={len(test)} top1={100 * right / len(test):.2f}% ({us:.0f} us/word)")
