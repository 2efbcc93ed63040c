#!/usr/bin/env bash
# Container start / exec latency: vessel-runtime vs crun vs runc, interleaved.
#
#   sudo benches/runtime-start.sh [run|exec|all]      (default: all)
#
# Environment:
#   N=50          timed iterations per runtime (per mode)
#   WARMUP=3      untimed warm-up iterations per runtime (per mode)
#   VESSEL=...    vessel-runtime binary (default: <repo>/target/release/vessel-runtime)
#   BUSYBOX=...   static busybox for the rootfs (default: /bin/busybox, Debian busybox-static)
#   TIMEOUT=30    seconds before a single invocation is considered hung and killed
#   KEEP=1        keep the scratch bundle directory (printed at the end)
#
# Runs as root, reads no stdin, always exits 0 (problems are reported as notes).
# See benches/README.md for what is measured and the caveats.
set -u

MODE="${1:-${MODE:-all}}"
case "$MODE" in run|exec|all) ;; *) echo "usage: $0 [run|exec|all]" >&2; exit 0 ;; esac

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
N="${N:-50}"
WARMUP="${WARMUP:-3}"
TIMEOUT="${TIMEOUT:-30}"
VESSEL="${VESSEL:-$REPO/target/release/vessel-runtime}"
BUSYBOX="${BUSYBOX:-/bin/busybox}"

note() { echo "note: $*"; }

if [ "$(id -u)" != 0 ]; then
    note "must run as root (containers are created for real); nothing measured"
    exit 0
fi
if ! command -v python3 >/dev/null; then
    note "python3 is required for the timing driver; nothing measured"
    exit 0
fi
if [ ! -x "$BUSYBOX" ]; then
    note "$BUSYBOX not found (apt-get install busybox-static); nothing measured"
    exit 0
fi

WORK="$(mktemp -d /tmp/vessel-bench.XXXXXX)"
STATE_PREFIX="/run/vessel-bench-$$"
cleanup() {
    # The driver deletes its containers itself; this is the safety net.
    for d in "$STATE_PREFIX"-*; do
        [ -d "$d" ] || continue
        rmdir "$d" 2>/dev/null || note "state dir $d not empty after the run (left in place)"
    done
    if [ -n "${KEEP:-}" ]; then note "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 0' INT TERM

# ---- rootfs: static busybox + applet symlinks ---------------------------------
mkdir -p "$WORK/bundle/rootfs/bin" "$WORK/bundle/rootfs/proc" "$WORK/bundle/rootfs/dev" \
         "$WORK/bundle/rootfs/sys" "$WORK/bundle/rootfs/tmp"
cp "$BUSYBOX" "$WORK/bundle/rootfs/bin/busybox"
for applet in true sh sleep; do
    ln -s busybox "$WORK/bundle/rootfs/bin/$applet"
done
if ! chroot "$WORK/bundle/rootfs" /bin/true; then
    note "rootfs sanity check (chroot ... /bin/true) failed: is $BUSYBOX static?; nothing measured"
    exit 0
fi

# ---- runtimes --------------------------------------------------------------------
RUNTIMES=()           # "name|command prefix (shell words)"
if [ -x "$VESSEL" ]; then
    RUNTIMES+=("vessel|$VESSEL")
else
    note "vessel-runtime not found at $VESSEL (cargo build --release -p vessel-runtime); skipped"
fi
CRUN_WRAPPED=0
if command -v crun >/dev/null; then
    if mountpoint -q /sys/fs/cgroup/unified 2>/dev/null; then
        # cgroup v1 hybrid host: crun misdetects the cgroup mode when the v2 "unified"
        # mount is present, so run it in a private mount namespace without that mount.
        RUNTIMES+=("crun|unshare -m sh -c 'umount /sys/fs/cgroup/unified; exec crun \"\$@\"' crun")
        CRUN_WRAPPED=1
    else
        RUNTIMES+=("crun|crun")
    fi
else
    note "crun not installed; skipped"
fi
if command -v runc >/dev/null; then
    RUNTIMES+=("runc|runc")
else
    note "runc not installed; skipped"
fi
if [ "${#RUNTIMES[@]}" -eq 0 ]; then
    note "no runtime available; nothing measured"
    exit 0
fi

# ---- config.json: runc spec defaults, terminal=false, args=[true] ------------------
if command -v runc >/dev/null; then
    (cd "$WORK/bundle" && runc spec) || { note "runc spec failed; nothing measured"; exit 0; }
elif [ -x "$VESSEL" ]; then
    note "runc missing: using 'vessel-runtime spec' for the default config instead"
    (cd "$WORK/bundle" && "$VESSEL" spec) || { note "vessel-runtime spec failed; nothing measured"; exit 0; }
else
    note "need runc (or vessel-runtime) to write the default config; nothing measured"
    exit 0
fi
mkdir -p "$WORK/sleeper"
ln -s ../bundle/rootfs "$WORK/sleeper/rootfs"
python3 - "$WORK" <<'PY' || { note "could not edit config.json; nothing measured"; exit 0; }
import json, os, sys
work = sys.argv[1]
path = os.path.join(work, "bundle", "config.json")
cfg = json.load(open(path))
cfg["process"]["terminal"] = False
cfg["process"]["args"] = ["true"]
json.dump(cfg, open(path, "w"), indent=2)
cfg["process"]["args"] = ["sleep", "1000"]
cfg["root"]["path"] = os.path.join(work, "bundle", "rootfs")  # absolute: same rootfs
json.dump(cfg, open(os.path.join(work, "sleeper", "config.json"), "w"), indent=2)
PY

# ---- driver -------------------------------------------------------------------------
cat >"$WORK/driver.py" <<'PY'
"""Interleaved latency driver. argv: work state_prefix mode n warmup timeout wrapped rt..."""
import os, shlex, signal, statistics, subprocess, sys, tempfile, time

work, state_prefix, mode = sys.argv[1], sys.argv[2], sys.argv[3]
N, WARMUP, TIMEOUT, WRAPPED = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), sys.argv[7] == "1"
runtimes = []
for spec in sys.argv[8:]:
    name, cmd = spec.split("|", 1)
    runtimes.append((name, shlex.split(cmd), f"{state_prefix}-{name}"))
BUNDLE = os.path.join(work, "bundle")
SLEEPER = os.path.join(work, "sleeper")
TAG = f"vb{os.getpid()}"
errfile = tempfile.TemporaryFile(dir=work)


class Hung(Exception):
    pass


def _alarm(signum, frame):
    raise Hung()


signal.signal(signal.SIGALRM, _alarm)


def invoke(argv):
    """Run argv with no stdin/stdout; return (ns, exit code, stderr)."""
    errfile.seek(0)
    errfile.truncate()
    t0 = time.perf_counter_ns()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=errfile, close_fds=True)
    signal.alarm(TIMEOUT)
    try:
        _, status = os.waitpid(p.pid, 0)
        signal.alarm(0)
    except Hung:
        p.kill()
        os.waitpid(p.pid, 0)
        p.returncode = -9
        return None, -9, f"timed out after {TIMEOUT}s: {shlex.join(argv)}"
    t1 = time.perf_counter_ns()
    p.returncode = os.waitstatus_to_exitcode(status)
    err = ""
    if p.returncode != 0:
        errfile.seek(0)
        err = errfile.read().decode(errors="replace").strip()
    return t1 - t0, p.returncode, err


RSS_RUNS = 5
TIME_BIN = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None


def peak_rss(argv):
    """Peak RSS (KiB) via GNU time -f %M, in a separate untimed invocation.

    Not measured from this Python process: its forked (vfork) child would report
    Python's own RSS as the high-water mark.  %M is the largest process of the tree
    the command waited for (e.g. runc's `runc init` child counts)."""
    if not TIME_BIN:
        return None
    out = tempfile.TemporaryFile(dir=work)
    r = subprocess.run([TIME_BIN, "-f", "RSS=%M", "-o", "/dev/stderr", "--"] + argv,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=out, timeout=TIMEOUT)
    out.seek(0)
    lines = [l for l in out.read().decode(errors="replace").splitlines() if l.startswith("RSS=")]
    if r.returncode != 0 or not lines:
        return None
    return int(lines[-1][4:])


def quiet(argv):
    subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=TIMEOUT)


def rt(cmd, root, *args):
    return cmd + ["--root", root] + list(args)


def summarize(title, names, samples, rss, failures, extra_rows=()):
    print()
    print(title)
    hdr = f"{'runtime':<10} {'ok':>5} {'fail':>5} {'median ms':>10} {'mean ms':>10} {'min ms':>9} {'p90 ms':>9} {'stdev ms':>9} {'peak RSS KiB':>13}"
    print(hdr)
    print("-" * len(hdr))
    med = {}
    for name in list(names) + [r for r in extra_rows]:
        xs = sorted(samples.get(name, []))
        nfail = len(failures.get(name, []))
        if not xs:
            print(f"{name:<10} {0:>5} {nfail:>5} {'-':>10} {'-':>10} {'-':>9} {'-':>9} {'-':>9} {'-':>13}")
            continue
        ms = [x / 1e6 for x in xs]
        med[name] = statistics.median(ms)
        p90 = ms[min(len(ms) - 1, int(round(0.9 * (len(ms) - 1))))]
        sd = statistics.stdev(ms) if len(ms) > 1 else 0.0
        r = rss.get(name)
        rs = str(int(statistics.median(r))) if r else "-"
        print(f"{name:<10} {len(ms):>5} {nfail:>5} {med[name]:>10.2f} {statistics.mean(ms):>10.2f} "
              f"{ms[0]:>9.2f} {p90:>9.2f} {sd:>9.2f} {rs:>13}")
    for name in names:
        fl = failures.get(name, [])
        if fl:
            rc, err = fl[0]
            print(f"  {name}: {len(fl)} failed invocation(s); first (exit {rc}): {err or '(no stderr)'}")

    def ratio(a, b):
        return f"{med[a] / med[b]:.2f}" if a in med and b in med and med[b] > 0 else "n/a"

    return med, ratio


def cleanup_cgroups(prefix):
    """Report (and rmdir) cgroup directories a runtime left behind for our ids."""
    left = []
    for base in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
        if not os.path.isdir(base):
            continue
        for ctl in [base] + [os.path.join(base, c) for c in os.listdir(base)]:
            if not os.path.isdir(ctl) or os.path.islink(ctl):
                continue
            try:
                entries = os.listdir(ctl)
            except OSError:
                continue
            for e in entries:
                if e.startswith(prefix):
                    p = os.path.join(ctl, e)
                    try:
                        os.rmdir(p)
                    except OSError:
                        pass
                    left.append(p)
    return sorted(set(left))


# ------------------------------------------------------------------ run mode
def bench_run():
    names = [n for n, _, _ in runtimes]
    samples = {n: [] for n in names}
    rss = {n: [] for n in names}
    failures = {}
    control = []
    control_cmd = None
    if WRAPPED:
        # Cost of the crun wrapper alone (unshare + sh + umount + exec), same shape.
        control_cmd = ["unshare", "-m", "sh", "-c", 'umount /sys/fs/cgroup/unified; exec "$@"',
                       "sh", "/bin/true"]
    seq = 0
    for it in range(WARMUP + N):
        timed = it >= WARMUP
        for name, cmd, root in runtimes:
            seq += 1
            cid = f"{TAG}-run-{name}-{seq}"
            ns, rc, err = invoke(rt(cmd, root, "run", "--bundle", BUNDLE, cid))
            quiet(rt(cmd, root, "delete", "--force", cid))  # best effort; not timed
            if rc != 0:
                failures.setdefault(name, []).append((rc, err))
            elif timed:
                samples[name].append(ns)
        if control_cmd:
            ns, rc, err = invoke(control_cmd)
            if rc == 0 and timed:
                control.append(ns)
    for it in range(RSS_RUNS):  # untimed peak-RSS pass, also interleaved
        for name, cmd, root in runtimes:
            seq += 1
            cid = f"{TAG}-run-{name}-{seq}"
            kib = peak_rss(rt(cmd, root, "run", "--bundle", BUNDLE, cid))
            quiet(rt(cmd, root, "delete", "--force", cid))
            if kib:
                rss[name].append(kib)
    extra = ()
    if control:
        samples["(wrapper)"] = control
        extra = ("(wrapper)",)
    med, ratio = summarize(
        f"== run: `RUNTIME run` of busybox `true` (runc spec defaults), N={N}, warm-up={WARMUP}, interleaved ==",
        names, samples, rss, failures, extra)
    if control and "crun" in med:
        adj = med["crun"] - med["(wrapper)"]
        if "vessel" in med and adj > 0:
            print(f"  (wrapper) = unshare -m sh -c 'umount ...; exec true': the crun wrapper alone. "
                  f"crun minus wrapper ~ {adj:.2f} ms -> vessel/crun(adjusted) ~ {med['vessel'] / adj:.2f}")
    print(f"ratio vessel/crun median: {ratio('vessel', 'crun')}  vessel/runc median: {ratio('vessel', 'runc')}")


# ------------------------------------------------------------------ exec mode
def bench_exec():
    names = []
    sleepers = {}
    failures = {}
    for name, cmd, root in runtimes:
        cid = f"{TAG}-exec-{name}"
        ns, rc, err = invoke(rt(cmd, root, "create", "--bundle", SLEEPER, cid))
        if rc == 0:
            ns, rc, err = invoke(rt(cmd, root, "start", cid))
        if rc != 0:
            print(f"note: {name}: could not create/start the sleeper container (exit {rc}): {err}")
            quiet(rt(cmd, root, "delete", "--force", cid))
            continue
        names.append(name)
        sleepers[name] = (cmd, root, cid)
    try:
        samples = {n: [] for n in names}
        rss = {n: [] for n in names}
        for it in range(WARMUP + N):
            for name in names:
                cmd, root, cid = sleepers[name]
                ns, rc, err = invoke(rt(cmd, root, "exec", cid, "true"))
                if rc != 0:
                    failures.setdefault(name, []).append((rc, err))
                elif it >= WARMUP:
                    samples[name].append(ns)
        for it in range(RSS_RUNS):
            for name in names:
                cmd, root, cid = sleepers[name]
                kib = peak_rss(rt(cmd, root, "exec", cid, "true"))
                if kib:
                    rss[name].append(kib)
    finally:
        for name, (cmd, root, cid) in sleepers.items():
            quiet(rt(cmd, root, "kill", cid, "KILL"))
            for _ in range(50):
                r = subprocess.run(rt(cmd, root, "delete", "--force", cid), stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=TIMEOUT)
                st = subprocess.run(rt(cmd, root, "state", cid), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=TIMEOUT)
                if st.returncode != 0:
                    break
                time.sleep(0.1)
            else:
                print(f"note: {name}: sleeper {cid} could not be deleted")
    if not names:
        return
    med, ratio = summarize(
        f"== exec: `RUNTIME exec ID true` into a running `sleep 1000`, N={N}, warm-up={WARMUP}, interleaved ==",
        names, samples, rss, failures)
    print(f"ratio vessel/crun median: {ratio('vessel', 'crun')}  vessel/runc median: {ratio('vessel', 'runc')}")


try:
    print(f"runtimes: " + ", ".join(f"{n} ({shlex.join(c)})" for n, c, _ in runtimes))
    print(f"host: {os.cpu_count()} CPUs, kernel {os.uname().release}; times are wall clock "
          f"(perf_counter_ns around fork+exec+wait); "
          f"peak RSS = median of {RSS_RUNS} extra untimed runs under /usr/bin/time -f %M "
          f"(largest process of the tree the runtime waited for)" if TIME_BIN else "; peak RSS: /usr/bin/time missing, skipped")
    if mode in ("run", "all"):
        bench_run()
    if mode in ("exec", "all"):
        bench_exec()
finally:
    left = cleanup_cgroups(TAG)
    if left:
        print(f"note: {len(left)} cgroup dir(s) were left behind by the runtimes (rmdir attempted), e.g. {left[0]}")
PY

# Record the versions being compared.
for entry in "${RUNTIMES[@]}"; do
    name="${entry%%|*}"
    case "$name" in
        vessel) v="$("$VESSEL" --version 2>&1 | head -1)" ;;
        crun)   v="$(crun --version 2>&1 | head -1)" ;;
        runc)   v="$(runc --version 2>&1 | head -1)" ;;
    esac
    echo "version: $name: $v"
done
[ "$CRUN_WRAPPED" = 1 ] && note "crun runs via: unshare -m sh -c 'umount /sys/fs/cgroup/unified; exec crun \"\$@\"' (cgroup v1 hybrid host); its row includes that wrapper"

echo "loadavg before: $(cat /proc/loadavg 2>/dev/null)  (other load on a small VM skews everything)"
for entry in "${RUNTIMES[@]}"; do mkdir -p "$STATE_PREFIX-${entry%%|*}"; done
python3 "$WORK/driver.py" "$WORK" "$STATE_PREFIX" "$MODE" "$N" "$WARMUP" "$TIMEOUT" "$CRUN_WRAPPED" \
    "${RUNTIMES[@]}" </dev/null || note "driver exited with status $?"
echo "loadavg after:  $(cat /proc/loadavg 2>/dev/null)"
exit 0
