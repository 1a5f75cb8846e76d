#!/usr/bin/env bash
# Uploads files to examples/tus_server.rs with the Python `tuspy` client (a
# real, independent tus 1.0 implementation) and checks the stored bytes:
#   1. a 5 MiB file in 1 MiB PATCHes with Upload-Checksum (sha1);
#   2. an interrupted upload: two chunks, then a fresh client resumes from the
#      server's offset (HEAD) and finishes;
# (tuspy speaks core, creation and checksum; deferred length, termination and
# concatenation are covered by the crate's tests at the request level.)
# The venv lives under ~/.cache/upload-venv; the server runs on a free local port.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-1}
VENV="$HOME/.cache/upload-venv"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check tuspy
cargo build --quiet --example tus_server
PORT=${PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}
rm -rf target/tus_server
./target/debug/examples/tus_server "127.0.0.1:$PORT" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 50); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT))" 2>/dev/null && break
    sleep 0.1
done
"$VENV/bin/python" - "$PORT" <<'PY'
import hashlib, io, os, sys, urllib.request
from tusclient import client
from tusclient.uploader import Uploader

port = sys.argv[1]
base = f"http://127.0.0.1:{port}/files/"
tus = client.TusClient(base)

def download(url):
    upload_id = url.rstrip("/").rsplit("/", 1)[1]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/download/{upload_id}") as r:
        return r.read()

def check(name, data, url):
    got = download(url)
    ok = hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
    print(f"{name}: {len(data)} bytes -> {url}: {'bytes identical' if ok else 'MISMATCH'}")
    if not ok:
        sys.exit(1)

# 1. Plain upload in 1 MiB chunks with per-chunk sha1 checksums.
data = os.urandom(5 * 1024 * 1024 + 123)
up = tus.uploader(file_stream=io.BytesIO(data), chunk_size=1024 * 1024,
                  metadata={"filename": "video.bin"}, upload_checksum=True)
up.upload()
check("chunked+checksum", data, up.url)

# 2. Interrupted: two chunks, then a new client resumes from the server's offset.
data = os.urandom(3 * 1024 * 1024 + 7)
first = tus.uploader(file_stream=io.BytesIO(data), chunk_size=512 * 1024)
first.upload_chunk()
first.upload_chunk()
url = first.url
del first
second = Uploader(client=client.TusClient(base), file_stream=io.BytesIO(data),
                  url=url, chunk_size=1024 * 1024)
resumed_at = second.get_offset()
second.upload()
print(f"resume: server offset after the interruption {resumed_at}")
assert resumed_at == 1024 * 1024, resumed_at
check("interrupted+resumed", data, url)

from importlib.metadata import version
print(f"tuspy {version('tuspy')}: all uploads verified")
PY
