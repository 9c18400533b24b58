#!/bin/sh
# p2p_io_p2pctl (setup max): `p2pctl read FILE` / `p2pctl write FILE` through
# the real p2pd.  Providers: the 2M ivshmem on the other host bridge first
# (what "auto" would take without peers), then the 8M one behind the NVMe's
# switch, which "near the file" must choose.  The CRC-32 p2pctl prints (the
# data seen through the buffer's mapping) must equal the NVMe range's, read
# O_DIRECT by p2pio; the path is direct on 6.2+, bounce on 6.1; a read that
# names the provider which cannot reach the NVMe is refused by p2pd.  And
# examples/pread-client.c reads into a buffer near the NVMe in one call.
# Then bench/io (6.2+): direct vs bounce, "P2PVM: INFO bench-io: ..." lines.
name=p2p_io_p2pctl
res() { echo "P2PVM: $1 $name${2:+: $2}"; }
[ -x /bin/p2pd ] && [ -x /bin/p2pctl ] || { res FAIL "p2pd/p2pctl were not built"; exit 0; }
[ -r /run/p2pio-devices ] || { res FAIL "p2pio did not record the devices"; exit 0; }
. /run/p2pio-devices
case "$(uname -r)" in 6.[01].* | [1-5].*) path=bounce ;; *) path=direct ;; esac

S=/run/p2pd-io/p2pd.sock
mkdir -p /run/p2pd-io
cat >/run/p2pd-io.json <<JSON
{
  "version": 1,
  "socket": { "path": "$S", "mode": "0660", "group": "nogroup" },
  "providers": [ { "device": "$IV2X", "bar": 2, "size": "2M" }, { "device": "$IV8", "bar": 2, "size": "8M" } ],
  "rules": [ { "uid": 0, "devices": ["*"], "types": ["p2p", "host", "memfd"] } ],
  "default": { "devices": ["*"], "types": ["host"], "max_bytes": "1M", "max_buffers": 1 }
}
JSON
p2pd --config /run/p2pd-io.json --socket "$S" --log stderr >/tmp/p2pd-io.log 2>&1 &
pid=$!
i=0
while [ $i -lt 60 ] && ! p2pctl --socket "$S" status >/dev/null 2>&1; do
	sleep 0.5
	i=$((i + 1))
done

why=
flat() { tr -d ' \n' <"$1"; }
check() { # WHAT JSONFILE OFFSET
	want=$(p2pio crc /dev/nvme0n1 "$3" 1048576)
	j=$(flat "$2")
	echo "P2PVM: INFO p2pctl $1: $(cut -c1-400 "$2" | tr '\n' ' ')"
	case "$j" in *"\"crc32\":\"$want\""*) ;; *) why="${why}$1: crc32 is not the NVMe range's ($want); " ;; esac
	case "$j" in *"\"path\":\"$path\""*) ;; *) why="${why}$1: path not $path; " ;; esac
	case "$j" in *"\"provider\":\"$IV8\""*) ;; *) why="${why}$1: provider not $IV8 (near the NVMe); " ;; esac
	case "$j" in *"\"near\":[\"$NVME\"]"*) ;; *) why="${why}$1: near is not [$NVME]; " ;; esac
}
if p2pctl --socket "$S" read /dev/nvme0n1 --offset 2M --length 1M --json >/tmp/io-read.json 2>/tmp/io-read.err; then
	check read /tmp/io-read.json 2097152
else
	why="${why}read failed: $(cat /tmp/io-read.err); "
fi
if head -c 1048576 /dev/urandom | p2pctl --socket "$S" write /dev/nvme0n1 --offset 6M --length 1M --json >/tmp/io-write.json 2>/tmp/io-write.err; then
	check write /tmp/io-write.json 6291456
else
	why="${why}write failed: $(cat /tmp/io-write.err); "
fi
p2pctl --socket "$S" read /dev/nvme0n1 --offset 1M --length 64K >/tmp/io-text.out 2>&1 &&
	grep -q "^path: $path" /tmp/io-text.out && grep -q '^crc32: [0-9a-f]\{8\} ' /tmp/io-text.out ||
	why="${why}text output: $(tr '\n' ' ' </tmp/io-text.out); "
# The provider on the other host bridge cannot reach the NVMe (max): p2pd
# refuses it as the NVMe's peer before the kernel would.
if p2pctl --socket "$S" read /dev/nvme0n1 --length 1M --provider "$IV2X" >/tmp/io-refused.out 2>&1 ||
	! grep -q "cannot do p2p DMA with every peer" /tmp/io-refused.out; then
	why="${why}--provider $IV2X: $(tr '\n' ' ' </tmp/io-refused.out); "
fi
# examples/pread-client.c: one p2p_buffer_pread() near the NVMe
if P2PD_SOCKET=$S pread-client /dev/nvme0n1 1048576 "$NVME" >/tmp/io-example.out 2>&1; then
	echo "P2PVM: INFO pread-client: $(cat /tmp/io-example.out)"
	want="1048576 bytes into p2p buffer on $IV8: "
	[ "$path" = direct ] && want="${want}1048576 direct, 0 bounced" || want="${want}0 direct, 1048576 bounced"
	grep -qF "$want" /tmp/io-example.out || why="${why}pread-client: $(cat /tmp/io-example.out); "
else
	why="${why}pread-client failed: $(cat /tmp/io-example.out); "
fi
p2pctl --socket "$S" read /dev/nvme0n1 --offset -1 >/dev/null 2>&1 && why="${why}--offset -1 accepted; "
kill $pid 2>/dev/null
wait $pid 2>/dev/null
if [ -z "$why" ]; then res PASS; else res FAIL "$(echo "$why" | cut -c1-400)"; fi
if [ "$path" = direct ] && [ -x /bin/io-bench ]; then
	io-bench /dev/nvme0n1 "$IV8" 2 2 2>&1 | sed 's/^/P2PVM: INFO /'
fi
