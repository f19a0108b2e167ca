#!/usr/bin/env bash
# Measures `cabridge bench-server` with the EPICS C client library (libca),
# like the softIoc reference numbers of issue 3: builds bench/libcaload into
# bin/libcaload, starts bin/cabridge bench-server on 127.0.0.1 with free
# non-default ports, runs the load client against it and stops the server.
#
# Usage: scripts/libcaload.sh [libcaload options]   (e.g. -n 1000,10000 -w 5 -j)
# Environment: CABRIDGE (server binary, default bin/cabridge), LIBCA (the
# libca shared object, default the newest /usr/lib/*/libca.so*), CC (gcc).
# Exits 0 with a message, without measuring, when libca or a C compiler is
# missing.
set -euo pipefail
cd "$(dirname "$0")/.."

server=${CABRIDGE:-bin/cabridge}
cc=${CC:-gcc}
src=bench/libcaload/libcaload.c
out=bin/libcaload

if ! command -v "$cc" >/dev/null 2>&1; then
	echo "libcaload: no C compiler ($cc): skipping the libca measurement"
	exit 0
fi
libca=${LIBCA:-}
if [ -z "$libca" ]; then
	for f in /usr/lib/x86_64-linux-gnu/libca.so* /usr/lib/*/libca.so* /usr/lib/libca.so* /usr/local/lib/libca.so*; do
		[ -e "$f" ] && libca=$f
	done
fi
if [ -z "$libca" ] || [ ! -e "$libca" ]; then
	echo "libcaload: libca not found (install python3-pyepics, or set LIBCA=/path/to/libca.so.X): skipping the libca measurement"
	exit 0
fi
if [ ! -x "$server" ]; then
	echo "libcaload: $server not found; run 'make build' first" >&2
	exit 1
fi

mkdir -p bin
"$cc" -O2 -Wall -o "$out" "$src" "$libca" -lpthread

# The largest PV count asked for with -n or as an argument (default 100000).
n=0
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
	a=${args[i]}
	case $a in
	-n) a=${args[i + 1]:-} ;;
	-n*) a=${a#-n} ;;
	-[rwmgetp]) i=$((i + 1)); continue ;;
	-*) continue ;;
	esac
	IFS=, read -ra nums <<<"$a"
	for v in "${nums[@]}"; do
		[[ $v =~ ^[0-9]+$ ]] && ((v > n)) && n=$v
	done
done
((n == 0)) && n=100000

# Free loopback ports: one free for both TCP and UDP (the server), one UDP
# for beacons and one UDP for a private CA repeater.
read -r port beacon repeater < <(python3 - <<'EOF'
import socket
def both():
    for _ in range(50):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.bind(("127.0.0.1", 0))
        p = t.getsockname()[1]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", p))
        except OSError:
            t.close(); continue
        t.close(); u.close()
        return p
    raise SystemExit("no port free for TCP and UDP")
def udp(avoid):
    for _ in range(50):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", 0))
        p = u.getsockname()[1]
        u.close()
        if p not in avoid:
            return p
    raise SystemExit("no free UDP port")
p = both(); b = udp({p}); r = udp({p, b})
print(p, b, r)
EOF
)

log=$(mktemp)
srv_pid=
cleanup() {
	if [ -n "$srv_pid" ] && kill -0 "$srv_pid" 2>/dev/null; then
		kill -TERM "$srv_pid" 2>/dev/null || true
		for _ in $(seq 50); do
			kill -0 "$srv_pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$srv_pid" 2>/dev/null || true
		wait "$srv_pid" 2>/dev/null || true
	fi
	rm -f "$log"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

env $(env | awk -F= '/^EPICS_/ {print "-u", $1}') \
	EPICS_CAS_INTF_ADDR_LIST=127.0.0.1 \
	EPICS_CAS_SERVER_PORT="$port" \
	EPICS_CAS_BEACON_ADDR_LIST=127.0.0.1 \
	EPICS_CAS_AUTO_BEACON_ADDR_LIST=NO \
	EPICS_CAS_BEACON_PORT="$beacon" \
	"$server" bench-server -n "$n" >"$log" 2>&1 &
srv_pid=$!

# Wait (at most 30 s) for the server's TCP port; libcaload then also
# connects BENCH:ao once before it measures anything.
for _ in $(seq 300); do
	if ! kill -0 "$srv_pid" 2>/dev/null; then
		echo "libcaload: $server bench-server -n $n exited:" >&2
		cat "$log" >&2
		exit 1
	fi
	(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
	sleep 0.1
done

echo "libcaload: $server bench-server -n $n (pid $srv_pid) on 127.0.0.1:$port" >&2
env $(env | awk -F= '/^EPICS_/ {print "-u", $1}') \
	EPICS_CA_AUTO_ADDR_LIST=NO \
	EPICS_CA_ADDR_LIST="127.0.0.1:$port" \
	EPICS_CA_REPEATER_PORT="$repeater" \
	EPICS_CA_MAX_ARRAY_BYTES=100000000 \
	"$out" -p "$srv_pid" "$@"
