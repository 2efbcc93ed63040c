#!/usr/bin/env bash
# A guided tour of vessel-runtime: a busybox container and what isolation it gets.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cargo build --release -p vessel-runtime --quiet
RT="$PWD/target/release/vessel-runtime"
work=$(mktemp -d /tmp/vessel-demo.XXXXXX)
root="/run/vessel-demo-$$"
id="demo-$$"
cleanup() {
  "$RT" --root "$root" delete --force "$id" 2>/dev/null || true
  rm -rf "$work" "$root"
}
trap cleanup EXIT

say() { printf '\n\033[1;34m==> %s\033[0m\n' "$*"; }

say "Building a root filesystem from busybox-static in $work/rootfs"
mkdir -p "$work/rootfs"/{bin,proc,sys,dev,tmp,etc}
cp /bin/busybox "$work/rootfs/bin/"
for applet in $(/bin/busybox --list); do [ "$applet" = busybox ] || ln -sf busybox "$work/rootfs/bin/$applet"; done
cd "$work"
"$RT" spec
python3 - <<'PY'
import json
c = json.load(open("config.json"))
c["process"]["terminal"] = False
c["hostname"] = "demo-box"
c["linux"]["resources"]["memory"] = {"limit": 32 << 20, "swap": 32 << 20}
c["linux"]["resources"]["pids"] = {"limit": 20}
json.dump(c, open("config.json", "w"), indent=2)
PY

run() {
  python3 - "$@" <<'PY'
import json, sys
c = json.load(open("config.json"))
c["process"]["args"] = ["sh", "-c", sys.argv[1]]
json.dump(c, open("config.json", "w"), indent=2)
PY
  "$RT" --root "$root" run "$id-$((RANDOM))" || echo "(exit code $?)"
}

say "Inside the container: own pid namespace, hostname, network and mounts"
run 'echo "my pid: $$"; echo "hostname: $(hostname)"; echo "network interfaces: $(ls /sys/class/net)"; echo "processes I can see:"; ps'

say "Capabilities are cut to the three runc grants by default, no_new_privs is set"
run 'grep -E "Cap(Eff|Bnd)|NoNewPrivs" /proc/self/status'

say "The root filesystem is read-only; /proc/sys is read-only; /proc/kcore-like paths are masked"
run 'touch /hello 2>&1; echo 1 > /proc/sys/kernel/domainname 2>&1; echo "timer_list bytes: $(cat /proc/timer_list | wc -c)"'

say "A memory limit of 32 MiB: a shell that grabs 64 MiB is OOM-killed (exit 137)"
run 'x=$(head -c 67108864 /dev/zero | tr "\0" a); echo "survived?!"'

say "A pids limit of 20: a fork bomb hits the wall"
run 'for i in $(seq 1 40); do sleep 5 & done 2>/dev/shm/err; echo "started $(jobs -p | wc -l) of 40 sleepers; first error: $(head -n 1 /dev/shm/err)"; kill $(jobs -p)'

say "Lifecycle as engines drive it: create, start, exec, pause, resume, kill, delete"
python3 - <<'PY'
import json
c = json.load(open("config.json"))
c["process"]["args"] = ["sleep", "1000"]
json.dump(c, open("config.json", "w"), indent=2)
PY
"$RT" --root "$root" create "$id" >/dev/null
"$RT" --root "$root" list
"$RT" --root "$root" start "$id"
"$RT" --root "$root" exec "$id" sh -c 'echo "exec sees pid 1 as: $(cat /proc/1/comm)"'
"$RT" --root "$root" pause "$id" && echo "status: $("$RT" --root "$root" state "$id" | grep status)"
"$RT" --root "$root" resume "$id" && echo "status: $("$RT" --root "$root" state "$id" | grep status)"
"$RT" --root "$root" events --stats "$id" | python3 -c 'import json,sys; d=json.load(sys.stdin)["data"]; print("memory usage:", d["memory"]["usage"]["usage"], "bytes; pids:", d["pids"]["current"])'
"$RT" --root "$root" kill "$id" KILL
sleep 0.2
"$RT" --root "$root" delete "$id" && echo "deleted: no state, cgroup or mount left"
say "Done. See docs/runtime.md for using vessel-runtime under Podman, Docker, containerd and Kubernetes."
