# shellcheck shell=bash
# lib.sh - shared helpers for the pcapscan capture lab.
#
# Sourced (never executed) by every scenario script, right after
# `set -euo pipefail`. It gives each script the same safety net:
#
#   lab_init SCENARIO NAME       root check, temp dir, cleanup trap, removal of
#                                namespaces left over by a crashed earlier run;
#                                $LOG = this run's log (published as logs/NAME.log)
#   lab_done                     publish the run log (end of a successful run)
#   lab_require CMD:PACKAGE ...  fail early, naming the Debian package to install
#   ns_new SHORT                 namespace pslab-<scenario>-SHORT, IPv6 disabled
#   veth NS1 IF1 MAC1 NS2 IF2 MAC2   veth pair created directly in two namespaces
#   nsx SHORT CMD...             run CMD inside namespace pslab-<scenario>-SHORT
#   bg_start ID SHORT CMD...     background process in a namespace (stopped at exit)
#   bg_wait ID [SECONDS]         wait (bounded) for a background process to finish
#   capture_start ID SHORT IFACE FORMAT [SNAPLEN] [FILTER...]
#   capture_stop ID              SIGINT, wait: file flushed and closed
#   capture_publish ID NAME      move the finished capture to captures/NAME
#   capture_check FILE           tshark/capinfos must read it cleanly, < 1 MB
#
# Everything the lab creates lives in network namespaces named pslab-*; the
# root namespace (host interfaces, routes, firewall) is never modified. The
# only global state a script may touch goes through sysctl_global_set, which
# records the old value so the EXIT trap puts it back.

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_CAPTURES_DIR=$(cd "$LAB_DIR/.." && pwd)
LAB_LOG_DIR="$LAB_DIR/logs"
LAB_TOOL="$LAB_DIR/labtool.py"

LAB_SCENARIO=""            # short scenario tag, e.g. s1 (namespace prefix pslab-s1-)
LAB_NAME=""                # script name without .sh, e.g. 01-bridge-flood-reject
LAB_TMP=""                 # private temp dir for captures in progress
LOG=/dev/null              # this run's log, in $LAB_TMP until published
declare -a _LAB_NETNS=()          # namespaces we created (deleted at exit)
declare -A _LAB_BG_PIDS=()        # id -> pid of background helpers
declare -A _LAB_CAP_PIDS=()       # id -> pid of tcpdump/dumpcap
declare -A _LAB_CAP_FILES=()      # id -> capture file in $LAB_TMP
declare -A _LAB_CAP_ERR=()        # id -> stderr log of the capture tool
declare -a _LAB_SYSCTL_RESTORE=() # "key=value" pairs to restore at exit

# Progress messages go to the script's original stderr (fd 9), even from
# inside blocks whose stderr is redirected to the log.
exec 9>&2
log() { printf '[%s %(%H:%M:%S)T] %s\n' "${LAB_SCENARIO:-lab}" -1 "$*" >&9; }
die() { log "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------------------
# Tool checks: every script names the tools it needs and the Debian package
# that provides each one, so a missing tool gives an actionable message
# instead of a failure halfway through the scenario.
# ---------------------------------------------------------------------------
lab_require() {
    local spec cmd pkg missing=()
    for spec in "$@"; do
        cmd=${spec%%:*}
        pkg=${spec#*:}
        if ! command -v "$cmd" >/dev/null 2>&1; then
            missing+=("$cmd (Debian package: $pkg)")
        fi
    done
    if ((${#missing[@]})); then
        log "missing tools:"
        local m
        for m in "${missing[@]}"; do log "  - $m"; done
        die "install them with: apt-get install -y <package>"
    fi
}

# iputils arping and Thomas Habets' arping share a name but not their options;
# the ARP scenario relies on the iputils flags (-U, -A, -D, -b, -s).
lab_require_iputils_arping() {
    lab_require arping:iputils-arping
    if ! arping -V 2>&1 | grep -qi iputils; then
        die "arping is not the iputils one (needs -U/-A/-D/-b): apt-get install -y iputils-arping"
    fi
}

# ---------------------------------------------------------------------------
# Init and cleanup
# ---------------------------------------------------------------------------
lab_init() {
    LAB_SCENARIO=$1
    LAB_NAME=$2
    [[ $(id -u) -eq 0 ]] || die "must run as root (network namespaces, raw sockets, captures)"
    # Tools every scenario uses. python3 must be the interpreter: helpers use
    # only its standard library (no scapy).
    lab_require ip:iproute2 bridge:iproute2 sysctl:procps timeout:coreutils \
        python3:python3 tshark:tshark capinfos:wireshark-common
    [[ -r $LAB_TOOL ]] || die "helper $LAB_TOOL not found"
    env --default-signal=INT true 2>/dev/null ||
        die "env --default-signal is needed (coreutils >= 8.31)"
    trap _lab_cleanup EXIT
    # Turn signals into a normal exit so the EXIT trap always runs.
    trap 'log "interrupted"; exit 130' INT TERM HUP
    LAB_TMP=$(mktemp -d "/tmp/pslab-${LAB_SCENARIO}.XXXXXX")
    mkdir -p "$LAB_LOG_DIR"
    LOG="$LAB_TMP/run.log"
    : >"$LOG"
    # A previous run killed with SIGKILL cannot have cleaned up: remove its
    # namespaces (same prefix = same scenario, nobody else uses it).
    local ns
    for ns in $(ip netns list | awk '{print $1}' | grep "^pslab-${LAB_SCENARIO}-" || true); do
        log "removing stale namespace $ns from an earlier run"
        _lab_kill_ns_procs "$ns"
        ip netns del "$ns" || true
    done
}

# Kill, by pid, processes still running inside one of OUR namespaces
# (only ever processes this lab started there).
_lab_kill_ns_procs() {
    local ns=$1 pids
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    [[ -n $pids ]] || return 0
    # shellcheck disable=SC2086
    kill -TERM $pids 2>/dev/null || true
    sleep 0.3
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    # shellcheck disable=SC2086
    [[ -z $pids ]] || kill -KILL $pids 2>/dev/null || true
}

# Wait up to $2 seconds (default 5) for pid $1 to exit.
_lab_wait_pid() {
    local pid=$1 limit=${2:-5} i
    for ((i = 0; i < limit * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
        sleep 0.1
    done
    return 1
}

_lab_cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP
    set +e
    # 1. Captures first, gently: SIGINT makes tcpdump/dumpcap flush and close
    #    the file; only if that fails (5 s) escalate.
    local id pid
    for id in "${!_LAB_CAP_PIDS[@]}"; do
        pid=${_LAB_CAP_PIDS[$id]}
        kill -INT "$pid" 2>/dev/null
    done
    for id in "${!_LAB_CAP_PIDS[@]}"; do
        pid=${_LAB_CAP_PIDS[$id]}
        _lab_wait_pid "$pid" 5 || { kill -TERM "$pid" 2>/dev/null; _lab_wait_pid "$pid" 2 || kill -KILL "$pid" 2>/dev/null; }
    done
    # 2. Background helpers (servers, floods, pings) we started.
    for id in "${!_LAB_BG_PIDS[@]}"; do
        pid=${_LAB_BG_PIDS[$id]}
        kill -TERM "$pid" 2>/dev/null
        _lab_wait_pid "$pid" 3 || kill -KILL "$pid" 2>/dev/null
    done
    # 3. Namespaces: deleting one removes its veths, bridges, routes, neighbour
    #    entries and firewall rules with it.
    local ns
    for ns in "${_LAB_NETNS[@]}"; do
        _lab_kill_ns_procs "$ns"
        ip netns del "$ns" 2>/dev/null
    done
    # 4. Global sysctls, if any were changed (none by default).
    local kv
    for kv in "${_LAB_SYSCTL_RESTORE[@]}"; do
        sysctl -qw "$kv" >/dev/null 2>&1 || log "WARNING: could not restore $kv"
    done
    # A failed run keeps its log aside; the published log keeps matching the
    # published captures.
    if ((rc != 0)) && [[ -s $LOG ]]; then
        cp "$LOG" "$LAB_LOG_DIR/$LAB_NAME.failed.log" &&
            log "log of the failed run: $LAB_LOG_DIR/$LAB_NAME.failed.log"
    fi
    [[ -n $LAB_TMP && -d $LAB_TMP ]] && rm -rf "$LAB_TMP"
    local left
    left=$(ip netns list | awk '{print $1}' | grep "^pslab-${LAB_SCENARIO}-" || true)
    [[ -z $left ]] || log "WARNING: namespaces still present: $left"
    if ((rc == 0)); then log "done, cleaned up"; else log "failed (exit $rc), cleaned up"; fi
    exit "$rc"
}

# lab_done: the run succeeded and its captures are published: publish its log
# too (logs/NAME.log, overwritten each run).
lab_done() {
    install -m 0644 "$LOG" "$LAB_LOG_DIR/$LAB_NAME.log"
    rm -f "$LAB_LOG_DIR/$LAB_NAME.failed.log"
}

# Change a GLOBAL (root namespace) sysctl and restore it at exit. The lab does
# not need any today (bridge and TCP sysctls are per-namespace on this kernel)
# but keep the one safe way to do it.
sysctl_global_set() {
    local key=$1 val=$2 old
    old=$(sysctl -n "$key")
    _LAB_SYSCTL_RESTORE+=("$key=$old")
    sysctl -qw "$key=$val"
}

# ---------------------------------------------------------------------------
# Namespaces and links
# ---------------------------------------------------------------------------
ns_name() { printf 'pslab-%s-%s' "$LAB_SCENARIO" "$1"; }

# nsx SHORT CMD... : run a command inside one of this scenario's namespaces.
nsx() {
    local ns
    ns=$(ns_name "$1")
    shift
    ip netns exec "$ns" "$@"
}

ns_new() {
    local ns
    ns=$(ns_name "$1")
    ip netns add "$ns"
    _LAB_NETNS+=("$ns")
    ip -n "$ns" link set lo up
    # No IPv6 at all: no router/neighbour solicitations, no MLD reports. The
    # captures must contain only the traffic the scenario generates (in the
    # bridge scenario the server must stay completely silent).
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
        net.ipv6.conf.default.disable_ipv6=1
}

# veth NS1 IF1 MAC1 NS2 IF2 MAC2 : the pair is created directly inside the two
# namespaces (never in the root namespace), with fixed MACs so the captures
# are reproducible.
veth() {
    local n1 n2
    n1=$(ns_name "$1")
    n2=$(ns_name "$4")
    ip link add name "$2" address "$3" netns "$n1" type veth \
        peer name "$5" address "$6" netns "$n2"
    # belt and braces: IPv6 off on the new interfaces too
    ip netns exec "$n1" sysctl -qw "net.ipv6.conf.$2.disable_ipv6=1"
    ip netns exec "$n2" sysctl -qw "net.ipv6.conf.$5.disable_ipv6=1"
}

# ---------------------------------------------------------------------------
# Background processes (bounded by their own timeouts; killed at exit anyway)
# ---------------------------------------------------------------------------
# (`ip netns exec` is called directly, not through nsx: a backgrounded shell
# function would run in a subshell and $! would be that subshell's pid.)
bg_start() {
    local id=$1 ns
    ns=$(ns_name "$2")
    shift 2
    ip netns exec "$ns" "$@" &
    _LAB_BG_PIDS[$id]=$!
}

# bg_wait ID [SECONDS]: wait for a helper to finish on its own; fails the
# scenario if it is still running after SECONDS (default 60).
bg_wait() {
    local id=$1 limit=${2:-60} pid rc=0 i
    pid=${_LAB_BG_PIDS[$id]}
    for ((i = 0; i < limit * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && die "background job $id still running after ${limit}s"
    wait "$pid" || rc=$?
    unset "_LAB_BG_PIDS[$id]"
    ((rc == 0)) || die "background job $id failed (exit $rc)"
}

# bg_stop ID: stop a helper that is not needed any more (SIGTERM, bounded wait).
bg_stop() {
    local id=$1 pid
    pid=${_LAB_BG_PIDS[$id]:-}
    [[ -n $pid ]] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    _lab_wait_pid "$pid" 3 || kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    unset "_LAB_BG_PIDS[$id]"
}

# ns_del_all: delete this scenario's namespaces now (used between variants).
ns_del_all() {
    local id ns
    for id in "${!_LAB_BG_PIDS[@]}"; do bg_stop "$id"; done
    for ns in "${_LAB_NETNS[@]}"; do
        _lab_kill_ns_procs "$ns"
        ip netns del "$ns"
    done
    _LAB_NETNS=()
}

# ---------------------------------------------------------------------------
# Captures
#   FORMAT: pcap      tcpdump, classic pcap, microsecond timestamps
#           pcap-ns   tcpdump --time-stamp-precision=nano, nanosecond pcap
#           pcapng    dumpcap, pcapng
# The file is written to a private temp dir and only moved into captures/ by
# capture_publish once it is complete, so a failed run never leaves a
# truncated capture behind.
# ---------------------------------------------------------------------------
capture_start() {
    local id=$1 short=$2 iface=$3 fmt=$4 snaplen=${5:-262144}
    shift 4
    (($# == 0)) || shift
    local filter=("$@") file="$LAB_TMP/$id.cap" err="$LAB_TMP/$id.err" pid i ns
    ns=$(ns_name "$short")
    : >"$err"
    # Background jobs of a non-interactive shell start with SIGINT ignored,
    # and dumpcap keeps an ignored SIGINT ignored: `env --default-signal=INT`
    # restores it so capture_stop can stop the tool the clean way.
    case $fmt in
    pcap | pcap-ns)
        local prec=()
        [[ $fmt == pcap-ns ]] && prec=(--time-stamp-precision=nano)
        # -U: write each packet as it arrives; --immediate-mode: no ring-buffer
        # batching, so stopping does not lose the last packets; -Z root: do not
        # drop privileges (output is in a root-only temp dir). No -p: the
        # interface goes promiscuous, so frames for other MACs are captured
        # too (needed on bridge devices and on the "other VM" port).
        ip netns exec "$ns" env --default-signal=INT tcpdump -i "$iface" -n -U --immediate-mode -Z root \
            -s "$snaplen" "${prec[@]}" -w "$file" "${filter[@]}" 2>"$err" &
        ;;
    pcapng)
        # dumpcap writes pcapng by default; -q: no packet count chatter.
        local fopt=()
        ((${#filter[@]} == 0)) || fopt=(-f "${filter[*]}")
        ip netns exec "$ns" env --default-signal=INT dumpcap -i "$iface" -q -s "$snaplen" -w "$file" \
            "${fopt[@]}" 2>"$err" &
        ;;
    *) die "unknown capture format $fmt" ;;
    esac
    pid=$!
    _LAB_CAP_PIDS[$id]=$pid
    _LAB_CAP_FILES[$id]=$file
    _LAB_CAP_ERR[$id]=$err
    # Wait until the capture is really running before generating traffic.
    for ((i = 0; i < 100; i++)); do
        if grep -qE 'listening on|Capturing on' "$err"; then
            sleep 0.5
            log "capture $id running on $(ns_name "$short"):$iface ($fmt, snaplen $snaplen)"
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || { cat "$err" >&2; die "capture $id failed to start"; }
        sleep 0.1
    done
    cat "$err" >&2
    die "capture $id did not start within 10 s"
}

capture_stop() {
    local id=$1 pid err
    pid=${_LAB_CAP_PIDS[$id]}
    err=${_LAB_CAP_ERR[$id]}
    # Let the last packets of the scenario reach the capture before stopping.
    sleep 1
    kill -INT "$pid" 2>/dev/null || true
    if ! _lab_wait_pid "$pid" 10; then
        die "capture $id did not stop on SIGINT"
    fi
    unset "_LAB_CAP_PIDS[$id]"
    local summary
    summary=$(grep -E 'captured|received|dropped' "$err" | tr '\n' ' ' || true)
    log "capture $id stopped: $summary"
    # tcpdump: "N packets dropped by kernel"; dumpcap: "... 'eth0': 12/0 (...)"
    if grep -qE '^[1-9][0-9]* packets? dropped by kernel' "$err" ||
        grep -qE "dropped on interface '[^']*': [0-9]+/[1-9]" "$err"; then
        die "capture $id lost packets in the kernel: $summary"
    fi
}

capture_file() { printf '%s' "${_LAB_CAP_FILES[$1]}"; }

# capture_publish ID NAME : move the finished capture to captures/NAME
# (overwriting the previous run's file: scripts are idempotent).
capture_publish() {
    local id=$1 name=$2 src dst
    src=${_LAB_CAP_FILES[$id]}
    dst="$LAB_CAPTURES_DIR/$name"
    [[ -s $src ]] || die "capture $id is empty"
    capture_check "$src"
    install -m 0644 "$src" "$dst.tmp"
    mv -f "$dst.tmp" "$dst"
    log "wrote $dst ($(stat -c %s "$dst") bytes, $(tshark -r "$dst" 2>/dev/null | wc -l) frames)"
}

# capture_check FILE : tshark must read the whole file without complaint
# (its "running as root" warning aside), and it must stay under 1 MB.
capture_check() {
    local f=$1 out size
    size=$(stat -c %s "$f")
    ((size < 1048576)) || die "$f is $size bytes (limit 1 MB)"
    out=$(tshark -r "$f" -q 2>&1) || die "tshark cannot read $f: $out"
    out=$(grep -v 'Running as user "root"' <<<"$out" || true)
    [[ -z $out ]] || die "tshark complains about $f: $out"
    capinfos -t -i -c -u "$f" | sed 's/^/    /' >&2
}

# tshark without its "running as root" warning.
tsk() { tshark "$@" 2>/dev/null; }

# ---------------------------------------------------------------------------
# Small utilities
# ---------------------------------------------------------------------------
# wait_until SECONDS CMD... : poll CMD every 0.2 s until it succeeds (bounded).
wait_until() {
    local limit=$1 i
    shift
    for ((i = 0; i < limit * 5; i++)); do
        "$@" && return 0
        sleep 0.2
    done
    return 1
}

# Run the python helper (standard library only) inside a namespace.
labtool() {
    local short=$1
    shift
    nsx "$short" python3 "$LAB_TOOL" "$@"
}
