#!/usr/bin/env bash
# Engine-level costs, Vessel vs Podman, in one run:
#   1. `run --rm IMAGE true` latency (interleaved A B A B, medians and ratio);
#   2. 100 detached `sleep` containers: time to start them all, and the memory of the
#      daemon plus the per-container processes (vessel-monitor vs conmon) while they run.
#
#   sudo benches/engine-run.sh
#
# Environment: N=20 (latency iterations), MANY=100 (detached containers).
# Both tools get a private root, --network none and the same busybox image, so the
# numbers compare engines, not networks or image pulls. Docker is not included: it needs
# its own daemon and image import (see benches/README.md). Always exits 0.
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
N="${N:-20}"
MANY="${MANY:-100}"
VESSEL="${VESSEL_BIN:-$REPO/target/release/vessel}"
note() { echo "note: $*"; }
[ "$(id -u)" = 0 ] || { note "must run as root; nothing measured"; exit 0; }
[ -x "$VESSEL" ] || { note "build first: cargo build --release -p vessel -p vessel-monitor -p vessel-runtime"; exit 0; }
command -v podman >/dev/null || { note "podman not installed (apt-get install podman); nothing measured"; exit 0; }

WORK="$(mktemp -d /tmp/vessel-engine-bench.XXXXXX)"
RUN="$(mktemp -d /tmp/veb.XXXX)"
daemon_pid=""
PODMAN=(podman --runtime runc --root "$WORK/podman/root" --runroot "$WORK/podman/run" --tmpdir "$WORK/podman/tmp" --storage-driver overlay --cgroup-manager cgroupfs --events-backend none)
export VESSEL_HOST="unix://$RUN/v.sock" VESSEL_NO_AUTOSTART=1
cleanup() {
    set +e
    "$VESSEL" rm -f $("$VESSEL" ps -aq 2>/dev/null) >/dev/null 2>&1
    "${PODMAN[@]}" rm -af -t 0 >/dev/null 2>&1
    [ -n "$daemon_pid" ] && kill "$daemon_pid" && wait "$daemon_pid" 2>/dev/null
    "${PODMAN[@]}" system reset -f >/dev/null 2>&1
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
"${PODMAN[@]}" import "$WORK/rootfs.tar" localhost/bench-bb:latest >/dev/null 2>&1

python3 - "$N" "$MANY" "$VESSEL" "$daemon_pid" "${PODMAN[@]}" <<'PY'
import os, statistics, subprocess, sys, time
n, many, vessel, dpid = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
podman = sys.argv[5:]
tools = {
    "vessel": [vessel],
    "podman": podman,
}
img = {"vessel": "bench-bb:latest", "podman": "localhost/bench-bb:latest"}

def run(cmd):
    return subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)

times = {t: [] for t in tools}
for i in range(n + 2):
    for t, base in tools.items():  # interleaved: A B A B
        t0 = time.perf_counter()
        r = run(base + ["run", "--rm", "--network", "none", img[t], "true"])
        dt = time.perf_counter() - t0
        if r.returncode != 0:
            print(f"note: {t} run failed: {r.stderr.decode()[:200]}")
            continue
        if i >= 2:
            times[t].append(dt * 1000)
med = {t: statistics.median(v) for t, v in times.items() if v}
print(f"run --rm true (N={n}, median ms): " + ", ".join(f"{t} {m:.1f}" for t, m in med.items()))
if "vessel" in med and "podman" in med:
    print(f"  ratio vessel/podman: {med['vessel'] / med['podman']:.2f}x")

def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0

def pids_named(name):
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open(f"/proc/{p}/comm") as f:
                    if f.read().strip() == name:
                        out.append(int(p))
            except OSError:
                pass
    return out

for t, base in tools.items():
    before = set(pids_named("vessel-monitor" if t == "vessel" else "conmon"))
    t0 = time.perf_counter()
    for i in range(many):
        r = run(base + ["run", "-d", "--network", "none", "--name", f"bench-{t}-{i}", img[t], "sleep", "600"])
        if r.returncode != 0:
            print(f"note: {t} run -d failed at {i}: {r.stderr.decode()[:200]}")
            break
    dt = time.perf_counter() - t0
    time.sleep(1)
    shims = [p for p in pids_named("vessel-monitor" if t == "vessel" else "conmon") if p not in before]
    shim_rss = sum(rss_kb(p) for p in shims)
    line = f"{t}: {many} x run -d in {dt:.1f} s ({dt / many * 1000:.0f} ms each); {len(shims)} {'monitors' if t == 'vessel' else 'conmons'} RSS {shim_rss / 1024:.1f} MiB ({shim_rss / max(len(shims), 1):.0f} kB each)"
    if t == "vessel":
        line += f"; daemon RSS {rss_kb(dpid) / 1024:.1f} MiB"
    print(line)
    t0 = time.perf_counter()
    ids = subprocess.run(base + ["ps", "-aq"], capture_output=True, text=True).stdout.split()
    for i in range(0, len(ids), 20):
        run(base + ["rm", "-f"] + (["-t", "0"] if t == "podman" else []) + ids[i:i + 20])
    print(f"  removed them in {time.perf_counter() - t0:.1f} s")
PY
exit 0
