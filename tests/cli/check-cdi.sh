#!/usr/bin/env bash
# check-cdi.sh - `p2pctl cdi`: the spec validates against the CDI schema (strict,
# tests/cdi/validate-cdi.py), says what a container needs (the socket's
# directory, P2PD_SOCKET, the socket's group), refuses unfit socket paths, and a
# client set up the way the spec says (read-only bind mount of the directory,
# the env) reaches a live p2pd and allocates.  Last line: "cdi: N passed, N failed".
set -u
BUILD=${BUILD:-build}
P2PCTL=${P2PCTL:-$BUILD/p2pctl}
P2PD=${P2PD:-$BUILD/p2pd}
VALIDATE=tests/cdi/validate-cdi.py
pass=0 fail=0
tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }

# A python3 with jsonschema (Debian: python3-jsonschema; CI installs it).
PY=
for p in python3 /usr/bin/python3; do
	if "$p" -c 'import jsonschema' 2>/dev/null; then PY=$p; break; fi
done
if [ -z "$PY" ]; then
	bad "no python3 with jsonschema (apt install python3-jsonschema): the CDI spec cannot be validated"
	echo "cdi: $pass passed, $fail failed"
	exit 1
fi

# The validator itself must refuse broken specs, or a pass below means nothing.
cat >"$tmp/good.json" <<'EOF'
{"cdiVersion": "0.7.0", "kind": "p2pbroker.io/broker", "devices": [{"name": "default",
 "containerEdits": {"env": ["P2PD_SOCKET=/run/p2pd/p2pd.sock"], "additionalGids": [5],
 "mounts": [{"hostPath": "/run/p2pd", "containerPath": "/run/p2pd", "type": "bind", "options": ["bind", "ro"]}]}}]}
EOF
if "$PY" $VALIDATE "$tmp/good.json" 2>"$tmp/err"; then ok "validator accepts a hand-written good spec"; else bad "validator: $(cat "$tmp/err")"; fi
i=0
for edit in 's/additionalGids/additionalGIDs/' 's/"0.7.0"/"0.6.0"/' 's/"0.7.0"/"0.9.0"/' \
	's/"kind": "p2pbroker.io\/broker",//' 's/p2pbroker.io\/broker/broker/' 's/"name": "default"/"name": "-x"/' \
	's/"env": \[[^]]*\]/"env": [5]/' 's/"hostPath": "\/run\/p2pd"/"hostPath": "run"/' 's/"devices": \[/"devices": [], "x": [/'; do
	i=$((i + 1))
	sed "$edit" "$tmp/good.json" >"$tmp/bad$i.json"
	if cmp -s "$tmp/good.json" "$tmp/bad$i.json"; then
		bad "validator self-test $i: the edit '$edit' changed nothing"
	elif "$PY" $VALIDATE "$tmp/bad$i.json" 2>"$tmp/err"; then
		bad "validator accepted a broken spec ($edit)"
	else
		ok "validator refuses: $(head -n1 "$tmp/err" | sed 's/^[^:]*: //')"
	fi
done

# spec_check NAME PYEXPR -- ARGS...: p2pctl ARGS validates, and PYEXPR holds (s = spec,
# e = its one device's containerEdits).
spec_check() {
	local name=$1 expr=$2; shift 3
	if "$P2PCTL" "$@" >"$tmp/spec.json" 2>"$tmp/err" && "$PY" $VALIDATE "$tmp/spec.json" 2>>"$tmp/err" &&
		"$PY" -c "import json,sys; s=json.load(open(sys.argv[1])); e=s['devices'][0]['containerEdits']; sys.exit(0 if ($expr) else 1)" "$tmp/spec.json"; then
		ok "$name"
	else
		bad "$name: $(head -c 400 "$tmp/err") $(head -c 600 "$tmp/spec.json")"
	fi
}

spec_check "default spec: kind, device, socket dir, env" \
	"s['kind']=='p2pbroker.io/broker' and [d['name'] for d in s['devices']]==['default'] and e['env']==['P2PD_SOCKET=/run/p2pd/p2pd.sock'] and [(m['hostPath'],m['containerPath']) for m in e['mounts']]==[('/run/p2pd','/run/p2pd')] and 'ro' in e['mounts'][0]['options'] and 'bind' in e['mounts'][0]['options']" -- \
	--socket /run/p2pd/p2pd.sock cdi
spec_check "group=none: no additionalGids, cdiVersion 0.6.0" \
	"'additionalGids' not in e and s['cdiVersion']=='0.6.0'" -- --socket /run/p2pd/p2pd.sock cdi group=none
spec_check "group=4242: additionalGids, cdiVersion 0.7.0" \
	"e['additionalGids']==[4242] and s['cdiVersion']=='0.7.0'" -- --socket /run/p2pd/p2pd.sock cdi group=4242
spec_check "group by name" "e['additionalGids']==[$(getent group daemon | cut -d: -f3)]" -- --socket /run/p2pd/p2pd.sock cdi group=daemon
P2PD_SOCKET=/srv/p2p/p2pd.sock spec_check "\$P2PD_SOCKET picks the socket" \
	"e['env']==['P2PD_SOCKET=/srv/p2p/p2pd.sock'] and e['mounts'][0]['hostPath']=='/srv/p2p'" -- cdi group=none

# expect_err NAME EXIT PATTERN -- ARGS...: exit code, one stderr line, nothing on stdout.
expect_err() {
	local name=$1 want=$2 pat=$3; shift 4
	"$P2PCTL" "$@" >"$tmp/out" 2>"$tmp/err"
	local rc=$?
	if [ "$rc" -eq "$want" ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -qE "^p2pctl: .*$pat" "$tmp/err" && [ ! -s "$tmp/out" ]; then
		ok "$name"
	else
		bad "$name: rc=$rc (want $want), stderr: $(cat "$tmp/err"), stdout: $(head -c 200 "$tmp/out")"
	fi
}
expect_err "relative socket" 2 "not absolute" -- --socket p2pd.sock cdi
expect_err "socket in /run" 2 "directory /run would be mounted whole" -- --socket /run/p2pd.sock cdi
expect_err "socket in /" 2 "directory / would be mounted whole" -- --socket /p2pd.sock cdi
expect_err "socket path with .." 2 "not normalised" -- --socket /run/p2pd/../p2pd.sock cdi
expect_err "socket path with a newline" 2 "control character" -- --socket "/run/p2pd/a
b" cdi
expect_err "socket path too long" 2 "longer than a Unix socket" -- --socket "/run/p2pd/$(printf 'x%.0s' $(seq 120))" cdi
expect_err "unknown group" 2 "no group 'no-such-group-x'" -- cdi group=no-such-group-x
expect_err "group 0" 2 "root's group" -- cdi group=root
expect_err "bad argument" 2 "usage: p2pctl .*cdi" -- cdi frobnicate

# Live: a container runtime would bind-mount hostPath read-only at containerPath
# and set env; do exactly that in a private mount namespace and allocate.
dir=$tmp/run/p2pd
mkdir -p -m 0755 "$dir" # p2pd refuses a socket directory others may write, whatever the umask
sock=$dir/p2pd.sock
"$P2PD" --foreground --log stderr --socket "$sock" --fsroot tests/fixtures/sysfs/qemu-q35 2>"$tmp/p2pd.log" &
pid=$!
for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
spec_check "spec for the live socket: its group" "e['additionalGids']==[$(stat -c %g "$sock")] or ($(stat -c %g "$sock")==0 and ('additionalGids' not in e or e['additionalGids']!=[0]))" -- --socket "$sock" cdi
"$P2PCTL" --socket "$sock" cdi group=none >"$tmp/live.json"
# The runtime's part, from the spec: bind each mount (read-only when its options
# say ro), then the client runs with the spec's env.
"$PY" - "$tmp/live.json" >"$tmp/apply.sh" <<'EOF'
import json, shlex, sys
e = json.load(open(sys.argv[1]))["devices"][0]["containerEdits"]
print("set -e")
for m in e["mounts"]:
    h, c = shlex.quote(m["hostPath"]), shlex.quote(m["containerPath"])
    print("mount --bind %s %s" % (h, c))
    if "ro" in m.get("options", []):
        print("mount -o remount,bind,ro %s" % c)
    print('if touch %s/planted 2>/dev/null; then echo "%s is writable in the container"; exit 3; fi' % (c, c))
print('exec env %s "$P2PCTL" alloc 4096 types=memfd' % " ".join(shlex.quote(v) for v in e["env"]))
EOF
if [ "$(id -u)" -ne 0 ] || ! unshare -m true 2>/dev/null; then
	echo "SKIP the containerised client (needs root and unshare -m: uid $(id -u))"
elif out=$(P2PCTL=$P2PCTL unshare -m sh "$tmp/apply.sh" 2>&1) &&
	[[ "$out" =~ ^buffer\ [0-9]+:\ memfd ]]; then
	ok "a client with the spec's read-only mount and env allocates: $out"
else
	cat "$tmp/p2pd.log"
	bad "containerised client: $out"
fi

echo "cdi: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
