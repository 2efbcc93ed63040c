#!/usr/bin/env bash
# The whole test suite: installs what it needs, checks format and lints, runs unit and
# root integration tests, then the drop-in tests under Podman, Docker and containerd.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo build --release -p vessel-runtime --quiet
# Integration tests drive the real binaries (daemon, monitor, runtime) from target/debug.
cargo build --workspace --bins --quiet
if [ -x tests/dropin/run.sh ]; then
  bash tests/dropin/run.sh "$PWD/target/release/vessel-runtime"
fi
log=$(mktemp /tmp/vessel-test.XXXXXX)
trap 'rm -f "$log"' EXIT
set +e
cargo test --workspace --no-fail-fast 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line over every test binary (cargo prints one per binary, doc tests last).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed;?$/) p += $i; if ($(i+1) ~ /^failed;?$/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
