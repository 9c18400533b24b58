/* SPDX-License-Identifier: MIT */
/*
 * io.c - `p2pctl read FILE` and `p2pctl write FILE`: a p2p buffer from p2pd
 * near the file's storage (peers = the PCI functions behind the file,
 * core/blockdev.c), data moved with p2p_buffer_pread/pwrite, and a report of
 * the path taken, bytes, MB/s and the CRC-32 of the data as seen through the
 * buffer's mapping.  `write` takes its data from standard input.
 */
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "blockdev.h"
#include "p2pclient.h"
#include "p2pctl.h"

struct io_opts {
	bool write, json, direct_only;
	uint64_t offset, length;
	bool have_length;
	const char *provider, *socket, *file;
};

/* Global options that take a value as the next word. */
static bool io_opt_takes_value(const char *a)
{
	static const char *const with_value[] = {"--fsroot", "--cpu", "--socket",
						 "--kernel-release", "--format"};

	for (size_t i = 0; i < sizeof(with_value) / sizeof(with_value[0]); i++)
		if (!strcmp(a, with_value[i]))
			return true;
	return false;
}

int io_command(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			return 0;
		if (argv[i][0] == '-') {
			i += io_opt_takes_value(argv[i]);
			continue;
		}
		return !strcmp(argv[i], "read") || !strcmp(argv[i], "write") ? i : 0;
	}
	return 0;
}

static int io_parse(int argc, char **argv, int cmd, struct io_opts *o)
{
	enum { OPT_OFFSET = 256, OPT_LENGTH, OPT_PROVIDER, OPT_DIRECT_ONLY, OPT_SOCKET, OPT_JSON };
	static const struct option longopts[] = {
	    {"offset", required_argument, NULL, OPT_OFFSET},
	    {"length", required_argument, NULL, OPT_LENGTH},
	    {"provider", required_argument, NULL, OPT_PROVIDER},
	    {"direct-only", no_argument, NULL, OPT_DIRECT_ONLY},
	    {"socket", required_argument, NULL, OPT_SOCKET},
	    {"json", no_argument, NULL, OPT_JSON},
	    {0},
	};
	int c, nargs;

	o->write = !strcmp(argv[cmd], "write");
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_OFFSET:
			if (p2pctl_parse_size(optarg, &o->offset) < 0) {
				p2pctl_err("bad --offset '%s' (bytes, or with K, M, G)", optarg);
				return -1;
			}
			break;
		case OPT_LENGTH:
			if (p2pctl_parse_size(optarg, &o->length) < 0 || !o->length) {
				p2pctl_err("bad --length '%s' (bytes > 0, or with K, M, G)",
					   optarg);
				return -1;
			}
			o->have_length = true;
			break;
		case OPT_PROVIDER:
			o->provider = optarg;
			break;
		case OPT_DIRECT_ONLY:
			o->direct_only = true;
			break;
		case OPT_SOCKET:
			o->socket = optarg;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		default:
			p2pctl_err("%s: unknown or incomplete option '%s' (options: --offset, "
				   "--length, --provider, --direct-only, --socket, --json)",
				   o->write ? "write" : "read", argv[optind - 1]);
			return -1;
		}
	}
	nargs = argc - optind;
	if (nargs != 2) {
		p2pctl_err("usage: p2pctl %s FILE [--offset N] [--length N] [--provider BDF|auto] "
			   "[--direct-only]%s",
			   o->write ? "write" : "read", o->write ? " <DATA" : "");
		return -1;
	}
	o->file = argv[optind + 1];
	return 0;
}

/* Size of the file or block device behind @fd, or -errno. */
static int64_t io_file_size(int fd)
{
	struct stat st;
	uint64_t sz;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISBLK(st.st_mode))
		return ioctl(fd, BLKGETSIZE64, &sz) < 0 ? -errno : (int64_t)sz;
	if (S_ISREG(st.st_mode))
		return st.st_size;
	return -EINVAL;
}

/* Fill @p with @len bytes of standard input; 0 or -errno (-EIO: too short). */
static int io_read_stdin(char *p, uint64_t len)
{
	uint64_t done = 0;

	while (done < len) {
		size_t n = len - done > (1u << 20) ? (1u << 20) : (size_t)(len - done);
		ssize_t r = read(STDIN_FILENO, p + done, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO;
		done += (uint64_t)r;
	}
	return 0;
}

static const char *io_path_name(const struct p2p_io_stats *st)
{
	if (!st->bytes_bounced)
		return "direct";
	return st->bytes_direct ? "direct+bounce" : "bounce";
}

static void io_report(const struct io_opts *o, const struct p2p_buffer_info *info,
		      char near[][BLOCKDEV_BDF_LEN], int nnear, int64_t moved,
		      const struct p2p_io_stats *st, double secs, uint32_t crc)
{
	double mbps = secs > 0 ? (double)moved / 1e6 / secs : 0;
	char crcs[16];

	snprintf(crcs, sizeof(crcs), "%08x", crc);
	if (o->json) {
		struct json_object *d = json_object_new_object(), *jn = json_object_new_array();

		for (int i = 0; i < nnear; i++)
			json_object_array_add(jn, json_object_new_string(near[i]));
		json_object_object_add(d, "op",
				       json_object_new_string(o->write ? "write" : "read"));
		json_object_object_add(d, "file", json_object_new_string(o->file));
		json_object_object_add(d, "offset", json_object_new_uint64(o->offset));
		json_object_object_add(d, "bytes", json_object_new_int64(moved));
		json_object_object_add(d, "buffer", json_object_new_uint64(info->id));
		json_object_object_add(d, "type", json_object_new_string(info->type_name));
		json_object_object_add(d, "provider", json_object_new_string(info->provider));
		json_object_object_add(d, "near", jn);
		json_object_object_add(d, "path", json_object_new_string(io_path_name(st)));
		json_object_object_add(d, "bytes_direct", json_object_new_uint64(st->bytes_direct));
		json_object_object_add(d, "bytes_bounced",
				       json_object_new_uint64(st->bytes_bounced));
		json_object_object_add(
		    d, "bounce_reason",
		    st->direct_error ? json_object_new_string(strerrorname_np(-st->direct_error))
				     : NULL);
		json_object_object_add(d, "seconds", json_object_new_double(secs));
		json_object_object_add(d, "mb_per_s", json_object_new_double(mbps));
		json_object_object_add(d, "crc32", json_object_new_string(crcs));
		p2pctl_print_json(stdout, d);
		json_object_put(d);
		return;
	}
	printf("%s %s: %" PRId64 " bytes at offset %" PRIu64 " %s %s buffer %" PRIu64 "%s%s",
	       o->write ? "write" : "read", o->file, moved, o->offset, o->write ? "from" : "into",
	       info->type_name, info->id, *info->provider ? " on " : "", info->provider);
	for (int i = 0; i < nnear; i++)
		printf("%s%s", i ? ", " : " (near ", near[i]);
	printf("%s\n", nnear ? ")" : "");
	printf("path: %s (direct %" PRIu64 " bytes, bounced %" PRIu64 " bytes%s%s)\n",
	       io_path_name(st), st->bytes_direct, st->bytes_bounced, st->direct_error ? ": " : "",
	       st->direct_error ? strerror(-st->direct_error) : "");
	printf("speed: %.1f MB/s (%.6f s)\n", mbps, secs);
	printf("crc32: %s (the data as seen through the buffer's mapping)\n", crcs);
}

int io_main(int argc, char **argv, int cmd)
{
	struct io_opts o = {0};
	char near[BLOCKDEV_MAX_FUNCS][BLOCKDEV_BDF_LEN];
	const char *peers[BLOCKDEV_MAX_FUNCS];
	struct p2p_alloc_req req = {.types = P2P_BUF_P2P, .name = "p2pctl-io"};
	struct p2p_buffer_info info;
	struct p2p_io_stats st = {0};
	struct p2p_buffer *buf = NULL;
	struct p2p_conn *c = NULL;
	struct timespec t0, t1;
	int fd, bfd = -1, nnear = 0, r, rc = 1;
	int64_t size, moved;
	dev_t dev;

	if (io_parse(argc, argv, cmd, &o) < 0)
		return 2;
	fd = open(o.file, (o.write ? O_WRONLY : O_RDONLY) | O_CLOEXEC);
	if (fd < 0) {
		p2pctl_err("%s: %s", o.file, strerror(errno));
		return 1;
	}
	size = io_file_size(fd);
	if (!o.have_length) {
		if (o.write || size < 0 || (uint64_t)size <= o.offset) {
			p2pctl_err("%s: give --length (%s)", o.file,
				   o.write    ? "bytes to write from standard input"
				   : size < 0 ? "not a regular file or block device"
					      : "the offset is at or past the end");
			goto out;
		}
		o.length = (uint64_t)size - o.offset;
	}
	if (o.length > SIZE_MAX - 4096) {
		p2pctl_err("--length too large");
		goto out;
	}

	/* Near this file: the PCI functions behind its storage are the peers. */
	r = blockdev_of_fd(fd, &dev);
	if (r >= 0)
		r = blockdev_pci_functions(NULL, dev, near, BLOCKDEV_MAX_FUNCS);
	if (r > 0) {
		nnear = r;
		for (int i = 0; i < nnear; i++)
			peers[i] = near[i];
	} else if (!o.json) {
		fprintf(stderr, "p2pctl: %s: no PCI device found behind it (%s); any provider\n",
			o.file, strerror(-r));
	}
	req.size = (o.length + 4095) / 4096 * 4096;
	req.provider = o.provider ? o.provider : "auto";
	req.peers = peers;
	req.npeers = (size_t)nnear;

	r = p2p_connect(o.socket, &c); /* NULL: $P2PD_SOCKET or the default */
	if (r < 0) {
		p2pctl_err("cannot connect to p2pd: %s", p2p_strerror(r));
		goto out;
	}
	r = p2p_alloc(c, &req, &info, &bfd, NULL);
	if (r < 0) {
		const char *m = p2p_last_message(c);

		p2pctl_err("alloc %" PRIu64 " bytes near %s: %s", req.size, o.file,
			   m && *m ? m : p2p_strerror(r));
		goto out;
	}
	r = p2p_buffer_map(bfd, info.size, &buf);
	if (r < 0) {
		p2pctl_err("map buffer %" PRIu64 ": %s", info.id, strerror(-r));
		goto out;
	}
	if (o.write && (r = io_read_stdin(p2p_buffer_data(buf), o.length)) < 0) {
		p2pctl_err("standard input: %s",
			   r == -EIO ? "fewer bytes than --length" : strerror(-r));
		goto out;
	}

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (o.write)
		moved = p2p_buffer_pwrite(buf, 0, fd, o.offset, o.length,
					  o.direct_only ? P2P_IO_DIRECT_ONLY : 0, &st);
	else
		moved = p2p_buffer_pread(buf, 0, fd, o.offset, o.length,
					 o.direct_only ? P2P_IO_DIRECT_ONLY : 0, &st);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (moved < 0) {
		p2pctl_err("%s %s: %s%s", o.write ? "write" : "read", o.file, strerror((int)-moved),
			   o.direct_only && (moved == -EREMOTEIO || moved == -EOPNOTSUPP)
			       ? " (--direct-only: no bounce through host memory)"
			       : "");
		goto out;
	}
	io_report(&o, &info, near, nnear, moved, &st,
		  (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
		  (uint32_t)crc32_z(0, p2p_buffer_data(buf), (size_t)moved));
	rc = 0;
out:
	p2p_buffer_unmap(buf);
	if (bfd >= 0)
		close(bfd);
	p2p_disconnect(c);
	close(fd);
	return rc;
}
