// SPDX-License-Identifier: MIT
/*
 * kernel.c - release, CONFIG_PCI_P2PDMA and command-line facts of the kernel
 * under a filesystem root (see kernel.h).  Every file is untrusted input:
 * bounded reads, and a file that is missing or malformed leaves its fact
 * unknown.  The kernel config is read with zlib, which reads both the gzip of
 * /proc/config.gz and the plain text of /boot/config-*.
 */
#include "kernel.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <zlib.h>

#include "sysattr.h"

#define CONFIG_MAX_LINES 200000 /* a real config has ~10,000 */
#define CMDLINE_MAX 4096

void kernel_facts_unknown(struct kernel_facts *k)
{
	memset(k, 0, sizeof(*k));
	k->p2pdma = -1;
	rules_select(NULL, &k->rules);
}

const char *kernel_src_name(enum kernel_src src)
{
	switch (src) {
	case KERNEL_SRC_OSRELEASE:
		return "osrelease";
	case KERNEL_SRC_UNAME:
		return "uname";
	case KERNEL_SRC_OPTION:
		return "option";
	case KERNEL_SRC_NONE:
		break;
	}
	return NULL;
}

/* A release is one printable token without '/' (it becomes a file name). */
static bool release_ok(const char *r)
{
	if (!r[0] || strlen(r) >= RULES_RELEASE_LEN)
		return false;
	for (const char *p = r; *p; p++)
		if (*p <= ' ' || *p >= 0x7f || *p == '/')
			return false;
	return true;
}

int kernel_config_line(const char *line)
{
	static const char opt[] = "CONFIG_PCI_P2PDMA";
	const size_t n = sizeof(opt) - 1;
	if (!strncmp(line, opt, n) && line[n] == '=')
		return line[n + 1] == 'y' && (line[n + 2] == '\0' || line[n + 2] == '\n') ? 1 : 0;
	if (!strncmp(line, "# ", 2) && !strncmp(line + 2, opt, n) &&
	    !strncmp(line + 2 + n, " is not set", 11))
		return 0;
	return -1;
}

/* 1/0 from a config file (gzip or plain), -1 when absent or not a config. */
static int config_p2pdma(int rootfd, const char *rel)
{
	int fd = openat(rootfd, rel, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -1;
	}
	gzFile gz = gzdopen(fd, "rb"); /* takes the fd */
	if (!gz) {
		close(fd);
		return -1;
	}
	char line[512];
	int lines = 0, configs = 0, found = -1;
	while (found < 0 && lines++ < CONFIG_MAX_LINES && gzgets(gz, line, sizeof(line))) {
		if (!strncmp(line, "CONFIG_", 7) || !strncmp(line, "# CONFIG_", 9))
			configs++;
		found = kernel_config_line(line);
	}
	int err = 0;
	gzerror(gz, &err);
	gzclose(gz);
	if (found >= 0)
		return found;
	/* A whole config without the option: its dependencies are not met. */
	return err == Z_OK && configs >= 100 && lines < CONFIG_MAX_LINES ? 0 : -1;
}

static void append_word(char *dst, size_t size, const char *w, size_t wlen)
{
	size_t len = strlen(dst);
	snprintf(dst + len, size - len, "%s%.*s", len ? " " : "", (int)wlen, w);
}

void kernel_parse_cmdline(const char *cmdline, struct kernel_facts *k)
{
	k->cmdline_known = true;
	k->acs_redir[0] = k->iommu[0] = '\0';
	k->iommu_off = k->iommu_passthrough = false;
	const char *p = cmdline;
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		if (!*p)
			break;
		const char *w = p;
		bool quoted = false;
		while (*p && (quoted || (*p != ' ' && *p != '\t' && *p != '\n'))) {
			if (*p == '"')
				quoted = !quoted;
			p++;
		}
		size_t len = (size_t)(p - w);
		if (len == 2 && !strncmp(w, "--", 2))
			break; /* the rest goes to init */
		char tok[1024];
		if (len >= sizeof(tok))
			continue;
		memcpy(tok, w, len);
		tok[len] = '\0';
		if (!strncmp(tok, "pci=", 4)) {
			/* comma-separated options; disable_acs_redir= runs to the next comma */
			char *save = NULL;
			for (char *o = strtok_r(tok + 4, ",", &save); o;
			     o = strtok_r(NULL, ",", &save))
				if (!strncmp(o, "disable_acs_redir=", 18)) {
					size_t l = strlen(k->acs_redir);
					snprintf(k->acs_redir + l, sizeof(k->acs_redir) - l, "%s%s",
						 l ? ";" : "", o + 18);
				}
		} else if (!strncmp(tok, "intel_iommu=", 12) || !strncmp(tok, "amd_iommu=", 10) ||
			   !strncmp(tok, "iommu=", 6) || !strncmp(tok, "iommu.", 6)) {
			append_word(k->iommu, sizeof(k->iommu), tok, len);
			const char *v = strchr(tok, '=') + 1;
			if (!strncmp(tok, "iommu.passthrough=", 18))
				k->iommu_passthrough = !strcmp(v, "1") || !strcmp(v, "y");
			else if (!strncmp(tok, "iommu=", 6) && !strcmp(v, "pt"))
				k->iommu_passthrough = true;
			else if (strncmp(tok, "iommu.", 6) &&
				 (!strcmp(v, "off") || !strcmp(v, "0")))
				k->iommu_off = true;
		}
	}
}

int kernel_read(int rootfd, const char *release_override, struct kernel_facts *k)
{
	kernel_facts_unknown(k);
	char running[RULES_RELEASE_LEN] = "";
	char buf[CMDLINE_MAX];
	if (sysattr_read(rootfd, "proc/sys/kernel/osrelease", buf, sizeof(buf), 0) > 0 &&
	    release_ok(buf)) {
		memcpy(running, buf, strlen(buf) + 1); /* release_ok(): fits */
		k->release_src = KERNEL_SRC_OSRELEASE;
	} else if (sysattr_is_real_root(rootfd)) {
		struct utsname u;
		if (uname(&u) == 0 && release_ok(u.release)) {
			memcpy(running, u.release, strlen(u.release) + 1);
			k->release_src = KERNEL_SRC_UNAME;
		}
	}
	const char *release = running;
	if (release_override && release_override[0]) {
		release = release_override;
		k->release_src = KERNEL_SRC_OPTION;
	}
	rules_select(release, &k->rules);

	/* proc/config.gz describes the running kernel only. */
	if (!release_override || !release_override[0] || !strcmp(release_override, running)) {
		k->p2pdma = config_p2pdma(rootfd, "proc/config.gz");
		if (k->p2pdma >= 0)
			snprintf(k->config, sizeof(k->config), "proc/config.gz");
	}
	if (k->p2pdma < 0 && release_ok(release)) {
		char rel[RULES_RELEASE_LEN + 16];
		snprintf(rel, sizeof(rel), "boot/config-%s", release);
		k->p2pdma = config_p2pdma(rootfd, rel);
		if (k->p2pdma >= 0)
			snprintf(k->config, sizeof(k->config), "%s", rel);
	}
	if (sysattr_read(rootfd, "proc/cmdline", buf, sizeof(buf), 0) >= 0)
		kernel_parse_cmdline(buf, k);
	return 0;
}

void kernel_p2pdma_line(const struct kernel_facts *k, char *buf, int size)
{
	buf[0] = '\0';
	if (k->p2pdma != 0)
		return;
	snprintf(buf, (size_t)size,
		 "kernel %s was built without CONFIG_PCI_P2PDMA (%s): no PCIe peer-to-peer DMA "
		 "at all, every pair is not_supported (Debian's stock kernels are built so)",
		 k->rules.release[0] ? k->rules.release : "(release unknown)", k->config);
}
