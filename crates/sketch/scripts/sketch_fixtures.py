#!/usr/bin/env python3
"""Cross-implementation fixtures for blocksmith-sketch.

Direction 1 (`generate`): Apache DataSketches (Python `datasketches`) and
DataDog's `ddsketch` write sketches of known inputs into tests/fixtures/py/,
with tests/fixtures/py/manifest.json recording each input and the estimates
the Python side reports. The Rust test suite (tests/sketch/compat.rs) reads
every file and asserts identical estimates, without needing Python.

Direction 2 (`verify`): the Rust test suite writes the same inputs sketched by
blocksmith-sketch into tests/fixtures/rust/ (run
`SKETCH_WRITE_FIXTURES=1 cargo test --test sketch compat` to refresh them;
without the variable the test asserts that the committed bytes are still
exactly what the code produces). This script reads each of those files with
the Python libraries and checks the estimates in tests/fixtures/rust/manifest.json.

Usage (docs/benchmarks.md):
    python3 -m venv ~/.cache/sketch-venv
    ~/.cache/sketch-venv/bin/pip install datasketches==5.2.0 ddsketch==3.0.1 protobuf
    ~/.cache/sketch-venv/bin/python scripts/sketch_fixtures.py generate
    SKETCH_WRITE_FIXTURES=1 cargo test --test sketch compat
    ~/.cache/sketch-venv/bin/python scripts/sketch_fixtures.py verify
"""
import json
import math
import os
import random
import sys

import datasketches as ds

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")

HLL_TYPES = {"hll4": ds.tgt_hll_type.HLL_4, "hll6": ds.tgt_hll_type.HLL_6, "hll8": ds.tgt_hll_type.HLL_8}


def items(kind, n, offset=0):
    """The shared inputs: integers 0..n-1 or strings 'item-<i>'."""
    if kind == "int":
        return [offset + i for i in range(n)]
    return ["item-%d" % (offset + i) for i in range(n)]


def values(dist, n, seed):
    """Numbers for quantile sketches, from a seeded generator."""
    rng = random.Random(seed)
    if dist == "uniform":
        return [rng.random() * 1000.0 for _ in range(n)]
    if dist == "lognormal":
        return [math.exp(rng.gauss(3.0, 1.5)) for _ in range(n)]
    return [float(i) for i in range(n)]


RANKS = [0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 1.0]


def kll_summary(sk):
    if sk.is_empty():
        return {"n": 0, "num_retained": 0, "quantiles": [], "quantiles_inclusive": [], "ranks_inclusive": []}
    return {
        "n": sk.n,
        "num_retained": sk.num_retained,
        "min": sk.get_min_value(),
        "max": sk.get_max_value(),
        "quantiles": [sk.get_quantile(r) for r in RANKS],
        "quantiles_inclusive": [sk.get_quantile(r, True) for r in RANKS],
        "ranks_inclusive": [sk.get_rank(sk.get_quantile(r), True) for r in RANKS],
    }


def write(dirname, name, data):
    path = os.path.join(ROOT, dirname, name)
    with open(path, "wb") as f:
        f.write(data)


def generate():
    out = os.path.join(ROOT, "py")
    os.makedirs(out, exist_ok=True)
    manifest = []
    # HLL: every register width, list/set/HLL modes, compact and updatable images.
    for lg_k in (4, 8, 12, 14):
        for tname, t in HLL_TYPES.items():
            for n in (0, 5, 100, 1000, 30000):
                for kind in ("int", "str"):
                    if kind == "str" and n not in (100, 30000):
                        continue
                    sk = ds.hll_sketch(lg_k, t)
                    for x in items(kind, n):
                        sk.update(x)
                    for form in ("compact", "updatable"):
                        data = sk.serialize_compact() if form == "compact" else sk.serialize_updatable()
                        name = "hll_%s_lg%d_%s_%s_%d_%s.bin" % (tname, lg_k, kind, "n", n, form)
                        write("py", name, data)
                        manifest.append({"file": name, "family": "hll", "lg_k": lg_k, "type": tname,
                                         "items": kind, "n": n, "estimate": sk.get_estimate(),
                                         "lower_bound_2": sk.get_lower_bound(2),
                                         "upper_bound_2": sk.get_upper_bound(2)})
    # An HLL union result (out of order): estimates are compared within a tolerance.
    for tname, t in HLL_TYPES.items():
        u = ds.hll_union(12)
        for off in (0, 20000):
            sk = ds.hll_sketch(12, t)
            for x in items("int", 30000, off):
                sk.update(x)
            u.update(sk)
        res = u.get_result(t)
        name = "hll_union_%s_lg12.bin" % tname
        write("py", name, res.serialize_compact())
        manifest.append({"file": name, "family": "hll_union", "lg_k": 12, "type": tname, "n": 50000,
                         "estimate": res.get_estimate()})
    # KLL doubles and floats.
    for k in (200, 50):
        for n in (0, 1, 100, 5000, 100000):
            for dist in ("uniform", "lognormal"):
                vals = values(dist, n, 7 + n)
                for cls, tname in ((ds.kll_doubles_sketch, "f64"), (ds.kll_floats_sketch, "f32")):
                    sk = cls(k)
                    for v in vals:
                        sk.update(v)
                    name = "kll_%s_k%d_%s_%d.bin" % (tname, k, dist, n)
                    write("py", name, sk.serialize())
                    entry = {"file": name, "family": "kll", "type": tname, "k": k, "dist": dist, "seed": 7 + n}
                    entry.update(kll_summary(sk))
                    manifest.append(entry)
    # Theta: update sketch compacted, plus set operation results.
    for lg_k in (9, 12):
        for n in (0, 1, 100, 3000, 100000):
            sk = ds.update_theta_sketch(lg_k)
            for x in items("int", n):
                sk.update(x)
            c = sk.compact()
            name = "theta_lg%d_%d.bin" % (lg_k, n)
            write("py", name, c.serialize())
            manifest.append({"file": name, "family": "theta", "lg_k": lg_k, "n": n,
                             "estimate": c.get_estimate(), "num_retained": c.num_retained,
                             "theta": c.theta64})
    a = ds.update_theta_sketch(12)
    b = ds.update_theta_sketch(12)
    for x in items("int", 60000):
        a.update(x)
    for x in items("int", 60000, 30000):
        b.update(x)
    u = ds.theta_union(12)
    u.update(a)
    u.update(b)
    i = ds.theta_intersection()
    i.update(a)
    i.update(b)
    d = ds.theta_a_not_b().compute(a, b)
    for nm, r in (("union", u.get_result()), ("intersection", i.get_result()), ("anotb", d)):
        name = "theta_setop_%s.bin" % nm
        write("py", name, r.serialize())
        manifest.append({"file": name, "family": "theta", "lg_k": 12, "n": -1, "estimate": r.get_estimate(),
                         "num_retained": r.num_retained, "theta": r.theta64})
    # DDSketch (DataDog protobuf), LogarithmicMapping with dense stores.
    try:
        from ddsketch import DDSketch
        from ddsketch.pb.proto import DDSketchProto
        for alpha in (0.01, 0.02):
            for dist in ("lognormal", "uniform"):
                vals = values(dist, 20000, 99)
                sk = DDSketch(alpha)
                for v in vals:
                    sk.add(v)
                sk.add(0.0)
                sk.add(-5.0)
                name = "ddsketch_a%s_%s.bin" % (str(alpha).replace(".", ""), dist)
                write("py", name, DDSketchProto.to_proto(sk).SerializeToString())
                manifest.append({"file": name, "family": "ddsketch", "alpha": alpha, "dist": dist,
                                 "count": sk.count, "quantiles": [sk.get_quantile_value(q) for q in RANKS]})
    except ImportError:
        print("ddsketch/protobuf not installed: skipping DDSketch fixtures", file=sys.stderr)
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print("wrote %d fixtures to %s" % (len(manifest), out))


def close(a, b, rel=1e-12):
    return a == b or abs(a - b) <= rel * max(abs(a), abs(b))


def verify():
    d = os.path.join(ROOT, "rust")
    with open(os.path.join(d, "manifest.json")) as f:
        manifest = json.load(f)
    bad = 0
    for e in manifest:
        with open(os.path.join(d, e["file"]), "rb") as f:
            data = f.read()
        fam = e["family"]
        if fam == "hll":
            sk = ds.hll_sketch.deserialize(data)
            ok = sk.get_estimate() == e["estimate"]
            got = sk.get_estimate()
            # The same input sketched by Python itself must give the same estimate too
            # (only when no merge was involved).
            if e.get("items") and e.get("n") is not None:
                ref = ds.hll_sketch(e["lg_k"], HLL_TYPES[e["type"]])
                for x in items(e["items"], e["n"]):
                    ref.update(x)
                ok = ok and ref.get_estimate() == e["estimate"]
        elif fam == "hll_union":
            sk = ds.hll_sketch.deserialize(data)
            got = sk.get_estimate()
            ok = abs(got - e["estimate"]) <= 0.02 * e["n"]
        elif fam == "kll":
            cls = ds.kll_doubles_sketch if e["type"] == "f64" else ds.kll_floats_sketch
            sk = cls.deserialize(data)
            got = kll_summary(sk)
            ok = got["n"] == e["n"] and got["num_retained"] == e["num_retained"] and all(
                close(a, b, 0) for key in ("quantiles", "quantiles_inclusive", "ranks_inclusive")
                for a, b in zip(got[key], e[key]))
        elif fam == "theta":
            sk = ds.compact_theta_sketch.deserialize(data)
            got = sk.get_estimate()
            ok = got == e["estimate"] and sk.num_retained == e["num_retained"]
        elif fam == "ddsketch":
            from ddsketch.pb.ddsketch_pb2 import DDSketch as PB
            from ddsketch.pb.proto import DDSketchProto
            pb = PB()
            pb.ParseFromString(data)
            sk = DDSketchProto.from_proto(pb)
            got = [sk.get_quantile_value(q) for q in RANKS]
            ok = close(sk.count, e["count"]) and all(close(a, b, 1e-9) for a, b in zip(got, e["quantiles"]))
        else:
            print("unknown family", fam)
            ok, got = False, None
        if not ok:
            bad += 1
            print("MISMATCH", e["file"], "expected", e.get("estimate", e.get("quantiles")), "got", got)
    print("verified %d Rust-written sketches, %d mismatches" % (len(manifest), bad))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else "generate"
    {"generate": generate, "verify": verify}[cmd]()
