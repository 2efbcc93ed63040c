#!/usr/bin/env bash
# Drop-in test: run vessel-runtime (runc-compatible CLI) under Podman, a
# private dockerd and a private containerd, on a tiny busybox-static image.
#
# Usage (as root, no stdin needed):
#   tests/dropin/run.sh [RUNTIME] [--compare] [--only podman|docker|containerd]
#     RUNTIME    path to the runtime binary
#                (default: $(pwd)/target/release/vessel-runtime)
#     --compare  also run every section with runc (sanity check of the harness)
#     --only S   run one section
#   Env: DROPIN_DOCKER_WORKAROUND=1 also runs the docker section through a
#        wrapper that strips `blockIO.weight: 0` (dockerd 20.10 always sends
#        it) -- exercises the rest of the docker path despite that bug.
#        DROPIN_CONTAINERS_CONF overrides the containers.conf path (testing).
#   On failure, daemon logs are kept in /tmp/vessel-dropin-logs-<pid>.
#
# Host setup performed (idempotent):
#   * /etc/containers/containers.conf gets `default_ulimits = []` under
#     [containers] (created if missing; other settings are left alone).
# Everything else (dockerd, containerd) is private: own sockets, data roots,
# state dirs under a temp dir, stopped by PID and removed on exit.
set -euo pipefail

# ---------------------------------------------------------------- arguments
RT_ARG=""
COMPARE=0
ONLY=""
while [ $# -gt 0 ]; do
    case "$1" in
        --compare) COMPARE=1 ;;
        --only) ONLY="$2"; shift ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        *) RT_ARG="$1" ;;
    esac
    shift
done
RT_ARG="${RT_ARG:-$(pwd)/target/release/vessel-runtime}"
RT="$(readlink -f -- "$RT_ARG" || true)"
if [ -z "$RT" ] || [ ! -x "$RT" ]; then
    echo "FAIL: runtime binary not found/executable: $RT_ARG" >&2
    exit 2
fi
if [ "$(id -u)" != 0 ]; then
    echo "FAIL: must run as root" >&2
    exit 2
fi
RUNC="$(command -v runc || true)"

# Debian's docker CLI matches dockerd 20.10; prefer it over a newer one in PATH.
if [ -x /usr/bin/docker ]; then DOCKER_CLI=/usr/bin/docker; else DOCKER_CLI="$(command -v docker)"; fi

for tool in podman dockerd containerd ctr busybox script tar; do
    command -v "$tool" >/dev/null || { echo "FAIL: missing tool: $tool" >&2; exit 2; }
done

# ---------------------------------------------------------------- state
ID="$$"
TAG="vd$ID"
IMG_NAME="vessel-dropin-busybox"
IMG="localhost/$IMG_NAME:$TAG"             # podman's name for the import
WORK="$(mktemp -d /tmp/vessel-dropin-$ID.XXXXXX)"
LOGDIR="$WORK/logs"; mkdir -p "$LOGDIR"
FAILED=0
SLEEP_SECS="1000$ID"      # unique, so leftover container processes can be found
declare -a RESULTS=()
DOCKERD_PID=""; DOCKER_SOCK=""; DOCKER_DIR=""
CTRD_PID=""; CTRD_SOCK=""; CTRD_DIR=""
declare -a PODMAN_CTRS=()
PODMAN_IMG_DONE=0
START_TS=$(date +%s)

log() { printf '[dropin %s] %s\n' "$(date +%T)" "$*" >&2; }
pass() { RESULTS+=("PASS: $*"); echo "PASS: $*"; }
fail() { RESULTS+=("FAIL: $*"); echo "FAIL: $*"; FAILED=1; }

# run a command with a timeout, capturing stdout+stderr into $OUT
# usage: t SECONDS cmd...   -> returns cmd status; output in $OUT
OUT=""
t() {
    local secs="$1"; shift
    local rc=0
    OUT="$(timeout -k 5 "$secs" "$@" </dev/null 2>&1)" || rc=$?
    return $rc
}

# check: NAME EXPECTED-SUBSTRING SECS cmd...
check() {
    local name="$1" want="$2" secs="$3"; shift 3
    local rc=0
    t "$secs" "$@" || rc=$?
    if [ $rc -eq 0 ] && { [ -z "$want" ] || grep -qF -- "$want" <<<"$OUT"; }; then
        pass "$name"
        return 0
    fi
    fail "$name (rc=$rc)"
    printf '    cmd: %s\n' "$*"
    printf '%s\n' "$OUT" | sed 's/^/    | /' | tail -n 30
    return 1
}

# check_pty NAME CMD...: run CMD under a pty (script(1)) -- CMD must end in an
# image/container followed by nothing; we append `sh -c 'tty; echo pty-ok'`.
# Output must show a /dev/pts tty and the marker. One retry when the command
# succeeded but output was cut short: podman/conmon sometimes drops the tail
# of a short-lived -it container's output (seen with runc too).
PTY_SH='tty; echo pty-ok; sleep 0.2'
check_pty() {
    local name="$1"; shift
    local cmd attempt rc
    cmd="$(printf '%q ' "$@" sh -c "$PTY_SH")"
    for attempt in 1 2; do
        rc=0
        t 60 script -qec "$cmd" /dev/null || rc=$?
        if [ $rc -eq 0 ] && grep -qF /dev/pts/ <<<"$OUT" && grep -qF pty-ok <<<"$OUT"; then
            if [ $attempt -eq 1 ]; then pass "$name"; else pass "$name (after 1 retry)"; fi
            return 0
        fi
        [ $rc -eq 0 ] || break
        log "$name: incomplete pty output, retrying once: $(printf '%q' "$OUT")"
    done
    fail "$name (rc=$rc)"
    printf '    cmd: script -qec %s /dev/null\n' "$cmd"
    printf '%s\n' "$OUT" | sed 's/^/    | /' | tail -n 30
    return 1
}

# bounded wait: wait_for TRIES SLEEP cmd...
wait_for() {
    local tries="$1" s="$2"; shift 2
    local i
    for ((i = 0; i < tries; i++)); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep "$s"
    done
    return 1
}

# all descendants of a pid (depth-first), from /proc
descendants() {
    local p="$1" c
    for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do
        echo "$c"
        descendants "$c"
    done
}

# stop a daemon started by us: SIGTERM, bounded wait, then SIGKILL it and
# any leftover descendants (e.g. dockerd's managed containerd, shims).
stop_daemon() {
    local pid="$1" name="$2"
    [ -n "$pid" ] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    local kids
    kids="$(descendants "$pid" | tr '\n' ' ')"
    kill -TERM "$pid" 2>/dev/null || true
    local i
    for ((i = 0; i < 150; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "$name (pid $pid) did not exit on TERM; killing"
        kids="$kids $(descendants "$pid" | tr '\n' ' ')"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    # leftover children that we (transitively) started
    local k left=""
    for k in $kids; do
        if kill -0 "$k" 2>/dev/null; then left="$left $k"; fi
    done
    if [ -n "$left" ]; then
        log "$name: killing leftover descendants:$left"
        # shellcheck disable=SC2086
        kill -KILL $left 2>/dev/null || true
    fi
}

# unmount everything at or below a directory (deepest first)
umount_under() {
    local dir="$1" m
    [ -d "$dir" ] || return 0
    dir="$(readlink -f "$dir")"
    local i
    for ((i = 0; i < 5; i++)); do
        local mounts
        mounts="$(awk -v d="$dir" '{ gsub(/\\040/, " ", $5); if ($5 == d || index($5, d "/") == 1) print $5 }' /proc/self/mountinfo | sort -r)"
        [ -n "$mounts" ] || return 0
        while IFS= read -r m; do
            umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
        done <<<"$mounts"
    done
}

cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    log "cleanup"
    # podman containers / image
    local c
    for c in "${PODMAN_CTRS[@]:-}"; do
        [ -n "$c" ] || continue
        timeout 30 podman --cgroup-manager=cgroupfs --events-backend=file rm -f -t 0 "$c" >/dev/null 2>&1
    done
    if [ "$PODMAN_IMG_DONE" = 1 ]; then
        timeout 30 podman rmi -f "$IMG" >/dev/null 2>&1
    fi
    # docker
    if [ -n "$DOCKERD_PID" ] && kill -0 "$DOCKERD_PID" 2>/dev/null; then
        local ids
        ids="$(timeout 10 "$DOCKER_CLI" -H "unix://$DOCKER_SOCK" ps -aq 2>/dev/null)"
        # shellcheck disable=SC2086
        [ -z "$ids" ] || timeout 30 "$DOCKER_CLI" -H "unix://$DOCKER_SOCK" rm -f $ids >/dev/null 2>&1
    fi
    stop_daemon "$DOCKERD_PID" dockerd
    DOCKERD_PID=""
    # containerd
    if [ -n "$CTRD_PID" ] && kill -0 "$CTRD_PID" 2>/dev/null; then
        local n
        for n in $(timeout 10 ctr -a "$CTRD_SOCK" tasks ls -q 2>/dev/null); do
            timeout 10 ctr -a "$CTRD_SOCK" tasks kill -s KILL "$n" >/dev/null 2>&1
            timeout 10 ctr -a "$CTRD_SOCK" tasks rm -f "$n" >/dev/null 2>&1
        done
        for n in $(timeout 10 ctr -a "$CTRD_SOCK" containers ls -q 2>/dev/null); do
            timeout 10 ctr -a "$CTRD_SOCK" containers rm "$n" >/dev/null 2>&1
        done
    fi
    stop_daemon "$CTRD_PID" containerd
    CTRD_PID=""
    # shims started by our daemons are reparented away from them; find any
    # process still referring to our private dirs (e.g. containerd-shim
    # -address $WORK/...) and stop it.
    local pid left=""
    for pid in $(ls /proc | grep -E '^[0-9]+$'); do
        [ "$pid" != "$$" ] && [ "$pid" != "$BASHPID" ] || continue
        if { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -qF -- "$WORK"; then
            left="$left $pid"
        fi
    done
    if [ -n "$left" ]; then
        log "killing leftover processes using $WORK:$left"
        # shellcheck disable=SC2086
        kill -KILL $left 2>/dev/null
        sleep 0.2
    fi
    umount_under "$WORK"
    rm -rf "$WORK" 2>/dev/null || { sleep 1; umount_under "$WORK"; rm -rf "$WORK"; }
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# pids of container processes (`sleep $SLEEP_SECS`) still alive
sleepers() {
    local pid
    for pid in $(ls /proc | grep -E '^[0-9]+$'); do
        if [ "$({ tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null)" = "sleep $SLEEP_SECS " ]; then
            echo "$pid"
        fi
    done
}

# after a section: its detached container's process must be gone
check_no_leftovers() {
    local label="$1" i left=""
    for ((i = 0; i < 50; i++)); do
        left="$(sleepers | tr '\n' ' ')"
        [ -n "${left// /}" ] || { pass "$label no leftover container processes"; return 0; }
        sleep 0.1
    done
    fail "$label leftover container processes after stop/rm: $left"
    local p
    for p in $left; do
        printf '    | pid %s ppid %s cgroup(pids) %s\n' "$p" \
            "$(awk '/^PPid:/ {print $2}' /proc/"$p"/status 2>/dev/null)" \
            "$(grep -E ':pids:|^0::' /proc/"$p"/cgroup 2>/dev/null | head -n1)"
    done
    # shellcheck disable=SC2086
    kill -KILL $left 2>/dev/null || true
}

# ---------------------------------------------------------------- host setup
ensure_containers_conf() {
    local f="${DROPIN_CONTAINERS_CONF:-/etc/containers/containers.conf}"
    mkdir -p "$(dirname "$f")"
    if [ ! -f "$f" ]; then
        printf '[containers]\ndefault_ulimits = []\n' >"$f"
        log "created $f"
        return
    fi
    # already set (uncommented) inside [containers]?
    if awk '
        /^[[:space:]]*\[/ { sec = $0; gsub(/[[:space:]]/, "", sec) }
        sec == "[containers]" && /^[[:space:]]*default_ulimits[[:space:]]*=[[:space:]]*\[[[:space:]]*\]/ { found = 1 }
        END { exit !found }' "$f"; then
        return
    fi
    local tmp="$f.dropin.$ID"
    awk '
        BEGIN { done = 0; insec = 0; seen = 0; skipping = 0 }
        /^[[:space:]]*\[/ {
            s = $0; gsub(/[[:space:]]/, "", s)
            if (insec && !done) { print "default_ulimits = []"; done = 1 }
            insec = (s == "[containers]")
            if (insec) seen = 1
            skipping = 0
            print; next
        }
        # drop an existing (possibly multi-line) default_ulimits in [containers]
        insec && /^[[:space:]]*default_ulimits[[:space:]]*=/ {
            if ($0 !~ /\]/) skipping = 1
            next
        }
        skipping { if ($0 ~ /\]/) skipping = 0; next }
        { print }
        END {
            if (insec && !done) { print "default_ulimits = []"; done = 1 }
            if (!seen) { print ""; print "[containers]"; print "default_ulimits = []" }
        }' "$f" >"$tmp"
    cat "$tmp" >"$f"; rm -f "$tmp"
    log "set default_ulimits = [] in $f"
}

# ---------------------------------------------------------------- image
build_image() {
    local r="$WORK/rootfs"
    mkdir -p "$r/bin" "$r/proc" "$r/sys" "$r/dev" "$r/tmp" "$r/etc" "$r/root" "$r/run"
    cp "$(readlink -f "$(command -v busybox)")" "$r/bin/busybox"
    local a
    for a in $("$r/bin/busybox" --list); do
        [ "$a" = busybox ] || ln -sf busybox "$r/bin/$a"
    done
    ln -s bin "$r/sbin"
    mkdir -p "$r/usr"; ln -s ../bin "$r/usr/bin"; ln -s ../bin "$r/usr/sbin"
    echo 'root:x:0:0:root:/root:/bin/sh' >"$r/etc/passwd"
    echo 'root:x:0:' >"$r/etc/group"
    chmod 1777 "$r/tmp"
    tar --numeric-owner --owner=0 --group=0 -C "$r" -cf "$WORK/rootfs.tar" .
    rm -rf "$r"
    # podman image, then a docker-archive for docker and containerd
    t 120 podman import --change 'CMD ["/bin/sh"]' "$WORK/rootfs.tar" "$IMG" \
        || { echo "$OUT"; return 1; }
    PODMAN_IMG_DONE=1
    t 120 podman save --format docker-archive -o "$WORK/image.tar" "$IMG" \
        || { echo "$OUT"; return 1; }
}

# ---------------------------------------------------------------- podman
podman_section() {
    local rt="$1" label="$2"
    local P=(podman --runtime "$rt" --cgroup-manager=cgroupfs --events-backend=file)
    local name="vessel-dropin-p$ID-$label"
    local net=()
    # default (netavark) networking if it works, else host
    if t 60 "${P[@]}" run --rm "$IMG" true; then
        net=()
    else
        log "podman default network failed, falling back to --network=host: $OUT"
        net=(--network=host)
    fi
    check "podman[$label] run --rm echo" hello-from-podman 60 \
        "${P[@]}" run --rm "${net[@]}" "$IMG" sh -c 'echo hello-from-podman'
    check "podman[$label] exit code propagates" "" 60 \
        bash -c '"$@"; [ $? -eq 7 ]' _ "${P[@]}" run --rm "${net[@]}" "$IMG" sh -c 'exit 7'
    PODMAN_CTRS+=("$name")
    if check "podman[$label] run -d" "" 60 "${P[@]}" run -d --name "$name" "${net[@]}" "$IMG" sleep "$SLEEP_SECS"; then
        check "podman[$label] exec" dropin-exec-ok 60 "${P[@]}" exec "$name" echo dropin-exec-ok
        check_pty "podman[$label] exec -t (pty)" "${P[@]}" exec -t "$name"
        check "podman[$label] stop" "" 60 "${P[@]}" stop -t 1 "$name"
    fi
    check "podman[$label] rm" "" 60 "${P[@]}" rm -f "$name"
    check_pty "podman[$label] run -it (pty)" "${P[@]}" run -it --rm "${net[@]}" "$IMG"
}

# ---------------------------------------------------------------- docker
start_dockerd() {
    DOCKER_DIR="$WORK/docker"
    mkdir -p "$DOCKER_DIR"
    DOCKER_SOCK="$DOCKER_DIR/docker.sock"
    local args=(
        --host "unix://$DOCKER_SOCK"
        --data-root "$DOCKER_DIR/data"
        --exec-root "$DOCKER_DIR/exec"
        --pidfile "$DOCKER_DIR/docker.pid"
        --iptables=false --ip6tables=false --ip-masq=false --bridge=none
        --storage-driver=vfs
        --default-ulimit nofile=1024:1024
        --add-runtime "vessel=$RT"
        --config-file "$DOCKER_DIR/daemon.json"
    )
    [ -n "$RUNC" ] && args+=(--add-runtime "dropin-runc=$RUNC")
    if [ "${DROPIN_DOCKER_WORKAROUND:-0}" = 1 ]; then
        # Wrapper that drops `linux.resources.blockIO.weight: 0` (which dockerd
        # 20.10 always emits) from config.json before calling the runtime, to
        # exercise the rest of the docker path despite that runtime bug.
        local w="$DOCKER_DIR/vessel-blkio0-wrapper"
        cat >"$w" <<EOF
#!/bin/bash
bundle=""; prev=""
for a in "\$@"; do
    case "\$prev" in --bundle|-b) bundle="\$a" ;; esac
    case "\$a" in --bundle=*) bundle="\${a#--bundle=}" ;; esac
    prev="\$a"
done
if [ -n "\$bundle" ] && [ -f "\$bundle/config.json" ]; then
    python3 - "\$bundle/config.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
b = c.get("linux", {}).get("resources", {}).get("blockIO")
if b is not None and b.get("weight") == 0:
    del b["weight"]
    json.dump(c, open(p, "w"))
PY
fi
exec "$RT" "\$@"
EOF
        chmod +x "$w"
        args+=(--add-runtime "vessel-blkio0-workaround=$w")
    fi
    echo '{}' >"$DOCKER_DIR/daemon.json"
    # setsid: own process group, so a Ctrl-C of the script is handled by the trap
    setsid dockerd "${args[@]}" >"$LOGDIR/dockerd.log" 2>&1 </dev/null &
    DOCKERD_PID=$!
    if ! wait_for 300 0.1 "$DOCKER_CLI" -H "unix://$DOCKER_SOCK" version; then
        fail "docker: dockerd did not come up"
        tail -n 30 "$LOGDIR/dockerd.log" | sed 's/^/    | /'
        return 1
    fi
    if ! t 120 "$DOCKER_CLI" -H "unix://$DOCKER_SOCK" load -i "$WORK/image.tar"; then
        fail "docker: image load"
        echo "$OUT" | sed 's/^/    | /'
        return 1
    fi
}

docker_section() {
    local rtname="$1" label="$2"
    local D=("$DOCKER_CLI" -H "unix://$DOCKER_SOCK")
    local name="vessel-dropin-d$ID-$label"
    local R=(--runtime "$rtname" --network none)
    check "docker[$label] run --rm echo" hello-from-docker 60 \
        "${D[@]}" run --rm "${R[@]}" "$IMG" echo hello-from-docker
    check "docker[$label] exit code propagates" "" 60 \
        bash -c '"$@"; [ $? -eq 7 ]' _ "${D[@]}" run --rm "${R[@]}" "$IMG" sh -c 'exit 7'
    if check "docker[$label] run -d" "" 60 "${D[@]}" run -d "${R[@]}" --name "$name" "$IMG" sleep "$SLEEP_SECS"; then
        check "docker[$label] exec" dropin-exec-ok 60 "${D[@]}" exec "$name" echo dropin-exec-ok
        check_pty "docker[$label] exec -it (pty)" "${D[@]}" exec -it "$name"
        check "docker[$label] stop" "" 60 "${D[@]}" stop -t 1 "$name"
    fi
    check "docker[$label] rm" "" 60 "${D[@]}" rm -f "$name"
    check_pty "docker[$label] run -it (pty)" "${D[@]}" run -it --rm "${R[@]}" "$IMG"
}

# ---------------------------------------------------------------- containerd
start_containerd() {
    CTRD_DIR="$WORK/containerd"
    mkdir -p "$CTRD_DIR"
    CTRD_SOCK="$CTRD_DIR/c.sock"
    cat >"$CTRD_DIR/config.toml" <<EOF
version = 2
root = "$CTRD_DIR/root"
state = "$CTRD_DIR/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "$CTRD_SOCK"

[ttrpc]
  address = "$CTRD_SOCK.ttrpc"

[debug]
  address = "$CTRD_DIR/debug.sock"

[metrics]
  address = ""
EOF
    setsid containerd --config "$CTRD_DIR/config.toml" \
        --address "$CTRD_SOCK" --root "$CTRD_DIR/root" --state "$CTRD_DIR/state" \
        >"$LOGDIR/containerd.log" 2>&1 </dev/null &
    CTRD_PID=$!
    if ! wait_for 300 0.1 ctr -a "$CTRD_SOCK" version; then
        fail "containerd: daemon did not come up"
        tail -n 30 "$LOGDIR/containerd.log" | sed 's/^/    | /'
        return 1
    fi
    if ! t 120 ctr -a "$CTRD_SOCK" images import --all-platforms "$WORK/image.tar"; then
        fail "containerd: image import"
        echo "$OUT" | sed 's/^/    | /'
        return 1
    fi
}

containerd_section() {
    local rt="$1" label="$2"
    local C=(ctr -a "$CTRD_SOCK")
    local name="vessel-dropin-c$ID-$label"
    local R=(--runtime io.containerd.runc.v2 --runc-binary "$rt")
    check "containerd[$label] run --rm echo" hello-from-containerd 60 \
        "${C[@]}" run --rm "${R[@]}" "$IMG" "$name-1" echo hello-from-containerd
    check "containerd[$label] exit code propagates" "" 60 \
        bash -c '"$@"; [ $? -eq 7 ]' _ "${C[@]}" run --rm "${R[@]}" "$IMG" "$name-2" sh -c 'exit 7'
    if check "containerd[$label] run -d" "" 60 "${C[@]}" run -d "${R[@]}" "$IMG" "$name" sleep "$SLEEP_SECS"; then
        wait_for 100 0.1 bash -c '"$@" | grep -q RUNNING' _ "${C[@]}" task ls || true
        check "containerd[$label] task exec" dropin-exec-ok 60 "${C[@]}" task exec --exec-id e1 "$name" echo dropin-exec-ok
        check_pty "containerd[$label] task exec -t (pty)" "${C[@]}" task exec -t --exec-id e2 "$name"
        check "containerd[$label] task kill" "" 30 "${C[@]}" task kill -s KILL "$name"
        if ! wait_for 100 0.1 bash -c 'n="$1"; shift; "$@" | grep -E "^$n[[:space:]]" | grep -q STOPPED' _ "$name" "${C[@]}" task ls; then
            fail "containerd[$label] task did not reach STOPPED after kill"
            t 10 "${C[@]}" task ls || true; echo "$OUT" | sed 's/^/    | /'
        fi
        check "containerd[$label] task rm" "" 30 "${C[@]}" task rm "$name"
    fi
    check "containerd[$label] container rm" "" 30 "${C[@]}" container rm "$name"
    check_pty "containerd[$label] run -t (pty)" "${C[@]}" run --rm -t "${R[@]}" "$IMG" "$name-3"
}

# ---------------------------------------------------------------- main
want() { [ -z "$ONLY" ] || [ "$ONLY" = "$1" ]; }

log "runtime: $RT ($("$RT" --version 2>&1 | head -n1))"
log "workdir: $WORK"
ensure_containers_conf
build_image

RUNTIMES=("vessel:$RT")
[ "$COMPARE" = 1 ] && [ -n "$RUNC" ] && RUNTIMES+=("runc:$RUNC")

if want podman; then
    for spec in "${RUNTIMES[@]}"; do
        podman_section "${spec#*:}" "${spec%%:*}" || true
        check_no_leftovers "podman[${spec%%:*}]"
    done
fi
if want docker; then
    if start_dockerd; then
        docker_section vessel vessel || true
        check_no_leftovers "docker[vessel]"
        if [ "${DROPIN_DOCKER_WORKAROUND:-0}" = 1 ]; then
            docker_section vessel-blkio0-workaround vessel-blkio0-workaround || true
            check_no_leftovers "docker[vessel-blkio0-workaround]"
        fi
        [ "$COMPARE" = 1 ] && [ -n "$RUNC" ] && { docker_section dropin-runc runc || true; check_no_leftovers "docker[runc]"; }
    fi
fi
if want containerd; then
    if start_containerd; then
        for spec in "${RUNTIMES[@]}"; do
            containerd_section "${spec#*:}" "${spec%%:*}" || true
            check_no_leftovers "containerd[${spec%%:*}]"
        done
    fi
fi

echo
echo "==== summary ($(( $(date +%s) - START_TS ))s) ===="
printf '%s\n' "${RESULTS[@]}"
if [ "$FAILED" != 0 ]; then
    echo "RESULT: FAIL"
    [ -d "$LOGDIR" ] && cp -r "$LOGDIR" "/tmp/vessel-dropin-logs-$ID" 2>/dev/null \
        && echo "daemon logs kept in /tmp/vessel-dropin-logs-$ID"
    exit 1
fi
echo "RESULT: PASS"
