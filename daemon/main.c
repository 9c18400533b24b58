/* SPDX-License-Identifier: MIT */
/*
 * main.c - p2pd, the PCIe peer-to-peer DMA broker daemon:
 * parse_argv() -> setup() -> run(), cleanup in reverse order.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "server.h"

struct main_args {
	struct server_opts srv;
	bool foreground;
	int journal; /* -1 auto */
	bool verbose;
	bool check_config;
};

static void main_usage(FILE *f)
{
	fprintf(f,
		"Usage: p2pd [OPTIONS]\n"
		"PCIe peer-to-peer DMA broker daemon.\n\n"
		"  -c, --config PATH    configuration file (default " CONFIG_DEFAULT_PATH
		", built-in\n"
		"                       defaults when that file does not exist)\n"
		"  -s, --socket PATH    listen here when not socket-activated\n"
		"                       (default: the config's socket, " CONFIG_DEFAULT_SOCKET ")\n"
		"  -r, --fsroot DIR     read sysfs under DIR instead of / (tests, snapshots)\n"
		"  -f, --foreground     stay in the foreground (p2pd never forks; accepted for\n"
		"                       compatibility)\n"
		"      --backends LIST  only these buffer backends (kmod,udmabuf,dma-heap,memfd)\n"
		"      --cpu V:F        CPU vendor:family override for verdicts (amd:0x17)\n"
		"      --kernel-release R  judge under kernel R's p2p rules (default: the\n"
		"                       release under --fsroot, proc/sys/kernel/osrelease)\n"
		"      --no-gpu         do not ask libdrm for GPU nodes\n"
		"      --no-hotplug     do not rescan on PCI uevents (only with the real /sys)\n"
		"      --log TARGET     journal, stderr or auto (default: journal under systemd)\n"
		"      --check-config   load the configuration, report, and exit (0 valid)\n"
		"  -v, --verbose        debug messages\n"
		"  -h, --help           this help\n");
}

static int main_parse_argv(int argc, char **argv, struct main_args *a)
{
	enum {
		OPT_BACKENDS = 256,
		OPT_CPU,
		OPT_NO_GPU,
		OPT_LOG,
		OPT_CHECK_CONFIG,
		OPT_NO_HOTPLUG,
		OPT_KERNEL_RELEASE
	};
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"socket", required_argument, NULL, 's'},
	    {"fsroot", required_argument, NULL, 'r'},
	    {"foreground", no_argument, NULL, 'f'},
	    {"backends", required_argument, NULL, OPT_BACKENDS},
	    {"cpu", required_argument, NULL, OPT_CPU},
	    {"kernel-release", required_argument, NULL, OPT_KERNEL_RELEASE},
	    {"no-gpu", no_argument, NULL, OPT_NO_GPU},
	    {"no-hotplug", no_argument, NULL, OPT_NO_HOTPLUG},
	    {"log", required_argument, NULL, OPT_LOG},
	    {"check-config", no_argument, NULL, OPT_CHECK_CONFIG},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	int o;

	memset(a, 0, sizeof(*a));
	a->journal = -1;
	a->srv.config_path = CONFIG_DEFAULT_PATH;
	a->srv.fsroot = "/";
	while ((o = getopt_long(argc, argv, "c:s:r:fvh", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			a->srv.config_path = optarg;
			a->srv.config_explicit = true;
			break;
		case 's':
			a->srv.socket_path = optarg;
			break;
		case 'r':
			a->srv.fsroot = optarg;
			break;
		case 'f':
			a->foreground = true;
			break;
		case OPT_BACKENDS:
			a->srv.backends = optarg;
			break;
		case OPT_CPU:
			a->srv.cpu_override = optarg;
			break;
		case OPT_KERNEL_RELEASE:
			if (!optarg[0]) {
				fprintf(stderr, "p2pd: --kernel-release needs a release\n");
				return -EINVAL;
			}
			a->srv.kernel_release = optarg;
			break;
		case OPT_NO_GPU:
			a->srv.no_gpu = true;
			break;
		case OPT_NO_HOTPLUG:
			a->srv.no_hotplug = true;
			break;
		case OPT_LOG:
			if (strcmp(optarg, "journal") == 0)
				a->journal = 1;
			else if (strcmp(optarg, "stderr") == 0)
				a->journal = 0;
			else if (strcmp(optarg, "auto") == 0)
				a->journal = -1;
			else {
				fprintf(stderr, "p2pd: --log: journal, stderr or auto\n");
				return -EINVAL;
			}
			break;
		case OPT_CHECK_CONFIG:
			a->check_config = true;
			break;
		case 'v':
			a->verbose = true;
			break;
		case 'h':
			main_usage(stdout);
			exit(EXIT_SUCCESS);
		default:
			main_usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "p2pd: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

/* --check-config: 0 when the file (or the defaults) load, 1 with the error. */
static int main_check_config(const struct main_args *a)
{
	struct p2p_config *cfg = NULL;
	const char *path = a->srv.config_path;
	char err[512] = "";
	int r;

	if (!a->srv.config_explicit && access(path, F_OK) != 0)
		path = NULL;
	r = config_load(path, &cfg, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "p2pd: %s\n", err[0] ? err : strerror(-r));
		return 1;
	}
	printf("%s: OK (%d rules, %d providers, %d overrides)\n", path ? path : "built-in defaults",
	       cfg->n_rules, cfg->n_providers, cfg->n_overrides);
	config_free(cfg);
	return 0;
}

int main(int argc, char **argv)
{
	struct main_args a;
	struct p2p_server srv;
	int r;

	if (main_parse_argv(argc, argv, &a) < 0)
		return 2;
	log_setup(a.journal, a.verbose ? LOG_DEBUG : LOG_INFO);
	if (a.check_config)
		return main_check_config(&a);
	r = server_setup(&srv, &a.srv);
	if (r >= 0)
		r = server_run(&srv);
	server_cleanup(&srv);
	if (r < 0) {
		log_msg(LOG_ERR, "exiting: %s", strerror(-r));
		return 1;
	}
	log_msg(LOG_INFO, "stopped");
	return 0;
}
