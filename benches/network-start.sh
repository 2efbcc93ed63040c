#!/usr/bin/env bash
# The extra start latency of a bridged container over `--network none`, Vessel vs Podman,
# interleaved in one run: `run --rm --network none IMAGE true` against
# `run --rm --network <user bridge> IMAGE true`, medians and the difference printed.
#
#   sudo benches/network-start.sh          (N=20)
#
# Each engine gets a private root and its own user network on a subnet of 10.233.x.0/24, so
# nothing touches the host's networks. Traffic: none (the containers only run `true`).
# Always exits 0.
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
N="${N:-20}"
VESSEL="${VESSEL_BIN:-$REPO/target/release/vessel}"
note() { echo "note: $*"; }
[ "$(id -u)" = 0 ] || { note "must run as root; nothing measured"; exit 0; }
[ -x "$VESSEL" ] || { note "build first: cargo build --release -p vessel -p vessel-monitor -p vessel-runtime"; exit 0; }
command -v nft >/dev/null || { note "nft missing (apt-get install nftables); nothing measured"; exit 0; }

WORK="$(mktemp -d /tmp/vessel-net-bench.XXXXXX)"
RUN="$(mktemp -d /tmp/vnb.XXXX)"
NET="vnb$$"
daemon_pid=""
PODMAN=(podman --runtime runc --root "$WORK/podman/root" --runroot "$WORK/podman/run" --tmpdir "$WORK/podman/tmp" --storage-driver overlay --cgroup-manager cgroupfs --events-backend none)
have_podman=0
command -v podman >/dev/null && have_podman=1
export VESSEL_HOST="unix://$RUN/v.sock" VESSEL_NO_AUTOSTART=1
cleanup() {
    set +e
    "$VESSEL" network rm "$NET" >/dev/null 2>&1
    [ -n "$daemon_pid" ] && kill "$daemon_pid" && wait "$daemon_pid" 2>/dev/null
    if [ "$have_podman" = 1 ]; then
        "${PODMAN[@]}" rm -af -t 0 >/dev/null 2>&1
        "${PODMAN[@]}" network rm -f "$NET" >/dev/null 2>&1
        "${PODMAN[@]}" system reset -f >/dev/null 2>&1
    fi
    grep -oE " ($WORK|$RUN)/[^ ]*" /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m"; done
    rm -rf "$WORK" "$RUN"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

mkdir -p "$WORK/rootfs/bin" "$WORK/rootfs/etc" "$WORK/rootfs/tmp"
cp /bin/busybox "$WORK/rootfs/bin/"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$WORK/rootfs/bin/$a"; done
tar -C "$WORK/rootfs" -cf "$WORK/rootfs.tar" .
echo "{\"exec-root\": \"$RUN/x\", \"bridge\": \"none\"}" > "$WORK/daemon.json"
"$VESSEL" daemon --root "$WORK/vessel" --config-file "$WORK/daemon.json" -H "$VESSEL_HOST" >"$WORK/daemon.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 1 100); do [ -S "$RUN/v.sock" ] && break; sleep 0.1; done
"$VESSEL" import "$WORK/rootfs.tar" bench-bb:latest >/dev/null
"$VESSEL" network create --subnet "10.233.$(( $$ % 200 )).0/24" "$NET" >/dev/null
if [ "$have_podman" = 1 ]; then
    "${PODMAN[@]}" import "$WORK/rootfs.tar" localhost/bench-bb:latest >/dev/null 2>&1
    "${PODMAN[@]}" network create --subnet "10.233.$(( $$ % 200 + 1 )).0/24" "$NET" >/dev/null 2>&1 \
        || { note "podman network create failed; podman skipped"; have_podman=0; }
fi

python3 - "$N" "$NET" "$have_podman" "$VESSEL" "${PODMAN[@]}" <<'PY'
import statistics, subprocess, sys, time
n, net, have_podman, vessel = int(sys.argv[1]), sys.argv[2], sys.argv[3] == "1", sys.argv[4]
podman = sys.argv[5:]
engines = {"vessel": ([vessel], "bench-bb:latest")}
if have_podman:
    engines["podman"] = (podman, "localhost/bench-bb:latest")
times = {(e, m): [] for e in engines for m in ("none", net)}
for i in range(n + 2):
    for e, (base, img) in engines.items():
        for mode in ("none", net):  # interleaved
            t0 = time.perf_counter()
            r = subprocess.run(base + ["run", "--rm", "--network", mode, img, "true"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)
            dt = (time.perf_counter() - t0) * 1000
            if r.returncode != 0:
                print(f"note: {e} --network {mode} failed: {r.stderr.decode()[:200]}")
            elif i >= 2:
                times[(e, mode)].append(dt)
for e in engines:
    a, b = times[(e, "none")], times[(e, net)]
    if a and b:
        ma, mb = statistics.median(a), statistics.median(b)
        print(f"{e}: run --rm true, median over {len(a)}: none {ma:.1f} ms, bridge {mb:.1f} ms, bridge costs {mb - ma:+.1f} ms")
PY
exit 0
