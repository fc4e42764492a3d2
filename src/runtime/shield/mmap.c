/*
 * mmap.c: mappings of shielded files. A read-only or private mapping is an
 * anonymous mapping filled with the verified plaintext (a snapshot: later
 * writes through the fd do not show in it). A shared writable mapping
 * would need every store written back through the cipher, which the shield
 * does not do: it fails with ENODEV and one line saying so, never silently.
 * mem_limits.c's mmap routes fd mappings here.
 */
#undef _FILE_OFFSET_BITS
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/log.h"
#include "runtime/shield/region.h"
#include "runtime/shield/shield.h"

static void *raw_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	long p = syscall(SYS_mmap, addr, len, prot, flags, fd, off);
	if (p < 0)
		return MAP_FAILED; /* errno set by syscall() */
	return (void *)p;
}

void *ward_shield_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	struct shield_ofd *o = shield_fd_get(fd);
	uint64_t size;
	size_t done = 0, avail;
	void *p;

	if (o == NULL)
		return raw_mmap(addr, len, prot, flags, fd, off);
	if ((flags & MAP_TYPE) == MAP_SHARED && (prot & PROT_WRITE)) {
		ward_error("cannot map %s/%s shared and writable: the file shield does not support shared writable mappings of protected files; map it read-only or private (mmap.ACCESS_READ or ACCESS_COPY) or use read and write",
			   shield_region_root(o->node->region), o->node->rel);
		shield_ofd_put(o);
		errno = ENODEV;
		return MAP_FAILED;
	}
	if ((o->flags & O_ACCMODE) == O_WRONLY || off < 0 || (off & 4095) != 0 || len == 0) {
		shield_ofd_put(o);
		errno = (off & 4095) || len == 0 ? EINVAL : EACCES;
		return MAP_FAILED;
	}
	p = raw_mmap(addr, len, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE | MAP_POPULATE)), -1, 0);
	if (p == MAP_FAILED) {
		shield_ofd_put(o);
		return MAP_FAILED;
	}
	shield_be_size(o->node, &size);
	avail = (uint64_t)off >= size ? 0 : (size - (uint64_t)off < len ? (size_t)(size - (uint64_t)off) : len);
	while (done < avail) {
		ssize_t r = shield_be_pread(o->node, (char *)p + done, avail - done, (uint64_t)off + done);
		if (r <= 0) {
			munmap(p, len);
			shield_ofd_put(o);
			errno = r < 0 ? (int)-r : EIO;
			return MAP_FAILED;
		}
		done += (size_t)r;
	}
	shield_ofd_put(o);
	if (prot != (PROT_READ | PROT_WRITE) && mprotect(p, len, prot) != 0) {
		int e = errno;
		munmap(p, len);
		errno = e;
		return MAP_FAILED;
	}
	return p;
}
