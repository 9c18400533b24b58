/* alloc-client.c - get a typed buffer from p2pd.
 * cc alloc-client.c $(pkg-config --cflags --libs libp2pclient) -o alloc-client */
#include <p2pclient.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

int main(void)
{
	struct p2p_conn *c;
	struct p2p_alloc_req req = {.size = 1 << 20, .types = P2P_BUF_HOST | P2P_BUF_MEMFD, .name = "example"};
	struct p2p_buffer_info info;
	struct stat st;
	int fd, r = p2p_connect(NULL, &c); /* $P2PD_SOCKET or /run/p2pd/p2pd.sock */
	if (r == 0)
		r = p2p_alloc(c, &req, &info, &fd, NULL);
	if (r < 0 || fstat(fd, &st) < 0)
		return fprintf(stderr, "alloc-client: %s\n", p2p_strerror(r)), 1;
	printf("buffer %llu: type %s via %s, %lld bytes, fd %d\n", (unsigned long long)info.id,
	       info.type_name, info.backend, (long long)st.st_size, fd);
	close(fd);
	p2p_disconnect(c);
	return 0;
}
