#!/usr/bin/env bash
# Seed inputs for fuzz-proto: byte 0 = opcode, then the JSON payload; plus a
# few whole framed datagrams (16-byte header + JSON).
set -eu
out=$1
n=0
seed() { # opcode json
	n=$((n + 1))
	{ printf "\\x$(printf %02x "$1")"; printf '%s' "$2"; } >"$out/seed-$n"
}
seed 1 '{"version":1,"client":"seed"}'
seed 1 '{"version":2}'
seed 2 '{}'
seed 3 '{"provider":"0000:03:00.0","client":"04:00.0"}'
seed 4 '{"all":true}'
seed 5 '{"size":4096,"provider":"auto","peers":["0000:03:00.0","0000:04:00.0"],"types":["p2p","host","memfd"],"name":"x"}'
seed 5 '{"size":99999999999999999999999}'
seed 5 '{"size":-1,"types":"memfd"}'
seed 5 '{"size":1e300}'
seed 6 '{"id":1}'
seed 7 '{}'
seed 16 '{}'
seed 17 '{}'
seed 18 '{"id":18446744073709551615}'
seed 19 '{}'
seed 20 '{}'
seed 99 '{}'
seed 1 '{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":{"j":{"k":{"l":{"m":{"n":{"o":{"p":{"q":1}}}}}}}}}}}}}}}}}'
seed 1 '{"version":1,"client":"\u0000"}'
seed 1 'not json'
# what the strict front end refuses and json-c alone takes
seed 1 '{"version":1,"version":2}'
seed 1 '{"version":1,"client":"a","\u0063lient":"b"}'
seed 1 "{'version':1}"
seed 1 '{"version":1,"client":"\ud800"}'
seed 1 '{"version":1,"client":"\ud83d\ude00"}'
seed 1 '{"version":1,"client":"x\u001b[2J\r\nforged"}'
seed 1 '{"version":1,"client":"c1\u009b"}'
seed 5 '{"size":4096,"name":"b\u001b]0;t\u0007","peers":["x\ny"]}'
seed 5 '{"size":4096,"name":{"a":{"b":1},"a":2}}'
rawseed() { # opcode, then printf-escaped JSON (raw bytes)
	n=$((n + 1))
	{ printf "\\x$(printf %02x "$1")"; printf "$2"; } >"$out/seed-$n"
}
rawseed 1 '{"version":1,"client":"\xc0\xaf"}'
rawseed 1 '{"version":1,"client":"\xe0\x80\xaf"}'
rawseed 1 '{"version":1,"client":"\xed\xa0\x80"}'
rawseed 1 '{"version":1,"client":"\xf4\x90\x80\x80"}'
rawseed 5 '{"size":1,"name":"gr\xc3\xbc\xc3\x9fe \xf0\x9f\x98\x80"}'
# framed datagrams: version 1, opcode, flags, len, id
frame() { # opcode flags json
	n=$((n + 1))
	python3 -c 'import struct,sys; j=sys.argv[3].encode(); sys.stdout.buffer.write(struct.pack("=BBHIQ",1,int(sys.argv[1]),int(sys.argv[2]),len(j),7)+j)' "$1" "$2" "$3" >"$out/seed-$n"
}
frame 1 0 '{"version":1}'
frame 5 2 '{"ok":true,"buffer":{"id":1}}'
frame 2 6 '{"ok":true,"topology":'
# header length fields that lie: smaller than the payload (trailing bytes the
# header does not own) and larger
frame_len() { # opcode flags lendelta json
	n=$((n + 1))
	python3 -c 'import struct,sys; j=sys.argv[4].encode(); sys.stdout.buffer.write(struct.pack("=BBHIQ",1,int(sys.argv[1]),int(sys.argv[2]),len(j)+int(sys.argv[3]),7)+j)' "$1" "$2" "$3" "$4" >"$out/seed-$n"
}
frame_len 1 0 -1 '{"version":1}'
frame_len 1 0 -13 '{"version":1}'
frame_len 5 2 -5 '{"ok":true,"buffer":{"id":1}}'
frame_len 1 0 1 '{"version":1}'
