#!/usr/bin/env python3
"""Extracts the held-out samples of crates/tsz/data/heldout/ from the csv
crate's benchmark data (examples/data/bench of csv 1.4.0 in the cargo
registry). Never used to tune the Pack codec; see the folder's README."""
import csv, datetime, os, sys

SRC = sys.argv[1] if len(sys.argv) > 1 else os.path.expanduser(
    "~/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/csv-1.4.0/examples/data/bench")
OUT = os.path.join(os.path.dirname(__file__), "..", "crates", "tsz", "data", "heldout")
N = 1024

def write(name, values):
    values = values[:N]
    assert len(values) == N, (name, len(values))
    with open(os.path.join(OUT, name + ".csv"), "w") as f:
        f.write("".join(f"{v}\n" for v in values))

# World cities: coordinates with up to 7 decimals, populations (integers).
lat, lon = [], []
with open(os.path.join(SRC, "worldcitiespop.csv"), encoding="latin-1") as f:
    for row in csv.DictReader(f):
        lat.append(row["Latitude"]); lon.append(row["Longitude"])
write("cities_lat", lat); write("cities_lon", lon)

# NFL play-by-play 2012: yard line, yards to go, offense score; and the real
# timestamp column: game date (midnight UTC) + elapsed game seconds per play.
yd, togo, score, ts = [], [], [], []
with open(os.path.join(SRC, "nfl.csv")) as f:
    for row in csv.DictReader(f):
        if not (row["ydline"] and row["togo"] and row["min"] and row["sec"]):
            continue
        yd.append(row["ydline"]); togo.append(row["togo"]); score.append(row["offscore"])
        day = datetime.datetime.strptime(row["gameid"][:8], "%Y%m%d").replace(tzinfo=datetime.timezone.utc)
        elapsed = 3600 - (int(row["min"]) * 60 + int(row["sec"]))
        ts.append(int(day.timestamp()) + elapsed)
write("nfl_ydline", yd); write("nfl_togo", togo); write("nfl_offscore", score)
# Plays of one game are in order; games are not, so sort (an event log).
ts.sort()
write("ts_nfl_plays", ts)

# MBTA GTFS stop times: arrival times of a day in seconds, sorted (bursty
# event times with duplicates).
arr = []
with open(os.path.join(SRC, "gtfs-mbta-stop-times.csv")) as f:
    for row in csv.DictReader(f):
        h, m, s = map(int, row["arrival_time"].split(":"))
        arr.append(1_350_000_000 + h * 3600 + m * 60 + s)
arr.sort()
# Spread over the whole day: every k-th arrival.
k = max(1, len(arr) // N)
write("ts_mbta_arrivals", arr[::k])
