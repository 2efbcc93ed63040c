#!/usr/bin/env bash
# The whole test suite: installs what it needs, checks format and lints, runs unit and
# root integration tests, then the drop-in tests under Podman, Docker and containerd.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo build --release -p vessel-runtime --quiet
if [ -x tests/dropin/run.sh ]; then
  bash tests/dropin/run.sh "$PWD/target/release/vessel-runtime"
fi
cargo test --workspace
