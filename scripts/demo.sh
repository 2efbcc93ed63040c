#!/usr/bin/env bash
# A guided tour: a busybox container and its isolation, then the daemon: images, volumes, networks, a build, a registry round trip.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cargo build --release -p vessel-runtime -p vessel-monitor -p vessel --quiet
RT="$PWD/target/release/vessel-runtime"
VESSEL="$PWD/target/release/vessel"
work=$(mktemp -d /tmp/vessel-demo.XXXXXX)
root="/run/vessel-demo-$$"
id="demo-$$"
daemon_pid=""
registry_pid=""
repo="$PWD"
cleanup() {
  set +e
  [ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null && wait "$registry_pid" 2>/dev/null
  "$RT" --root "$root" delete --force "$id" 2>/dev/null || true
  if [ -n "$daemon_pid" ]; then
    "$VESSEL" rm -f demo-web demo-httpd >/dev/null 2>&1 || true
    "$VESSEL" network rm demo-net >/dev/null 2>&1 || true
    kill "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
  fi
  grep -o " $work/[^ ]*" /proc/self/mountinfo 2>/dev/null | sort -r | while read -r m; do umount -l "$m"; done
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
run 'mkfifo /dev/shm/f; (for i in $(seq 1 40); do sleep 1 & done) 2>/dev/shm/err; read -t 2 x <> /dev/shm/f; echo "the shell got: $(head -n 1 /dev/shm/err)"'

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
say "Now the engine: 'vessel daemon' serves the Docker Engine API; 'vessel' (and the real docker CLI) drive it"
mkdir -p "$work/engine"
# No default bridge for the demo: it creates (and removes) a network of its own.
echo '{"exec-root": "'"$work"'/engine/run", "bridge": "none"}' > "$work/engine/daemon.json"
export VESSEL_HOST="unix://$work/engine/vessel.sock"
"$VESSEL" daemon --root "$work/engine/root" --config-file "$work/engine/daemon.json" -H "$VESSEL_HOST" \
  > "$work/engine/daemon.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 1 100); do [ -S "$work/engine/vessel.sock" ] && break; sleep 0.1; done
echo "daemon pid $daemon_pid, socket $work/engine/vessel.sock"

say "Import the busybox rootfs as an image, and list images"
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
"$VESSEL" import "$work/rootfs.tar" demo-busybox:latest
"$VESSEL" images


say "Run a container with a named volume and a 64 MiB memory limit"
"$VESSEL" run --rm -v demo-data:/data --memory 64m demo-busybox sh -c \
  'echo "written at $(date)" > /data/note; echo "memory limit: $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max)"'
echo "the volume outlives the container:"
"$VESSEL" run --rm -v demo-data:/data demo-busybox cat /data/note

say "A long-running service: ps, logs, stop, rm"
"$VESSEL" run -d --name demo-web demo-busybox sh -c 'i=0; while :; do i=$((i+1)); echo "request $i served"; sleep 0.3; done'
sleep 1.2
"$VESSEL" ps
"$VESSEL" logs --tail 3 demo-web
"$VESSEL" inspect -f 'state={{.State.Status}} pid={{.State.Pid}}' demo-web
"$VESSEL" stop -t 1 demo-web >/dev/null && "$VESSEL" ps -a
"$VESSEL" rm demo-web >/dev/null
say "Networking: a user network with DNS, a web server reached by name and a published port"
"$VESSEL" network create --subnet 10.231.7.0/24 demo-net >/dev/null
"$VESSEL" run -d --name demo-httpd --network demo-net -p 127.0.0.1:18080:8080 demo-busybox \
  sh -c 'mkdir -p /www && echo "hello from demo-httpd" > /www/index.html && httpd -f -p 8080 -h /www' >/dev/null
"$VESSEL" network ls
"$VESSEL" inspect -f 'demo-httpd has {{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' demo-httpd
echo "from another container, by name:"
"$VESSEL" run --rm --network demo-net demo-busybox sh -c \
  'for i in 1 2 3 4 5; do printf "GET / HTTP/1.0\r\n\r\n" | nc -w 2 demo-httpd 8080 | tail -1 && break; sleep 0.3; done'
echo "from the host, through the published port 127.0.0.1:18080:"
python3 -c 'import urllib.request; print(urllib.request.urlopen("http://127.0.0.1:18080/", timeout=5).read().decode().strip())' || true
"$VESSEL" rm -f demo-httpd >/dev/null
"$VESSEL" network rm demo-net >/dev/null
say "Build: a multi-stage Dockerfile (examples/hello) into an image, then run it"
"$VESSEL" build -t demo-hello:1 --build-arg BASE=demo-busybox "$repo/examples/hello"
"$VESSEL" run --rm demo-hello:1
echo "a second build of the unchanged context is all cache hits:"
"$VESSEL" build -t demo-hello:1 --build-arg BASE=demo-busybox "$repo/examples/hello" | grep -c "Using cache" | sed 's/^/steps from cache: /'

say "A registry: 'vessel registry' on 127.0.0.1:15000, push, remove locally, pull back, run"
"$VESSEL" registry serve --root "$work/registry" --addr 127.0.0.1:15000 > "$work/registry.log" 2>&1 &
registry_pid=$!
for _ in $(seq 1 50); do python3 -c 'import socket; socket.create_connection(("127.0.0.1", 15000), 1)' 2>/dev/null && break; sleep 0.1; done
"$VESSEL" tag demo-hello:1 127.0.0.1:15000/demo/hello:1
"$VESSEL" push 127.0.0.1:15000/demo/hello:1
"$VESSEL" rmi 127.0.0.1:15000/demo/hello:1 demo-hello:1 >/dev/null
"$VESSEL" pull 127.0.0.1:15000/demo/hello:1
"$VESSEL" run --rm 127.0.0.1:15000/demo/hello:1
if command -v docker >/dev/null; then
  say "The real docker CLI against the same daemon"
  docker -H "$VESSEL_HOST" run --rm demo-busybox echo "hello from docker run, served by Vessel"
fi
say "Done. See docs/runtime.md and docs/engine.md."
exit 0
