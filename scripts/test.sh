#!/usr/bin/env bash
# Runs every Switchboard test on a fresh Debian machine: installs the real
# peers the tests drive (SIPp, baresip, sox, espeak-ng for text to speech,
# pocketsphinx for voicemail transcription), PostgreSQL,
# openapi-spec-validator, schemathesis and cmake (libopus is built from
# source for the `opus` feature), then formatting, lints with and without
# Opus, the tokio-free build of the protocol cores, unit tests and
# conformance tests against the real binary (built with Opus), the API
# suite once more storing in PostgreSQL, and a build of the fuzz targets.
set -euo pipefail
cd "$(dirname "$0")/.."

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

echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo clippy (with Opus)"
cargo clippy --workspace --all-targets --locked --features control-api/opus -- -D warnings
echo "== protocol cores without tokio"
cargo build --locked -p sip-core -p media --no-default-features
echo "== media unit tests without Opus"
cargo test --locked -p media --lib -- --test-threads=2
echo "== tests (unit and conformance against the real binary)"
cargo test --workspace --locked --features control-api/opus -- --test-threads=2
echo "== API suite storing in PostgreSQL"
# --workspace, as above, so that features unify the same way and the test
# binary built above is reused, not rebuilt.
./scripts/postgres.sh cargo test --workspace --locked --features control-api/opus \
  --test conformance_api -- --test-threads=2
echo "== fuzz targets build"
cargo check --locked --manifest-path fuzz/Cargo.toml
