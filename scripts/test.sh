#!/usr/bin/env bash
# Runs every Switchboard test on a fresh Debian machine: installs the real
# peers the tests drive (SIPp, baresip, sox, espeak-ng for text to speech,
# pocketsphinx for voicemail transcription), PostgreSQL,
# openapi-spec-validator, schemathesis and cmake (libopus is built from
# source for the `opus` feature), then formatting, one lint pass with every
# feature, the tokio-free build of the sans-IO cores (and a check that the
# call controller's crate pulls in no runtime, web or SQL crate, and has
# no file over 1,000 lines or function over 80), the media
# unit tests without Opus, unit and conformance tests against the real
# binary (built with Opus) under cargo-nextest, the API suite's storage
# tests once more storing in PostgreSQL (the same test binary), and a
# check of the fuzz targets. Each step prints how long it took.
set -euo pipefail
cd "$(dirname "$0")/.."

started=$SECONDS
step_started=$SECONDS
step_name=""
step() {
  finish_step
  step_name=$1
  step_started=$SECONDS
  echo "== $step_name"
}
finish_step() {
  if [ -n "$step_name" ]; then
    echo "== $step_name: $((SECONDS - step_started)) s"
  fi
}

step "install what the tests drive"
need=()
command -v sipp >/dev/null || need+=(sip-tester)
command -v baresip >/dev/null || need+=(baresip)
command -v sox >/dev/null || need+=(sox libsox-fmt-all)
command -v espeak-ng >/dev/null || need+=(espeak-ng)
command -v pocketsphinx_continuous >/dev/null || need+=(pocketsphinx pocketsphinx-en-us)
command -v cmake >/dev/null || need+=(cmake)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v psql >/dev/null || need+=(postgresql-client)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
# The OpenAPI document's validator and the API fuzzer, from PyPI.
python3 -c "import openapi_spec_validator" 2>/dev/null ||
  python3 -m pip install -q --disable-pip-version-check openapi-spec-validator
command -v schemathesis >/dev/null ||
  python3 -m pip install -q --disable-pip-version-check schemathesis
# The test runner: on the machine image already; from crates.io elsewhere.
cargo nextest --version >/dev/null 2>&1 || cargo install --locked cargo-nextest

step "cargo fmt --check"
cargo fmt --all --check

# One lint pass, with every feature: the test build below shares its
# dependencies' builds.
step "cargo clippy (every feature)"
cargo clippy --workspace --all-targets --locked --features control-api/opus -- -D warnings

step "sans-IO cores without tokio"
cargo check --locked -p sip-core -p media -p ivr -p switch --no-default-features
# The call controller's crate stands on the cores alone: no runtime, web
# framework, SQL or OpenAPI crate may reach it.
forbidden=$(cargo tree --locked -p switch --edges normal --prefix none --format '{p}' |
  awk '{print $1}' | grep -xE 'tokio|axum|hyper|sqlx|sqlx-core|utoipa' | sort -u || true)
if [ -n "$forbidden" ]; then
  echo "the switch crate depends on: $forbidden" >&2
  exit 1
fi
# And it stays readable: no file over 1,000 lines, no function over 80.
python3 scripts/switch_size.py
# Every SQL query is in control-api's storage/; the HTTP handlers and the
# rest of the binary call it.
if grep -rnE 'sqlx::(query|query_as|query_scalar)\b|QueryBuilder|\.begin\(\)' \
  control-api/src --include='*.rs' | grep -v '^control-api/src/storage/'; then
  echo "SQL outside control-api/src/storage/" >&2
  exit 1
fi

step "media unit tests without Opus"
cargo test --locked -p media --lib -- --test-threads=2

step "tests (unit and conformance against the real binary)"
cargo nextest run --workspace --locked --features control-api/opus --no-fail-fast

# The API suite's tests of what is stored, once more on PostgreSQL. The
# same features as above, so the test binary built there is reused. Calls'
# behaviour (transfers, recordings, flows' media) does not depend on the
# backend and runs once, above.
step "API storage tests on PostgreSQL"
./scripts/postgres.sh cargo nextest run --workspace --locked --features control-api/opus \
  --no-fail-fast -E 'binary(conformance_api) and not test(/^live_calls::/)'

step "fuzz targets check"
cargo check --locked --manifest-path fuzz/Cargo.toml

finish_step
step_name=""
echo "== all steps: $((SECONDS - started)) s"
