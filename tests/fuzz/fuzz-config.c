/* SPDX-License-Identifier: MIT */
/*
 * fuzz-config.c - libFuzzer target for the config parser (config_parse) and,
 * on inputs that load, the policy decisions made from them.
 *
 * Invariants checked (abort() on violation, so the fuzzer reports them):
 * success leaves no error text and a config; failure leaves no config and one
 * non-empty error line that starts with the file name.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "policy.h"
#include "topo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz-config: invariant violated: %s\n", what);
		abort();
	}
}

static void exercise_policy(const struct p2p_config *cfg)
{
	struct topo_func funcs[3];
	struct topo t = {.funcs = funcs, .nfuncs = 3};
	static const uint32_t classes[3] = {0x030200, 0x010802, UINT32_MAX};

	memset(funcs, 0, sizeof(funcs));
	for (int i = 0; i < 3; i++) {
		snprintf(funcs[i].bdf, sizeof(funcs[i].bdf), "0000:%02x:00.0", i + 3);
		funcs[i].bus = (uint8_t)(i + 3);
		funcs[i].idx = i;
		funcs[i].parent = -1;
		funcs[i].vendor = 0x10de;
		funcs[i].device = (uint16_t)(0x2330 + i);
		funcs[i].class_code = classes[i];
	}
	for (uid_t uid = 0; uid < 3; uid++) {
		char why[256];
		struct policy_usage cur = {.bytes = 4096, .buffers = 1};
		(void)policy_is_admin(cfg, uid * 1000, uid);
		for (int f = -1; f < 3; f++) {
			for (int k = 0; k < 3; k++) {
				int r = policy_check_alloc(cfg, &t, uid * 1000, 44, f, (enum alloc_type)k,
							   1 << 20, &cur, why, sizeof(why));
				check(r == 0 || r == -EPERM || r == -EDQUOT || r == -EINVAL,
				      "policy_check_alloc return");
				check(r == 0 || why[0], "refusal without a reason");
			}
			if (f >= 0)
				(void)policy_device_allowed(cfg, &t, uid * 1000, 44, f);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct p2p_config *cfg = NULL;
	char err[512];
	int r;

	memset(err, 'X', sizeof(err));
	r = config_parse((const char *)data, size, "fuzz.json", &cfg, err, sizeof(err));
	check(memchr(err, '\0', sizeof(err)) != NULL, "error text not terminated");
	if (r == 0) {
		check(cfg != NULL, "success without a config");
		check(err[0] == '\0', "success with an error text");
		check(cfg->n_rules >= 0 && cfg->n_rules <= CONFIG_MAX_RULES, "rule count");
		check(cfg->socket_mode <= 0777, "socket mode");
		for (int i = 0; i < cfg->n_rules; i++) {
			check(cfg->rules[i].max_bytes <= cfg->limits.max_bytes, "rule max_bytes");
			check(cfg->rules[i].max_buffers <= cfg->limits.max_buffers,
			      "rule max_buffers");
		}
		exercise_policy(cfg);
		config_free(cfg);
	} else {
		check(cfg == NULL, "failure with a config");
		check(r == -EINVAL || r == -ENOMEM || r == -EFBIG, "unexpected errno");
		check(strncmp(err, "fuzz.json:", 10) == 0, "error without file name");
		check(strchr(err, '\n') == NULL, "multi-line error");
	}

	/* the device pattern parser on its own, on the first line of the input */
	if (size < 64) {
		char pat[64];
		struct config_devpat p;
		memcpy(pat, data, size);
		pat[size] = '\0';
		(void)config_parse_devpat(pat, &p, err, sizeof(err));
	}
	return 0;
}
