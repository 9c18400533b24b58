/* SPDX-License-Identifier: MIT */
/*
 * config.h - p2pd's configuration file (config/p2pd.json, schema in p2pd.json(5)).
 *
 * The file is strict JSON, parsed with json-c's strict tokener and copied into
 * the plain C structs below; nothing of json-c outlives config_parse().  Every
 * value is untrusted: unknown keys, wrong types, out-of-range numbers, overlong
 * strings and oversized arrays are errors that name the JSON path and a line.
 * User and group names are resolved to ids when the file is loaded, so a name
 * that does not exist is a load error (and a reload keeps the old config).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "topo.h"
#include "verdict.h"

#define CONFIG_DEFAULT_PATH "/etc/p2pd/p2pd.json"
#define CONFIG_DEFAULT_SOCKET "/run/p2pd/p2pd.sock"
#define CONFIG_MAX_FILE_SIZE (1024 * 1024) /* bytes of config text */
#define CONFIG_MAX_DEPTH 16		   /* JSON nesting */
#define CONFIG_MAX_RULES 1024
#define CONFIG_MAX_DEVICE_PATTERNS 256 /* per rule */
#define CONFIG_MAX_PROVIDERS 256
#define CONFIG_MAX_OVERRIDES 4096
#define CONFIG_MAX_WHITELIST 256
#define CONFIG_NAME_LEN 64 /* user and group names, incl. NUL */

/* Buffer types a rule may allow (bit mask). */
enum config_type {
	CONFIG_TYPE_P2P = 1u << 0,
	CONFIG_TYPE_HOST = 1u << 1,
	CONFIG_TYPE_MEMFD = 1u << 2,
	CONFIG_TYPE_ALL = 0x7,
};

/* One entry of a rule's "devices". */
enum config_devpat_kind {
	CONFIG_DEV_ANY = 0,  /* "*" */
	CONFIG_DEV_BDF,	     /* "0000:03:00.0" (or short "03:00.0" = domain 0) */
	CONFIG_DEV_ID,	     /* "10de:2330", "10de:*" (device_any) */
	CONFIG_DEV_CLASS,    /* "class:0x0302", "gpu", "nvme", "network", ... */
	CONFIG_DEV_RELEVANT, /* "p2p-relevant": topo_is_p2p_relevant() */
};

struct config_devpat {
	enum config_devpat_kind kind;
	uint32_t domain; /* CONFIG_DEV_BDF */
	uint8_t bus, dev, fn;
	uint16_t vendor, device; /* CONFIG_DEV_ID */
	bool device_any;
	uint32_t class_value, class_mask; /* CONFIG_DEV_CLASS: (class_code & mask) == value */
	char text[32];			  /* the pattern as written, for messages */
};

enum config_match {
	CONFIG_MATCH_DEFAULT = 0, /* the default rule: matches everyone */
	CONFIG_MATCH_UID,
	CONFIG_MATCH_GID,   /* the peer's primary gid, or any of the user's groups */
	CONFIG_MATCH_GROUP, /* same as GID, written as a group name */
};

struct config_rule {
	enum config_match match;
	uid_t uid;		    /* CONFIG_MATCH_UID */
	gid_t gid;		    /* CONFIG_MATCH_GID / CONFIG_MATCH_GROUP */
	char name[CONFIG_NAME_LEN]; /* user or group name as written, "" for numbers */
	struct config_devpat *devices;
	int n_devices;
	unsigned types;	      /* enum config_type bits; 0 = nothing allowed */
	uint64_t max_bytes;   /* per client; <= limits.max_bytes */
	uint32_t max_buffers; /* per client; <= limits.max_buffers */
	char label[48];	      /* "rules[3]" or "default", for messages */
	int line;	      /* line in the file, 0 for built-in rules */
};

struct config_provider {
	char device[TOPO_BDF_LEN]; /* BDF, validated with topo_parse_bdf() */
	int bar;		   /* 0..5 */
	uint64_t size;		   /* bytes to register, 0 = the whole BAR */
};

struct config_limits {
	uint32_t max_connections;	     /* client connections the daemon accepts in total */
	uint32_t max_connections_per_uid;    /* of one non-admin uid */
	uint32_t reserved_admin_connections; /* of max_connections, only admins may take */
	uint32_t idle_timeout;		   /* s: a connection without buffers that sends nothing */
	uint32_t max_buffers;		   /* live buffers per client connection */
	uint32_t max_pending_per_client;   /* requests queued per connection */
	uint32_t max_message_size;	   /* bytes of one wire message (header + JSON) */
	uint64_t max_bytes;		   /* bytes of live buffers per client connection */
	uint64_t max_queued_bytes;	   /* reply bytes waiting for one connection ... */
	uint64_t max_queued_bytes_per_uid; /* ... for all of one uid's: then it is not read */
};

struct p2p_config {
	char source[256]; /* the file it came from, "(built-in defaults)" */

	char socket_path[108];		    /* sockaddr_un.sun_path */
	unsigned socket_mode;		    /* owner rw, maybe group; never x or other */
	char socket_group[CONFIG_NAME_LEN]; /* as written; "" when unset or a number */
	gid_t socket_gid;		    /* resolved socket_group, valid if has_socket_gid */
	bool has_socket_gid;

	gid_t admin_gid; /* resolved admin_group, valid if has_admin_gid */
	bool has_admin_gid;
	char admin_group[CONFIG_NAME_LEN]; /* as written; "" when unset or a number */

	struct config_provider *providers;
	int n_providers;

	struct config_rule *rules; /* first match wins ... */
	int n_rules;
	struct config_rule default_rule; /* ... then this one */

	struct config_limits limits;

	struct verdict_whitelist_entry *whitelist;
	int n_whitelist;
	struct verdict_override *overrides;
	int n_overrides;
};

/*
 * config_load() - read and validate the config file at @path.
 * @path: the file, or NULL for the built-in safe defaults (see p2pd.json(5)):
 *        socket /run/p2pd/p2pd.sock mode 0660, only uid 0 is admin, uid 0 may
 *        use every type on every device, everyone else host and memfd buffers
 *        only, per client 64 buffers / 1 GiB.
 * @err/@errlen: on failure one line of printable text (no control characters),
 *        "FILE:LINE: JSON.PATH: what is wrong" or "FILE:LINE: syntax error at
 *        column C: ..." (line 0 for file-level errors); may be NULL.
 * Returns 0 and a new config in *ret_cfg (free with config_free()), or -errno:
 * -ENOENT/-EACCES/... opening, -EFBIG larger than CONFIG_MAX_FILE_SIZE,
 * -EPERM a world-writable file, -EINVAL not a regular file or any syntax or
 * schema error (including unknown users and groups), -ENOMEM.
 */
int config_load(const char *path, struct p2p_config **ret_cfg, char *err, size_t errlen);

/*
 * config_parse() - as config_load() on @len bytes of @text (need not be NUL
 * terminated); @name is used in error messages ("p2pd.json").
 */
int config_parse(const char *text, size_t len, const char *name, struct p2p_config **ret_cfg,
		 char *err, size_t errlen);

/* Free a config from config_load()/config_parse(); NULL is fine. */
void config_free(struct p2p_config *cfg);

/* "p2p", "host", "memfd" -> CONFIG_TYPE_*, 0 for anything else. */
unsigned config_type_from_name(const char *name);
/* Comma-separated names of @types into @buf ("p2p,host"; "none" for 0). */
const char *config_types_str(unsigned types, char *buf, size_t len);

/* Parse one "devices" pattern; 0 or -EINVAL (with a reason in @err). */
int config_parse_devpat(const char *s, struct config_devpat *ret, char *err, size_t errlen);
