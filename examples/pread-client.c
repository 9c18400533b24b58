/* pread-client.c - read a file into a p2p buffer near its NVMe with one call.
 * cc pread-client.c $(pkg-config --cflags --libs libp2pclient) -o pread-client
 * ./pread-client FILE BYTES NVME_BDF     (e.g. /dev/nvme0n1 1048576 0000:05:00.0) */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <p2pclient.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	const char *peers[] = {argc > 3 ? argv[3] : ""};
	struct p2p_alloc_req req = {.size = argc > 2 ? strtoull(argv[2], NULL, 0) : 0,
				    .types = P2P_BUF_P2P, .peers = peers, .npeers = 1};
	struct p2p_buffer_info info;
	struct p2p_io_stats st;
	struct p2p_buffer *buf = NULL;
	struct p2p_conn *c = NULL;
	int bfd = -1, fd = argc > 3 ? open(argv[1], O_RDONLY | O_CLOEXEC) : -1;
	int64_t n = fd < 0 ? -EINVAL : p2p_connect(NULL, &c); /* $P2PD_SOCKET or /run/p2pd */
	if (n == 0)
		n = p2p_alloc(c, &req, &info, &bfd, NULL); /* the provider nearest the NVMe */
	if (n == 0)
		n = p2p_buffer_map(bfd, info.size, &buf);
	if (n == 0) /* the one call: NVMe -> device memory, direct when the kernel can */
		n = p2p_buffer_pread(buf, 0, fd, 0, req.size, 0, &st);
	if (n < 0)
		return fprintf(stderr, "pread-client: %s\n", p2p_strerror((int)n)), 1;
	printf("%" PRId64 " bytes into %s buffer on %s: %" PRIu64 " direct, %" PRIu64 " bounced\n", n,
	       info.type_name, info.provider, st.bytes_direct, st.bytes_bounced);
	p2p_buffer_unmap(buf);
	close(bfd);
	p2p_disconnect(c);
	return 0;
}
