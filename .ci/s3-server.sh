#!/usr/bin/env bash
# Source from .ci/run:  . .ci/s3-server.sh ; start_s3
set -euo pipefail
S3_VENV="${S3_VENV:-$HOME/.cache/ci-moto-venv}"
S3_PORT="${S3_PORT:-9055}"
S3_BUCKET="${S3_BUCKET:-conformance}"
MOTO_VERSION=5.2.5

install_s3() {
  if "$S3_VENV/bin/python" -c "import moto, flask, flask_cors, sys; sys.exit(moto.__version__ != '$MOTO_VERSION')" 2>/dev/null; then
    return 0
  fi
  rm -rf "$S3_VENV"
  python3 -m venv "$S3_VENV"
  "$S3_VENV/bin/pip" install -q --disable-pip-version-check "moto[s3]==$MOTO_VERSION" flask flask-cors
}

start_s3() {
  install_s3
  local here; here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  "$S3_VENV/bin/python" "$here/moto_locked.py" -H 127.0.0.1 -p "$S3_PORT" >"${S3_LOG:-/tmp/moto-$S3_PORT.log}" 2>&1 &
  S3_PID=$!
  trap 'kill "$S3_PID" 2>/dev/null || true' EXIT
  for _ in $(seq 1 100); do   # up to ~20 s
    if curl -fsS -o /dev/null -X PUT "http://127.0.0.1:$S3_PORT/$S3_BUCKET" 2>/dev/null; then
      export S3_ENDPOINT="http://127.0.0.1:$S3_PORT" S3_BUCKET
      return 0
    fi
    kill -0 "$S3_PID" 2>/dev/null || { cat "${S3_LOG:-/tmp/moto-$S3_PORT.log}" >&2; return 1; }
    sleep 0.2
  done
  echo "moto did not start" >&2; return 1
}
