#!/usr/bin/env bash
# Runs the geo bench workload against a real Redis (GEOADD / GEOSEARCH,
# pipelined, on loopback) and prints our throughput / latency as ratios of
# Redis's. Redis comes from Debian's packages; it listens on 127.0.0.1 only
# and is stopped on exit.
#
#   scripts/geo_vs_redis.sh            # 1 M members, like benches/geo.rs
#   N=200000 scripts/geo_vs_redis.sh
#
# Our side is read from criterion's estimates of `cargo bench --bench geo`
# (run it first; the script runs it if the estimates are missing).
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-1000000}
PORT=${PORT:-6399}
PIPE=${PIPE:-64}
QUERIES=${QUERIES:-20000}
WORK=$(mktemp -d)

if ! command -v redis-server >/dev/null; then
    apt-get install -y -qq redis-server >/dev/null
fi
redis-server --port "$PORT" --bind 127.0.0.1 --save "" --appendonly no \
    --daemonize yes --pidfile "$WORK/redis.pid" --logfile "$WORK/redis.log"
trap 'kill "$(cat "$WORK/redis.pid")" 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 50); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
R="redis-cli -p $PORT"
$R flushall >/dev/null

# The workload of benches/geo.rs: N drivers around Paris (8 Gaussian hot
# spots + a uniform 50 km square), then N moves of 3-30 m, as RESP.
python3 - "$N" "$WORK" <<'PY'
import math, random, sys
n, work = int(sys.argv[1]), sys.argv[2]
random.seed(7)
C = (48.8566, 2.3522)
M = 6371008.8 * math.pi / 180
SPOTS = [(0, 0, 3000), (2500, -4000, 2000), (-3000, 5000, 2500), (6000, 6000, 4000),
         (-7000, -6000, 3500), (15000, 12000, 2000), (-12000, 1000, 1500), (1000, -15000, 3000)]
def off(p, n_, e):
    return (p[0] + n_ / M, p[1] + e / (M * math.cos(math.radians(p[0]))))
def point():
    if random.random() < 0.3:
        return off(C, (random.random() - .5) * 50000, (random.random() - .5) * 50000)
    n_, e, s = random.choice(SPOTS)
    return off(C, n_ + random.gauss(0, s), e + random.gauss(0, s))
def resp(*args):
    out = [f"*{len(args)}\r\n"]
    for a in args:
        a = str(a)
        out.append(f"${len(a.encode())}\r\n{a}\r\n")
    return "".join(out)
pos = [point() for _ in range(n)]
with open(f"{work}/load.resp", "w") as f:
    for i, (lat, lon) in enumerate(pos):
        f.write(resp("GEOADD", "drivers", f"{lon:.7f}", f"{lat:.7f}", f"drv-{i:07d}"))
with open(f"{work}/moves.resp", "w") as f:
    for _ in range(n):
        i = random.randrange(n)
        d, a = 3 + random.random() * 27, random.random() * 2 * math.pi
        pos[i] = off(pos[i], d * math.cos(a), d * math.sin(a))
        lat, lon = pos[i]
        f.write(resp("GEOADD", "drivers", f"{lon:.7f}", f"{lat:.7f}", f"drv-{i:07d}"))
PY

secs() { python3 -c "import time; print(time.time())"; }
$R --pipe < "$WORK/load.resp" >/dev/null
t0=$(secs); $R --pipe < "$WORK/moves.resp" >/dev/null; t1=$(secs)
redis_upserts=$(python3 -c "print($N / ($t1 - $t0))")

# GEOSEARCH 5 km, nearest 100, one client, no pipelining: latency.
q5=$(redis-benchmark -p "$PORT" -q -n "$QUERIES" -c 1 -P 1 --csv \
    GEOSEARCH drivers FROMLONLAT 2.3522 48.8566 BYRADIUS 5 km ASC COUNT 100 2>/dev/null | tail -1)
# GEOSEARCH pipelined: throughput.
q5p=$(redis-benchmark -p "$PORT" -q -n "$QUERIES" -c 1 -P "$PIPE" --csv \
    GEOSEARCH drivers FROMLONLAT 2.3522 48.8566 BYRADIUS 5 km ASC COUNT 100 2>/dev/null | tail -1)

est() { # criterion median estimate in ns
    python3 -c "import json; print(json.load(open('target/criterion/$1/new/estimates.json'))['median']['point_estimate'])"
}
if [ ! -f target/criterion/geo_upsert/grid_index_batch/new/estimates.json ]; then
    cargo bench --bench geo >/dev/null
fi
ours_batch_ns=$(est geo_upsert/grid_index_batch)          # per 10 000 upserts
ours_q5_ns=$(est geo_query/radius_5km_limit_100/grid_index)

python3 - "$redis_upserts" "$ours_batch_ns" "$ours_q5_ns" "$q5" "$q5p" <<'PY'
import sys, csv, io
redis_ups, ours_batch_ns, ours_q5_ns, q5, q5p = sys.argv[1:]
ours_ups = 10_000 / (float(ours_batch_ns) / 1e9)
def parse(line):
    row = next(csv.reader(io.StringIO(line)))
    return float(row[1])   # requests per second (p50 latency in later columns)
def p50(line):
    row = next(csv.reader(io.StringIO(line)))
    return float(row[4]) * 1000 if len(row) > 4 else float("nan")  # ms -> us
print(f"upserts/s     ours {ours_ups:12.0f}   redis GEOADD pipelined {float(redis_ups):12.0f}   ratio {ours_ups / float(redis_ups):6.2f}x")
print(f"5 km top-100  ours {float(ours_q5_ns)/1e3:9.1f} us   redis GEOSEARCH p50 {p50(q5):9.1f} us   ratio {p50(q5) / (float(ours_q5_ns)/1e3):6.2f}x faster")
print(f"5 km top-100  redis pipelined {parse(q5p):.0f} queries/s vs ours {1e9/float(ours_q5_ns):.0f}/s")
PY
