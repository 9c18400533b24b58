/* SPDX-License-Identifier: MIT */
/*
 * fuzz-proto.c - libFuzzer harness for the wire protocol decoder (conn.c).
 * Input: byte 0 = opcode, the rest = JSON payload, for conn_decode_request();
 * the whole input is also sent as one datagram over a SEQPACKET socketpair and
 * framed by conn_recv() both as a request (p2pd) and as a reply (library).
 * Invariants: success gives a JSON object whose every string is a name
 * (valid UTF-8, no control characters: json_name_check()) and whose text
 * round-trips through the strict parser; failure gives no object, a negative
 * errno and a one-line printable reason; no fd is ever left open.
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fuzz_sv[2] = {-1, -1};

/* Every string in @v (values and keys) is a name. */
static void fuzz_all_names(struct json_object *v)
{
	char why[128];
	size_t i;

	switch (json_object_get_type(v)) {
	case json_type_string:
		assert(json_name_check(json_object_get_string(v),
				       (size_t)json_object_get_string_len(v), why,
				       sizeof(why)) == 0);
		break;
	case json_type_array:
		for (i = 0; i < json_object_array_length(v); i++)
			fuzz_all_names(json_object_array_get_idx(v, i));
		break;
	case json_type_object: {
		json_object_object_foreach(v, key, val)
		{
			assert(json_utf8_valid(key, strlen(key)) == strlen(key));
			fuzz_all_names(val);
		}
		break;
	}
	default:
		break;
	}
}

static void fuzz_framing(const uint8_t *data, size_t size, bool as_reply)
{
	static unsigned char buf[P2P_PROTO_MAX_DATAGRAM];
	struct conn_msg m;
	int r;

	if (fuzz_sv[0] < 0 && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fuzz_sv) < 0)
		return;
	if (send(fuzz_sv[0], data, size, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)size)
		return;
	r = conn_recv(fuzz_sv[1], buf, sizeof(buf), as_reply, &m);
	if (r > 0) {
		assert((size_t)r == size);
		assert(m.hdr.version == P2P_PROTO_VERSION);
		assert(m.hdr.len == size - sizeof(struct p2p_msg_hdr));
		assert(m.fd == -1); /* nothing was attached */
		if (!as_reply) {
			struct json_object *o = NULL;
			char err[256] = "";

			if (conn_decode_request(m.hdr.opcode, m.payload, m.hdr.len, &o, err,
						sizeof(err)) == 0)
				json_object_put(o);
		}
	} else {
		assert(r == 0 || r == -EBADMSG || r == -EPROTONOSUPPORT || r == -EMSGSIZE);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_object *o = NULL;
	char err[256] = "";
	int r;

	if (size < 1)
		return 0;
	r = conn_decode_request(data[0], (const char *)data + 1, size - 1, &o, err, sizeof(err));
	if (r == 0) {
		struct json_object *again = NULL;
		const char *text;

		assert(o && json_object_is_type(o, json_type_object));
		/* the getters never fail on a checked object */
		(void)json_get_str(o, "provider", NULL);
		(void)json_get_u64(o, "size", 0);
		(void)json_get_bool(o, "all", false);
		fuzz_all_names(o);
		/* what we accepted, json-c writes back as text we accept again */
		text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
		assert(conn_json_parse(text, strlen(text), &again, err, sizeof(err)) == 0);
		json_object_put(again);
		json_object_put(o);
	} else {
		assert(r < 0 && !o && err[0]);
		for (const char *p = err; *p; p++)
			assert((unsigned char)*p >= 0x20 && *p != 0x7f);
	}
	if (size > 0 && size <= P2P_PROTO_MAX_DATAGRAM) {
		fuzz_framing(data, size, false);
		fuzz_framing(data, size, true);
	}
	return 0;
}
