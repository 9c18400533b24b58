/* SPDX-License-Identifier: MIT */
/*
 * p2pclient-io.c - P2P I/O: move data between a file and a buffer's mapping
 * (p2p_buffer_pread/pwrite, the vendor-neutral cuFileRead/cuFileWrite).
 *
 * Direct: the range aligned to the file's direct-I/O alignment is read or
 * written with O_DIRECT (the fd reopened through /proc/self/fd when it was
 * not opened so) straight to or from the mapping; on kernels >= 6.2 with a
 * page-mapped p2p buffer (P2PB_BUF_F_DIRECT_IO) the block layer pins the
 * device pages (FOLL_PCI_P2PDMA) and the NVMe DMAs to the provider's BAR.
 * Bounce: everything else (unaligned head and tail, a kernel that cannot pin
 * device memory, a pair the kernel refuses with EREMOTEIO) goes through host
 * memory, the page cache, with a buffered pread/pwrite on the mapping.  The
 * kernel does that copy, so a revoked buffer yields -EFAULT, never SIGBUS.
 *
 * No state is shared between calls but the buffer's mapping (immutable) and
 * the kernel-release probe (once): calls may run concurrently.
 */
#include "p2pclient.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

struct p2p_buffer {
	int fd;	    /* the library's own dup, O_CLOEXEC */
	void *data; /* MAP_SHARED mapping of @size bytes */
	uint64_t size;
};

P2P_EXPORT int p2p_buffer_map(int fd, uint64_t size, struct p2p_buffer **ret_buf)
{
	struct p2p_buffer *b;
	int r;

	if (fd < 0 || !ret_buf)
		return -EINVAL;
	if (size == 0 || size > (uint64_t)SIZE_MAX)
		return -EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (b->fd < 0) {
		r = -errno;
		free(b);
		return r;
	}
	b->data = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, b->fd, 0);
	if (b->data == MAP_FAILED) {
		r = -errno;
		close(b->fd);
		free(b);
		return r;
	}
	b->size = size;
	*ret_buf = b;
	return 0;
}

P2P_EXPORT void p2p_buffer_unmap(struct p2p_buffer *buf)
{
	if (!buf)
		return;
	munmap(buf->data, buf->size);
	close(buf->fd);
	free(buf);
}

P2P_EXPORT void *p2p_buffer_data(const struct p2p_buffer *buf)
{
	return buf ? buf->data : NULL;
}

P2P_EXPORT uint64_t p2p_buffer_size(const struct p2p_buffer *buf)
{
	return buf ? buf->size : 0;
}

/* Whether the running kernel can pin p2p pages for O_DIRECT (>= 6.2). */
static bool io_kernel_has_p2p_io(void)
{
	static int cached = -1; /* benign race: every thread computes the same */
	struct utsname u;
	unsigned maj = 0, min = 0;

	if (cached >= 0)
		return cached;
	if (uname(&u) == 0 && sscanf(u.release, "%u.%u", &maj, &min) == 2)
		cached = maj > 6 || (maj == 6 && min >= 2);
	else
		cached = 0;
	return cached;
}

/*
 * Direct-I/O alignment of @fd (file offset, length and memory): statx's
 * STATX_DIOALIGN, else the block device's logical block size, else 4096.
 * Returns 0 when @fd cannot do direct I/O at all (statx says so).
 */
static unsigned io_dio_align(int fd)
{
	struct statx sx;
	int lbs;

	if (statx(fd, "", AT_EMPTY_PATH, STATX_TYPE | STATX_DIOALIGN, &sx) == 0) {
		if (sx.stx_mask & STATX_DIOALIGN) {
			if (!sx.stx_dio_offset_align)
				return 0;
			return sx.stx_dio_offset_align > sx.stx_dio_mem_align
				   ? sx.stx_dio_offset_align
				   : sx.stx_dio_mem_align;
		}
		if (S_ISBLK(sx.stx_mode) && ioctl(fd, BLKSSZGET, &lbs) == 0 && lbs > 0)
			return (unsigned)lbs;
	}
	return 4096;
}

/*
 * An fd on @fd's file with O_DIRECT set (@direct) or clear: @fd itself
 * (*ret_own = false) when it already is, else a reopen through
 * /proc/self/fd with the access mode @acc (*ret_own = true, caller closes).
 */
static int io_fd_with(int fd, bool direct, int acc, bool *ret_own)
{
	char path[64];
	int fl = fcntl(fd, F_GETFL), nfd;

	if (fl < 0)
		return -errno;
	if (!!(fl & O_DIRECT) == direct) {
		*ret_own = false;
		return fd;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	nfd = open(path, acc | O_CLOEXEC | (direct ? O_DIRECT : 0));
	if (nfd < 0)
		return -errno;
	*ret_own = true;
	return nfd;
}

/* pread/pwrite all of @len (short only at end of file); bytes or -errno
 * (also after partial progress: the caller redoes the whole range). */
static int64_t io_all(bool write, int fd, void *p, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		size_t n = len - done;
		ssize_t r;

		if (n > (size_t)1 << 30)
			n = (size_t)1 << 30;
		r = write ? pwrite(fd, (char *)p + done, n, (off_t)(off + done))
			  : pread(fd, (char *)p + done, n, (off_t)(off + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (int64_t)done;
}

/* Bounce part: buffered I/O between the page cache and the mapping. */
static int64_t io_bounce(bool write, int fd, void *p, size_t len, uint64_t off)
{
	bool own = false;
	int64_t r;
	int bfd;

	if (!len)
		return 0;
	bfd = io_fd_with(fd, false, write ? O_WRONLY : O_RDONLY, &own);
	if (bfd < 0)
		return bfd;
	r = io_all(write, bfd, p, len, off);
	if (own)
		close(bfd);
	return r;
}

static int64_t io_transfer(bool write, struct p2p_buffer *buf, uint64_t buf_off, int fd,
			   uint64_t file_off, size_t len, unsigned flags,
			   struct p2p_io_stats *ret_stats)
{
	struct p2p_io_stats st = {0};
	uint64_t head = len, mid = 0, done = 0;
	char *p;
	unsigned align;
	int64_t r;

	if (!buf || fd < 0 || (flags & ~(P2P_IO_DIRECT_ONLY | P2P_IO_BOUNCE)) ||
	    (flags & P2P_IO_DIRECT_ONLY && flags & P2P_IO_BOUNCE))
		return -EINVAL;
	if (buf_off > buf->size || len > buf->size - buf_off)
		return -EINVAL;
	if (file_off > (uint64_t)INT64_MAX || len > (uint64_t)INT64_MAX - file_off)
		return -EINVAL;
	p = (char *)buf->data + buf_off;

	/* Split into bounced head, direct middle, bounced tail. */
	align = flags & P2P_IO_BOUNCE ? 0 : io_dio_align(fd);
	if (flags & P2P_IO_BOUNCE) {
		/* asked for: all of it bounced, no error to report */
	} else if (!align) {
		st.direct_error = -EINVAL;
	} else if ((file_off - buf_off) % align) {
		st.direct_error = -EINVAL; /* file and buffer offsets out of phase */
	} else {
		head = (align - file_off % align) % align;
		if (head > len)
			head = len;
		mid = (len - head) / align * align;
	}
	if (flags & P2P_IO_DIRECT_ONLY) {
		if (st.direct_error)
			return st.direct_error;
		if (head || mid != len)
			return -EINVAL;
	}

	if (mid) {
		bool own = false;
		int dfd = io_fd_with(fd, true, write ? O_WRONLY : O_RDONLY, &own);

		r = dfd < 0 ? dfd : io_all(write, dfd, p + head, mid, file_off + head);
		if (own)
			close(dfd);
		if (r == -EFAULT && !io_kernel_has_p2p_io())
			r = -EOPNOTSUPP; /* kernel cannot pin device memory */
		if (r >= 0) {
			st.bytes_direct = (uint64_t)r;
			if ((uint64_t)r < mid) /* end of file */
				mid = (uint64_t)r, len = head + mid;
		} else if (flags & P2P_IO_DIRECT_ONLY) {
			return r;
		} else {
			/* Refused pair (-EREMOTEIO), no p2p I/O (-EOPNOTSUPP), a
			 * PFN-mapped buffer (-EFAULT): bounce it.  A revoked
			 * buffer fails again there, with -EFAULT. */
			st.direct_error = (int)r;
			head = len, mid = 0;
		}
	}

	r = io_bounce(write, fd, p, head, file_off);
	if (r < 0)
		return r;
	st.bytes_bounced = (uint64_t)r;
	done = (uint64_t)r + st.bytes_direct;
	if ((uint64_t)r == head && head + mid < len) {
		r = io_bounce(write, fd, p + head + mid, len - head - mid, file_off + head + mid);
		if (r < 0)
			return r;
		st.bytes_bounced += (uint64_t)r;
		done += (uint64_t)r;
	}
	if (ret_stats)
		*ret_stats = st;
	return (int64_t)done;
}

P2P_EXPORT int64_t p2p_buffer_pread(struct p2p_buffer *buf, uint64_t buf_off, int fd,
				    uint64_t file_off, size_t len, unsigned flags,
				    struct p2p_io_stats *ret_stats)
{
	return io_transfer(false, buf, buf_off, fd, file_off, len, flags, ret_stats);
}

P2P_EXPORT int64_t p2p_buffer_pwrite(struct p2p_buffer *buf, uint64_t buf_off, int fd,
				     uint64_t file_off, size_t len, unsigned flags,
				     struct p2p_io_stats *ret_stats)
{
	return io_transfer(true, buf, buf_off, fd, file_off, len, flags, ret_stats);
}
