/* SPDX-License-Identifier: MIT */
/*
 * policy.c - who may do what, decided from the loaded config (see policy.h).
 */
#include "policy.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nss.h"

/* the config's type mask is indexed by the one buffer type enum */
_Static_assert(CONFIG_TYPE_P2P == ALLOC_TYPE_BIT(ALLOC_TYPE_P2P) &&
		   CONFIG_TYPE_HOST == ALLOC_TYPE_BIT(ALLOC_TYPE_HOST) &&
		   CONFIG_TYPE_MEMFD == ALLOC_TYPE_BIT(ALLOC_TYPE_MEMFD),
	       "CONFIG_TYPE_* bits follow enum alloc_type");

#define POLICY_GROUPS_FIRST 64	/* first try; grown up to POLICY_GROUPS_MAX */
#define POLICY_GROUPS_MAX 65536 /* NGROUPS_MAX on Linux */

/* nss.c's blocking lookup; p2pd installs its cache (nss_cache_groups). */
static policy_groups_fn groups_fn = nss_groups_lookup;

void policy_set_groups_fn(policy_groups_fn fn)
{
	groups_fn = fn ? fn : nss_groups_lookup;
}

/* The groups of one uid, looked up once per decision (lazily: only a gid or
 * group rule, or an admin check, needs them). */
struct member_cache {
	uid_t uid;
	gid_t gid;
	bool loaded;
	int n;
	gid_t *g; /* small or heap */
	gid_t small[POLICY_GROUPS_FIRST];
};

static void cache_init(struct member_cache *mc, uid_t uid, gid_t gid)
{
	mc->uid = uid;
	mc->gid = gid;
	mc->loaded = false;
	mc->n = 0;
	mc->g = mc->small;
}

static void cache_fini(struct member_cache *mc)
{
	if (mc->g != mc->small)
		free(mc->g);
	mc->g = mc->small;
}

static void cache_load(struct member_cache *mc)
{
	int max = POLICY_GROUPS_FIRST, n;

	mc->loaded = true;
	for (int tries = 0;; tries++) {
		n = groups_fn(mc->uid, mc->gid, mc->g, max);
		if (n <= max || max >= POLICY_GROUPS_MAX || tries >= 3)
			break;
		cache_fini(mc);
		max = n < POLICY_GROUPS_MAX ? n : POLICY_GROUPS_MAX;
		mc->g = calloc((size_t)max, sizeof(*mc->g));
		if (!mc->g) {
			mc->g = mc->small; /* cannot tell: member of nothing more */
			n = 0;
			break;
		}
	}
	mc->n = n < 0 ? 0 : n > max ? max : n;
}

/* Is the uid a member of @want?  The peer's gid first, then its group list. */
static bool in_group(struct member_cache *mc, gid_t want)
{
	if (mc->gid == want)
		return true;
	if (!mc->loaded)
		cache_load(mc);
	for (int i = 0; i < mc->n; i++)
		if (mc->g[i] == want)
			return true;
	return false;
}

bool policy_is_admin(const struct p2p_config *cfg, uid_t uid, gid_t gid)
{
	if (uid == 0)
		return true;
	if (!cfg || !cfg->has_admin_gid)
		return false;
	struct member_cache mc;
	cache_init(&mc, uid, gid);
	bool hit = in_group(&mc, cfg->admin_gid);
	cache_fini(&mc);
	return hit;
}

static bool rule_matches(const struct config_rule *r, struct member_cache *mc)
{
	switch (r->match) {
	case CONFIG_MATCH_DEFAULT:
		return true;
	case CONFIG_MATCH_UID:
		return r->uid == mc->uid;
	case CONFIG_MATCH_GID:
	case CONFIG_MATCH_GROUP:
		return in_group(mc, r->gid);
	}
	return false;
}

const struct config_rule *policy_rule_for(const struct p2p_config *cfg, uid_t uid, gid_t gid)
{
	const struct config_rule *found = NULL;
	struct member_cache mc;

	if (!cfg)
		return NULL;
	cache_init(&mc, uid, gid);
	for (int i = 0; i < cfg->n_rules && !found; i++)
		if (rule_matches(&cfg->rules[i], &mc))
			found = &cfg->rules[i];
	cache_fini(&mc);
	return found ? found : &cfg->default_rule;
}

bool policy_devpat_match(const struct config_devpat *p, const struct topo_func *f)
{
	if (!p || !f)
		return false;
	switch (p->kind) {
	case CONFIG_DEV_ANY:
		return true;
	case CONFIG_DEV_BDF:
		return p->domain == f->domain && p->bus == f->bus && p->dev == f->dev &&
		       p->fn == f->fn;
	case CONFIG_DEV_ID:
		return p->vendor == f->vendor && (p->device_any || p->device == f->device);
	case CONFIG_DEV_CLASS:
		if (f->class_code == UINT32_MAX)
			return false;
		return (f->class_code & p->class_mask) == p->class_value;
	case CONFIG_DEV_RELEVANT:
		return topo_is_p2p_relevant(f);
	}
	return false;
}

bool policy_rule_allows_device(const struct config_rule *r, const struct topo_func *f)
{
	if (!r || !f)
		return false;
	for (int i = 0; i < r->n_devices; i++)
		if (policy_devpat_match(&r->devices[i], f))
			return true;
	return false;
}

bool policy_device_allowed(const struct p2p_config *cfg, const struct topo *t, uid_t uid, gid_t gid,
			   int func_idx)
{
	if (!cfg || !t || func_idx < 0 || func_idx >= t->nfuncs)
		return false;
	return policy_rule_allows_device(policy_rule_for(cfg, uid, gid), &t->funcs[func_idx]);
}

/* "rules[2] (group video, line 14)" */
static void rule_desc(const struct config_rule *r, char *buf, size_t len)
{
	char who[96] = "";

	switch (r->match) {
	case CONFIG_MATCH_UID:
		if (r->name[0])
			snprintf(who, sizeof(who), "user %s", r->name);
		else
			snprintf(who, sizeof(who), "uid %u", (unsigned)r->uid);
		break;
	case CONFIG_MATCH_GID:
		snprintf(who, sizeof(who), "gid %u", (unsigned)r->gid);
		break;
	case CONFIG_MATCH_GROUP:
		snprintf(who, sizeof(who), "group %s", r->name);
		break;
	case CONFIG_MATCH_DEFAULT:
		break;
	}
	if (who[0] && r->line)
		snprintf(buf, len, "%s (%s, line %d)", r->label, who, r->line);
	else if (who[0])
		snprintf(buf, len, "%s (%s)", r->label, who);
	else if (r->line)
		snprintf(buf, len, "%s (line %d)", r->label, r->line);
	else
		snprintf(buf, len, "%s", r->label);
}

__attribute__((format(printf, 3, 4))) static void say(char *why, size_t whylen, const char *fmt,
						      ...)
{
	va_list ap;

	if (!why || !whylen)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

int policy_check_alloc(const struct p2p_config *cfg, const struct topo *t, uid_t uid, gid_t gid,
		       int provider_idx, enum alloc_type type, uint64_t size,
		       const struct policy_usage *cur, char *why, size_t whylen)
{
	static const struct policy_usage none = {0, 0};
	const struct config_rule *r;
	char desc[160], tbuf[32];
	unsigned tbit;

	if (why && whylen)
		why[0] = '\0';
	if (!cfg) {
		say(why, whylen, "no policy loaded");
		return -EINVAL;
	}
	if ((unsigned)type >= ALLOC_TYPE__COUNT) {
		say(why, whylen, "unknown buffer type %d (expected p2p, host or memfd)", (int)type);
		return -EINVAL;
	}
	tbit = ALLOC_TYPE_BIT(type);
	if (provider_idx >= 0 && (!t || provider_idx >= t->nfuncs)) {
		say(why, whylen, "no such provider device (index %d)", provider_idx);
		return -EINVAL;
	}
	if (provider_idx < -1 || (type == ALLOC_TYPE_P2P && provider_idx < 0)) {
		say(why, whylen, "a p2p buffer needs a provider device");
		return -EINVAL;
	}
	if (size == 0) {
		say(why, whylen, "a buffer needs a size above 0");
		return -EINVAL;
	}
	if (!cur)
		cur = &none;

	r = policy_rule_for(cfg, uid, gid);
	rule_desc(r, desc, sizeof(desc));
	if (!(r->types & tbit)) {
		say(why, whylen, "%s does not allow %s buffers (allowed: %s)", desc,
		    alloc_type_name(type), config_types_str(r->types, tbuf, sizeof(tbuf)));
		return -EPERM;
	}
	if (provider_idx >= 0) {
		const struct topo_func *f = &t->funcs[provider_idx];
		if (!policy_rule_allows_device(r, f)) {
			char cls[24] = "class unknown";
			if (f->class_code != UINT32_MAX)
				snprintf(cls, sizeof(cls), "class 0x%06x",
					 f->class_code & 0xffffff);
			say(why, whylen, "%s does not allow device %s (%04x:%04x, %s)", desc,
			    f->bdf, f->vendor, f->device, cls);
			return -EPERM;
		}
	}
	if (cur->buffers >= r->max_buffers) {
		say(why, whylen,
		    "quota: buffers: limit %" PRIu32 " of %s reached (current %" PRIu32 ")",
		    r->max_buffers, desc, cur->buffers);
		return -EDQUOT;
	}
	if (cur->bytes > r->max_bytes || size > r->max_bytes - cur->bytes) {
		say(why, whylen,
		    "quota: bytes: %" PRIu64 " more would exceed the limit %" PRIu64
		    " of %s (current %" PRIu64 ")",
		    size, r->max_bytes, desc, cur->bytes);
		return -EDQUOT;
	}
	return 0;
}
