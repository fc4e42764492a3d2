/*
 * mmap.c: mappings of shielded files. mem_limits.c's mmap routes fd
 * mappings here; munmap, msync and mremap are interposed here.
 *
 * Private mappings, and shared read-only mappings made through a read-only
 * descriptor of a file not mapped shared already, are anonymous mappings
 * filled with the verified plaintext (a snapshot: later writes through an
 * fd do not show in them). The shared ones are in the table of mappings
 * too (with no image), so that mprotect can refuse to make them writable.
 *
 * Shared mappings in a writable region (encrypted, ephemeral) made through
 * a descriptor open for reading and writing map the file's image: a memfd
 * holding its plaintext, filled once through the volume's read path (every
 * byte verified), one per file however many descriptors and mappings it
 * has, so that all mappings see each other's stores as they would through
 * the page cache. While a file has an image (from its first such mapping
 * to its last munmap), every read of it (read, pread, stdio, private
 * mappings, fstat's size) is served from the image, and every write,
 * append and truncate goes to the volume and then to the image, under the
 * image's lock: the volume and the image stay equal but for the stores made
 * through mappings, and write() shows in existing mappings as on Linux.
 * Later shared mappings of the file, read-only ones too, map the image.
 *
 * Stores through mappings reach the volume by write-back: the image's bytes
 * are written through the normal encrypted path (shield_vol_pwrite) with a
 * descriptor of the file open for writing that the image holds. Only the
 * range that writable mappings covered since the last full write-back is
 * written, and of it only the pages the memfd holds (SEEK_DATA: pages that
 * were zero when the image was filled and were never touched are holes of
 * both). Write-back happens at
 *   msync(MS_SYNC)       that range of the file, then a durable commit (as fsync);
 *   msync(MS_ASYNC)      that range, committed with the file's next commit;
 *   fsync, fdatasync     the whole image, then the durable commit;
 *   munmap of the last mapping: the whole image; the image is then dropped
 *                        and the file is read from the volume again (the
 *                        write-back is committed with the file's next commit:
 *                        close of its last descriptor, fsync, or exit);
 *   exit                 every image, once, committed, before the volume
 *                        tags are reported to the CAS and the volumes closed.
 * So nothing msync'd or fsync'd is lost after a kill -9; stores not yet
 * written back are lost with it (as unsynced writes are), and the volume
 * always verifies. A failed write-back logs one line; the image is then kept
 * (and tried again at exit).
 *
 * mprotect (and pkey_mprotect) that adds PROT_WRITE to a shared mapping of
 * an image is refused with EACCES, as the kernel refuses it, when the
 * mapping was made through a descriptor not open for reading and writing;
 * otherwise the mapping counts as writable from then on (its range is
 * written back as if it had been mapped writable).
 *
 * Not supported, refused with ENODEV and one line: mremap of part of a
 * mapping of an image, and MREMAP_DONTUNMAP on one. madvise(MADV_REMOVE) on
 * a mapping of an image punches a hole in the image only. fork is refused
 * in an enclave (proc_shield.c), so no other process shares an image.
 *
 * Locks: shield_table_lock (fdtable.c) guards node->img, the images' counts
 * and dirty ranges, and the table of mappings; an image's mu serialises its
 * reads, writes, fill and write-back. mu is taken before the table lock,
 * never while holding it. Nothing here runs with shield_inside set: the
 * volume library's own munmap calls go straight to the C library.
 */
#undef _FILE_OFFSET_BITS
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/log.h"
#include "runtime/shield/real.h"
#include "runtime/shield/region.h"
#include "runtime/shield/shield.h"

#define PAGE 4096u
#define STAGE ((size_t)1 << 20)

struct shield_image {
	int fd;                    /* the memfd holding the plaintext */
	pthread_mutex_t mu;        /* serialises reads, writes, fill and write-back */
	uint64_t size;             /* the file's size (== the memfd's); under mu */
	/* under shield_table_lock: */
	struct shield_node *node;  /* held: the file (its path follows renames) */
	struct shield_node *wnode; /* held: a node open for writing, for write-back; or NULL */
	unsigned refs;             /* 1 while attached to the file's nodes, + users */
	unsigned maps;             /* mappings in the table + mmaps in progress */
	uint64_t dlo, dhi;         /* what writable mappings covered since the last full write-back */
	int attached;
	int stuck;                 /* a write-back at munmap failed: kept until exit */
	struct shield_image *next;
};

struct map_ent {
	uintptr_t addr;
	size_t len;
	uint64_t off;
	struct shield_image *img; /* NULL: a snapshot shared through a read-only descriptor */
	int writable; /* mapped with PROT_WRITE, or given it by mprotect */
	int maywrite; /* made through a descriptor open for reading and writing */
};

/* under shield_table_lock */
static struct map_ent *ents;
static size_t nents, cap_ents;
static size_t live_ents; /* nents, read without the lock for the fast path */
static struct shield_image *images;
static unsigned attached_images; /* images attached to files; read without the lock on every open */

static size_t page_up(size_t n)
{
	return (n + PAGE - 1) & ~(size_t)(PAGE - 1);
}

static void *raw_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	long p = syscall(SYS_mmap, addr, len, prot, flags, fd, off);
	if (p < 0)
		return MAP_FAILED; /* errno set by syscall() */
	return (void *)p;
}

static int no_maps(void)
{
	return __atomic_load_n(&live_ents, __ATOMIC_ACQUIRE) == 0;
}

/* ---- images: references, memfd I/O ---- */

static struct shield_image *img_get(struct shield_node *n)
{
	struct shield_image *img;
	if (__atomic_load_n(&n->img, __ATOMIC_ACQUIRE) == NULL)
		return NULL;
	pthread_mutex_lock(&shield_table_lock);
	img = n->img;
	if (img != NULL)
		img->refs++;
	pthread_mutex_unlock(&shield_table_lock);
	return img;
}

static void img_put(struct shield_image *img)
{
	int last;
	pthread_mutex_lock(&shield_table_lock);
	last = --img->refs == 0;
	pthread_mutex_unlock(&shield_table_lock);
	if (!last)
		return;
	syscall(SYS_close, img->fd);
	pthread_mutex_destroy(&img->mu);
	free(img);
}

static int mem_pread(int fd, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;
	while (done < len) {
		long r = syscall(SYS_pread64, fd, (char *)buf + done, len - done, (off_t)(off + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		done += (size_t)r;
	}
	return 0;
}

static int mem_pwrite(int fd, const void *buf, size_t len, uint64_t off)
{
	size_t done = 0;
	while (done < len) {
		long r = syscall(SYS_pwrite64, fd, (const char *)buf + done, len - done, (off_t)(off + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -ENOSPC;
		done += (size_t)r;
	}
	return 0;
}

static void img_name(struct shield_image *img, char *out, size_t outlen)
{
	pthread_mutex_lock(&shield_table_lock);
	if (img->node != NULL)
		snprintf(out, outlen, "%s/%s", shield_region_root(img->node->region), img->node->rel);
	else
		snprintf(out, outlen, "a mapped file");
	pthread_mutex_unlock(&shield_table_lock);
}

/* A write or truncate that reached the volume but not the image: the two
 * now differ, which must not pass silently. */
static int img_diverged(struct shield_image *img, int rc)
{
	char name[PATH_MAX + 64];
	img_name(img, name, sizeof(name));
	ward_error("cannot update the in-memory image of %s, which is mapped shared: %s; the write reached the file but not its mappings (free memory, or unmap it before writing)",
		   name, strerror(-rc));
	return rc;
}

/* The bytes just written to the volume at off, into the image (mu held). */
static int img_apply(struct shield_image *img, const void *buf, size_t len, uint64_t off)
{
	int rc = mem_pwrite(img->fd, buf, len, off);
	if (rc != 0)
		return img_diverged(img, rc);
	if (off + len > img->size)
		img->size = off + len;
	return 0;
}

static int img_resize(struct shield_image *img, uint64_t size)
{
	if (syscall(SYS_ftruncate, img->fd, (off_t)size) != 0)
		return img_diverged(img, -errno);
	img->size = size;
	return 0;
}

static int all_zero(const unsigned char *p, size_t n)
{
	return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

/* Fills a new image from the volume through n (mu held). Pages that are
 * zero are left as holes of the memfd. */
static int img_fill(struct shield_image *img, struct shield_node *n)
{
	uint64_t size, done = 0;
	unsigned char *buf;
	int rc = shield_vol_size(n, &size);
	if (rc != 0)
		return rc;
	if (syscall(SYS_ftruncate, img->fd, (off_t)size) != 0)
		return -errno;
	img->size = size;
	if (size == 0)
		return 0;
	buf = malloc(STAGE);
	if (buf == NULL)
		return -ENOMEM;
	while (done < size) {
		size_t want = size - done < STAGE ? (size_t)(size - done) : STAGE, got = 0;
		while (got < want) {
			ssize_t r = shield_vol_pread(n, buf + got, want - got, done + got);
			if (r <= 0) {
				rc = r < 0 ? (int)r : -EIO;
				goto out;
			}
			got += (size_t)r;
		}
		for (size_t p = 0; p < want; p += PAGE) {
			size_t k = want - p < PAGE ? want - p : PAGE;
			if (!all_zero(buf + p, k) && (rc = mem_pwrite(img->fd, buf + p, k, done + p)) != 0)
				goto out;
		}
		done += want;
	}
out:
	free(buf);
	return rc;
}

/* Writes [lo, hi) of the image, as far as writable mappings covered it,
 * into the volume (mu held). full: the whole image, after which the dirty
 * range is what the remaining writable mappings cover. */
static int img_writeback(struct shield_image *img, uint64_t lo, uint64_t hi, int full)
{
	struct shield_node *w;
	uint64_t dlo, dhi, pos;
	unsigned char *buf = NULL;
	int rc = 0;

	pthread_mutex_lock(&shield_table_lock);
	w = img->wnode;
	dlo = img->dlo;
	dhi = img->dhi;
	pthread_mutex_unlock(&shield_table_lock);
	if (w == NULL)
		return 0; /* never mapped writable: nothing was stored */
	if (full) {
		lo = 0;
		hi = img->size;
	}
	if (lo < dlo)
		lo = dlo;
	if (hi > dhi)
		hi = dhi;
	if (hi > img->size)
		hi = img->size;
	for (pos = lo; pos < hi;) {
		off_t d = (off_t)syscall(SYS_lseek, img->fd, (off_t)pos, SEEK_DATA), h;
		if (d < 0 && errno == ENXIO)
			break; /* only holes from pos on */
		if (d < 0) {
			d = (off_t)pos; /* no SEEK_DATA: all of it */
			h = (off_t)hi;
		} else {
			h = (off_t)syscall(SYS_lseek, img->fd, d, SEEK_HOLE);
			if (h < 0)
				h = (off_t)hi;
		}
		if ((uint64_t)d >= hi)
			break;
		if ((uint64_t)h > hi)
			h = (off_t)hi;
		if (buf == NULL && (buf = malloc(STAGE)) == NULL) {
			rc = -ENOMEM;
			break;
		}
		for (uint64_t o = (uint64_t)d; o < (uint64_t)h && rc == 0;) {
			size_t k = (uint64_t)h - o < STAGE ? (size_t)((uint64_t)h - o) : STAGE;
			ssize_t r;
			if ((rc = mem_pread(img->fd, buf, k, o)) != 0)
				break;
			r = shield_vol_pwrite(w, buf, k, o);
			if (r < 0)
				rc = (int)r;
			else if ((size_t)r != k)
				rc = -EIO;
			o += k;
		}
		if (rc != 0)
			break;
		pos = (uint64_t)h;
	}
	free(buf);
	if (rc != 0) {
		char name[PATH_MAX + 64];
		img_name(img, name, sizeof(name));
		ward_error("cannot write the stores of the shared mapping of %s back into the volume: %s; they are not in the file (free space in the volume, then msync or fsync again)",
			   name, strerror(-rc));
		return rc;
	}
	if (full) {
		pthread_mutex_lock(&shield_table_lock);
		img->dlo = UINT64_MAX;
		img->dhi = 0;
		for (size_t i = 0; i < nents; i++)
			if (ents[i].img == img && ents[i].writable) {
				if (ents[i].off < img->dlo)
					img->dlo = ents[i].off;
				if (ents[i].off + ents[i].len > img->dhi)
					img->dhi = ents[i].off + ents[i].len;
			}
		pthread_mutex_unlock(&shield_table_lock);
	}
	return 0;
}

/* Drops an image nobody maps any more (mu held, written back): its nodes
 * read and write the volume again. */
static void img_drop_if_unused(struct shield_image *img)
{
	struct shield_node *a, *b;
	pthread_mutex_lock(&shield_table_lock);
	if (img->maps != 0 || !img->attached) {
		pthread_mutex_unlock(&shield_table_lock);
		return;
	}
	img->attached = 0;
	__atomic_sub_fetch(&attached_images, 1, __ATOMIC_RELEASE);
	for (struct shield_image **pp = &images; *pp != NULL; pp = &(*pp)->next)
		if (*pp == img) {
			*pp = img->next;
			break;
		}
	shield_nodes_clear_image_locked(img);
	a = img->node;
	b = img->wnode;
	img->node = img->wnode = NULL;
	img->refs--; /* the attachment's; the caller still holds one */
	pthread_mutex_unlock(&shield_table_lock);
	if (a != NULL)
		shield_node_put(a);
	if (b != NULL)
		shield_node_put(b); /* the last reference commits the file (ward_vf_close) */
}

/* Writes back and drops the images whose last mapping went away. */
static void reap(void)
{
	for (;;) {
		struct shield_image *img = NULL;
		pthread_mutex_lock(&shield_table_lock);
		for (struct shield_image *i = images; i != NULL; i = i->next)
			if (i->maps == 0 && i->attached && !i->stuck) {
				img = i;
				img->refs++;
				break;
			}
		pthread_mutex_unlock(&shield_table_lock);
		if (img == NULL)
			return;
		pthread_mutex_lock(&img->mu);
		if (img_writeback(img, 0, 0, 1) == 0) {
			img_drop_if_unused(img);
		} else {
			pthread_mutex_lock(&shield_table_lock);
			img->stuck = 1;
			pthread_mutex_unlock(&shield_table_lock);
		}
		pthread_mutex_unlock(&img->mu);
		img_put(img);
	}
}

/* ---- the table of mappings (shield_table_lock held) ---- */

static int reg_add(uintptr_t addr, size_t len, uint64_t off, struct shield_image *img, int writable, int maywrite)
{
	if (nents == cap_ents) {
		size_t cap = cap_ents ? cap_ents * 2 : 16;
		struct map_ent *e = realloc(ents, cap * sizeof(*e));
		if (e == NULL)
			return -ENOMEM;
		ents = e;
		cap_ents = cap;
	}
	ents[nents++] = (struct map_ent){ addr, len, off, img, writable, maywrite };
	if (writable) {
		if (off < img->dlo)
			img->dlo = off;
		if (off + len > img->dhi)
			img->dhi = off + len;
	}
	__atomic_store_n(&live_ents, nents, __ATOMIC_RELEASE);
	return 0;
}

/* [addr, addr+len) is no longer mapped: trims, splits or removes entries.
 * Returns 1 when an image lost its last mapping. */
static int reg_remove(uintptr_t addr, size_t len)
{
	uintptr_t end = addr + page_up(len);
	int orphan = 0;
	for (size_t i = 0; i < nents;) {
		struct map_ent *e = &ents[i];
		uintptr_t ee = e->addr + e->len;
		if (ee <= addr || e->addr >= end) {
			i++;
			continue;
		}
		if (addr <= e->addr && end >= ee) { /* all of it */
			if (e->img != NULL && --e->img->maps == 0)
				orphan = 1;
			ents[i] = ents[--nents];
			continue;
		}
		if (addr > e->addr && end < ee) { /* a hole in the middle: two entries */
			struct map_ent right = { end, ee - end, e->off + (end - e->addr), e->img, e->writable, e->maywrite };
			e->len = addr - e->addr;
			if (reg_add(right.addr, right.len, right.off, right.img, right.writable, right.maywrite) == 0 &&
			    right.img != NULL)
				right.img->maps++;
			i++;
			continue;
		}
		if (addr <= e->addr) { /* the front */
			e->off += end - e->addr;
			e->len = ee - end;
			e->addr = end;
		} else { /* the back */
			e->len = addr - e->addr;
		}
		i++;
	}
	__atomic_store_n(&live_ents, nents, __ATOMIC_RELEASE);
	return orphan;
}

/* ---- mmap ---- */

/* The image of n's file with one reference and one mapping reserved;
 * created and filled when create is set and there is none. NULL: none and
 * not created (*err 0), or failed (*err -errno). */
static struct shield_image *img_for_map(struct shield_node *n, int create, int *err)
{
	struct shield_image *img, *fresh;
	char name[PATH_MAX + 64];
	int rc;

	*err = 0;
	pthread_mutex_lock(&shield_table_lock);
	img = n->img;
	if (img != NULL) {
		img->refs++;
		img->maps++;
		img->stuck = 0;
	}
	pthread_mutex_unlock(&shield_table_lock);
	if (img != NULL || !create)
		return img;

	fresh = calloc(1, sizeof(*fresh));
	if (fresh == NULL) {
		*err = -ENOMEM;
		return NULL;
	}
	fresh->fd = (int)syscall(SYS_memfd_create, "ward-mmap", MFD_CLOEXEC);
	if (fresh->fd < 0) {
		rc = -errno;
		snprintf(name, sizeof(name), "%s/%s", shield_region_root(n->region), n->rel);
		ward_error("cannot map %s shared: cannot create its in-memory image: %s", name, strerror(-rc));
		free(fresh);
		*err = rc;
		return NULL;
	}
	pthread_mutex_init(&fresh->mu, NULL);
	fresh->dlo = UINT64_MAX;
	pthread_mutex_lock(&fresh->mu);
	pthread_mutex_lock(&shield_table_lock);
	if (n->img != NULL) { /* another thread made it meanwhile */
		img = n->img;
		img->refs++;
		img->maps++;
		pthread_mutex_unlock(&shield_table_lock);
		pthread_mutex_unlock(&fresh->mu);
		fresh->refs = 1;
		img_put(fresh);
		return img;
	}
	/* Attached before it is filled (under mu, which readers and writers
	 * take): a write that reached the volume after the fill read it finds
	 * the image and applies itself to it too. */
	fresh->refs = 2;
	fresh->maps = 1;
	fresh->attached = 1;
	fresh->node = n;
	shield_node_hold_locked(n);
	fresh->next = images;
	images = fresh;
	__atomic_add_fetch(&attached_images, 1, __ATOMIC_RELEASE);
	shield_nodes_set_image_locked(n, NULL, fresh);
	pthread_mutex_unlock(&shield_table_lock);
	rc = img_fill(fresh, n);
	if (rc != 0) {
		pthread_mutex_lock(&shield_table_lock);
		fresh->maps--;
		pthread_mutex_unlock(&shield_table_lock);
		img_drop_if_unused(fresh);
		pthread_mutex_unlock(&fresh->mu);
		img_put(fresh);
		*err = rc;
		return NULL;
	}
	pthread_mutex_unlock(&fresh->mu);
	return fresh;
}

static void *map_image(struct shield_image *img, struct shield_node *n, int maywrite, void *addr, size_t len, int prot,
		       int flags, off_t off)
{
	void *p;
	int rc, orphan = 0, e;

	maywrite = maywrite && n->writable;
	if (maywrite) { /* writable now, or later through mprotect */
		pthread_mutex_lock(&img->mu);
		pthread_mutex_lock(&shield_table_lock);
		if (img->wnode == NULL) {
			img->wnode = n;
			shield_node_hold_locked(n);
		}
		pthread_mutex_unlock(&shield_table_lock);
		pthread_mutex_unlock(&img->mu);
	}
	p = raw_mmap(addr, len, prot, flags, img->fd, off);
	e = errno;
	pthread_mutex_lock(&shield_table_lock);
	if (p != MAP_FAILED) {
		if (flags & MAP_FIXED)
			orphan = reg_remove((uintptr_t)p, len); /* what it replaced */
		rc = reg_add((uintptr_t)p, page_up(len), (uint64_t)off, img, (prot & PROT_WRITE) != 0, maywrite);
		if (rc != 0) {
			syscall(SYS_munmap, p, len);
			p = MAP_FAILED;
			e = -rc;
		}
	}
	if (p == MAP_FAILED && --img->maps == 0)
		orphan = 1;
	pthread_mutex_unlock(&shield_table_lock);
	if (orphan)
		reap();
	img_put(img);
	errno = e;
	return p;
}

void *ward_shield_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	struct shield_ofd *o = shield_fd_get(fd);
	int acc, shared, err, rc;
	uint64_t size;
	size_t done = 0, avail;
	void *p;

	if (o == NULL)
		return raw_mmap(addr, len, prot, flags, fd, off);
	acc = o->flags & O_ACCMODE;
	shared = (flags & MAP_TYPE) == MAP_SHARED || (flags & MAP_TYPE) == MAP_SHARED_VALIDATE;
	if (off < 0 || (off & (PAGE - 1)) != 0 || len == 0) {
		shield_ofd_put(o);
		errno = EINVAL;
		return MAP_FAILED;
	}
	if (acc == O_WRONLY || (shared && (prot & PROT_WRITE) && acc != O_RDWR)) {
		shield_ofd_put(o); /* as the kernel: the descriptor does not allow it */
		errno = EACCES;
		return MAP_FAILED;
	}
	if (shared && (o->node->region->kind == SHIELD_ENCRYPTED || o->node->region->kind == SHIELD_EPHEMERAL)) {
		struct shield_image *img = img_for_map(o->node, acc == O_RDWR, &err);
		if (img != NULL) {
			p = map_image(img, o->node, acc == O_RDWR, addr, len, prot, flags, off);
			shield_ofd_put(o);
			return p;
		}
		if (err != 0) {
			shield_ofd_put(o);
			errno = -err;
			return MAP_FAILED;
		}
	}
	p = raw_mmap(addr, len, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE | MAP_POPULATE)), -1, 0);
	if (p == MAP_FAILED) {
		static int said;
		if (errno == ENOMEM && !__atomic_exchange_n(&said, 1, __ATOMIC_ACQ_REL)) {
			int e = errno;
			ward_error("cannot map %s/%s (%zu bytes): a mapping of a file in a region is a private copy of its "
				   "verified bytes and counts against the heap bound (WARD_HEAP); raise it with --heap, or "
				   "read the file in pieces",
				   shield_region_root(o->node->region), o->node->rel, len);
			errno = e;
		}
		shield_ofd_put(o);
		return MAP_FAILED;
	}
	if (flags & MAP_FIXED)
		ward_shield_unmapped(p, len);
	shield_be_size(o->node, &size);
	avail = (uint64_t)off >= size ? 0 : (size - (uint64_t)off < len ? (size_t)(size - (uint64_t)off) : len);
	while (done < avail) {
		ssize_t r = shield_be_pread(o->node, (char *)p + done, avail - done, (uint64_t)off + done);
		if (r <= 0) {
			syscall(SYS_munmap, p, len);
			shield_ofd_put(o);
			errno = r < 0 ? (int)-r : EIO;
			return MAP_FAILED;
		}
		done += (size_t)r;
	}
	shield_ofd_put(o);
	if (prot != (PROT_READ | PROT_WRITE) && REAL(mprotect)(p, len, prot) != 0) {
		int e = errno;
		syscall(SYS_munmap, p, len);
		errno = e;
		return MAP_FAILED;
	}
	if (shared && acc == O_RDONLY) {
		/* The kernel would never let this mapping become writable
		 * (mprotect gives EACCES); the table makes protect() say so. */
		pthread_mutex_lock(&shield_table_lock);
		rc = reg_add((uintptr_t)p, page_up(len), 0, NULL, 0, 0);
		pthread_mutex_unlock(&shield_table_lock);
		if (rc != 0) {
			syscall(SYS_munmap, p, len);
			errno = -rc;
			return MAP_FAILED;
		}
	}
	return p;
}

void ward_shield_unmapped(void *addr, size_t len)
{
	int orphan;
	if (no_maps() || shield_inside)
		return;
	pthread_mutex_lock(&shield_table_lock);
	orphan = reg_remove((uintptr_t)addr, len);
	pthread_mutex_unlock(&shield_table_lock);
	if (orphan) {
		int e = errno;
		reap();
		errno = e;
	}
}

int munmap(void *addr, size_t len)
{
	int rc;
	if (__builtin_expect(no_maps() || shield_inside, 1))
		return REAL(munmap)(addr, len);
	rc = REAL(munmap)(addr, len);
	if (rc == 0)
		ward_shield_unmapped(addr, len);
	return rc;
}

int msync(void *addr, size_t len, int flags)
{
	struct {
		struct shield_image *img;
		uint64_t lo, hi;
	} *todo = NULL;
	size_t ntodo = 0;
	uintptr_t a = (uintptr_t)addr, end;
	int rc = REAL(msync)(addr, len, flags), first = 0;

	if (__builtin_expect(rc != 0 || no_maps() || shield_inside, 1) || !(flags & (MS_SYNC | MS_ASYNC)))
		return rc;
	end = a + page_up(len);
	pthread_mutex_lock(&shield_table_lock);
	todo = calloc(nents ? nents : 1, sizeof(*todo));
	for (size_t i = 0; todo != NULL && i < nents; i++) {
		struct map_ent *e = &ents[i];
		uintptr_t lo = e->addr > a ? e->addr : a, hi = e->addr + e->len < end ? e->addr + e->len : end;
		if (lo >= hi || e->img == NULL)
			continue;
		e->img->refs++;
		todo[ntodo].img = e->img;
		todo[ntodo].lo = e->off + (lo - e->addr);
		todo[ntodo].hi = e->off + (hi - e->addr);
		ntodo++;
	}
	pthread_mutex_unlock(&shield_table_lock);
	if (todo == NULL) {
		errno = ENOMEM;
		return -1;
	}
	for (size_t i = 0; i < ntodo; i++) {
		struct shield_image *img = todo[i].img;
		int r;
		pthread_mutex_lock(&img->mu);
		r = img_writeback(img, todo[i].lo, todo[i].hi, 0);
		if (r == 0 && (flags & MS_SYNC)) {
			struct shield_node *w;
			pthread_mutex_lock(&shield_table_lock);
			w = img->wnode;
			pthread_mutex_unlock(&shield_table_lock);
			if (w != NULL)
				r = shield_vol_sync(w); /* durable, as fsync */
		}
		pthread_mutex_unlock(&img->mu);
		if (r != 0 && first == 0)
			first = r;
		img_put(img);
	}
	free(todo);
	if (first != 0) {
		errno = -first;
		return -1;
	}
	return 0;
}

/* mprotect and pkey_mprotect: adding PROT_WRITE to a shared mapping of an
 * image is what the kernel would allow on the file's own mapping (EACCES
 * when the descriptor it was made through was not open for reading and
 * writing), and makes its range one that write-back covers. */
static int protect(void *addr, size_t len, int prot, int pkey, int with_pkey)
{
	uintptr_t a = (uintptr_t)addr, end = a + page_up(len);
	int rc;

	if (__builtin_expect(no_maps() || shield_inside, 1) || !(prot & PROT_WRITE))
		return with_pkey ? REAL(pkey_mprotect)(addr, len, prot, pkey) : REAL(mprotect)(addr, len, prot);
	pthread_mutex_lock(&shield_table_lock);
	for (size_t i = 0; i < nents; i++) {
		struct map_ent *e = &ents[i];
		if (e->addr < end && a < e->addr + e->len && !e->writable && !e->maywrite) {
			pthread_mutex_unlock(&shield_table_lock);
			errno = EACCES; /* as the kernel: the descriptor does not allow it */
			return -1;
		}
	}
	rc = with_pkey ? REAL(pkey_mprotect)(addr, len, prot, pkey) : REAL(mprotect)(addr, len, prot);
	for (size_t i = 0; rc == 0 && i < nents; i++) {
		struct map_ent *e = &ents[i];
		if (e->addr < end && a < e->addr + e->len && !e->writable) {
			e->writable = 1; /* the whole entry: write-back may cover more, never less */
			if (e->img == NULL)
				continue;
			if (e->off < e->img->dlo)
				e->img->dlo = e->off;
			if (e->off + e->len > e->img->dhi)
				e->img->dhi = e->off + e->len;
		}
	}
	pthread_mutex_unlock(&shield_table_lock);
	return rc;
}

int mprotect(void *addr, size_t len, int prot)
{
	return protect(addr, len, prot, 0, 0);
}

int pkey_mprotect(void *addr, size_t len, int prot, int pkey)
{
	return protect(addr, len, prot, pkey, 1);
}

static void refuse_remap(struct shield_image *img, const char *what)
{
	char name[PATH_MAX + 64];
	img_name(img, name, sizeof(name));
	ward_error("cannot remap the shared mapping of %s: the file shield does not support %s for mappings of protected files; unmap it and map it again",
		   name, what);
}

void *mremap(void *old, size_t oldlen, size_t newlen, int flags, ...)
{
	void *want = NULL, *p;
	struct shield_image *img = NULL;
	int exact = 0, orphan = 0, snapshot = 0;
	if (flags & MREMAP_FIXED) {
		va_list ap;
		va_start(ap, flags);
		want = va_arg(ap, void *);
		va_end(ap);
	}
	if (__builtin_expect(no_maps() || shield_inside, 1))
		return REAL(mremap)(old, oldlen, newlen, flags, want);
	pthread_mutex_lock(&shield_table_lock);
	for (size_t i = 0; i < nents; i++)
		if ((uintptr_t)old >= ents[i].addr && (uintptr_t)old < ents[i].addr + ents[i].len) {
			img = ents[i].img;
			snapshot = img == NULL;
			if (img != NULL)
				img->refs++;
			exact = ents[i].addr == (uintptr_t)old && ents[i].len == page_up(oldlen);
			break;
		}
	pthread_mutex_unlock(&shield_table_lock);
	if (img == NULL) {
		p = REAL(mremap)(old, oldlen, newlen, flags, want);
		if (snapshot && p != MAP_FAILED) { /* the snapshot moves, grows or shrinks */
			int e = errno;
			pthread_mutex_lock(&shield_table_lock);
			if (!(flags & MREMAP_DONTUNMAP))
				reg_remove((uintptr_t)old, oldlen);
			reg_remove((uintptr_t)p, newlen);
			reg_add((uintptr_t)p, page_up(newlen), 0, NULL, 0, 0);
			pthread_mutex_unlock(&shield_table_lock);
			errno = e;
		}
		return p;
	}
	if (!exact || (flags & MREMAP_DONTUNMAP)) {
		refuse_remap(img, exact ? "MREMAP_DONTUNMAP" : "remapping part of a mapping");
		img_put(img);
		errno = ENODEV;
		return MAP_FAILED;
	}
	p = REAL(mremap)(old, oldlen, newlen, flags, want);
	if (p != MAP_FAILED) {
		int e = errno;
		pthread_mutex_lock(&shield_table_lock);
		for (size_t i = 0; i < nents; i++)
			if (ents[i].addr == (uintptr_t)old && ents[i].img == img) {
				struct map_ent m = ents[i];
				ents[i] = ents[--nents]; /* re-added below, after what it may replace */
				orphan = reg_remove((uintptr_t)p, newlen);
				if (reg_add((uintptr_t)p, page_up(newlen), m.off, img, m.writable, m.maywrite) != 0 &&
				    --img->maps == 0)
					orphan = 1;
				break;
			}
		pthread_mutex_unlock(&shield_table_lock);
		if (orphan)
			reap();
		errno = e;
	}
	img_put(img);
	return p;
}

/* ---- the fd calls' side (shield_be_*) ---- */

ssize_t shield_be_pread(struct shield_node *n, void *buf, size_t len, uint64_t off)
{
	struct shield_image *img = img_get(n);
	ssize_t r;
	if (img == NULL)
		return shield_vol_pread(n, buf, len, off);
	pthread_mutex_lock(&img->mu);
	if (off >= img->size)
		r = 0;
	else {
		if (len > img->size - off)
			len = (size_t)(img->size - off);
		r = mem_pread(img->fd, buf, len, off);
		if (r == 0)
			r = (ssize_t)len;
	}
	pthread_mutex_unlock(&img->mu);
	img_put(img);
	return r;
}

ssize_t shield_be_pwrite(struct shield_node *n, const void *buf, size_t len, uint64_t off)
{
	struct shield_image *img = img_get(n);
	ssize_t r;
	int rc;
	if (img == NULL) {
		r = shield_vol_pwrite(n, buf, len, off);
		if (r <= 0 || (img = img_get(n)) == NULL)
			return r;
		/* the image appeared meanwhile: it may have been filled before this write */
		pthread_mutex_lock(&img->mu);
		rc = img_apply(img, buf, (size_t)r, off);
	} else {
		pthread_mutex_lock(&img->mu);
		r = shield_vol_pwrite(n, buf, len, off);
		rc = r > 0 ? img_apply(img, buf, (size_t)r, off) : 0;
	}
	pthread_mutex_unlock(&img->mu);
	img_put(img);
	return rc != 0 ? rc : r;
}

ssize_t shield_be_append(struct shield_node *n, const void *buf, size_t len, uint64_t *end)
{
	struct shield_image *img = img_get(n);
	uint64_t e = 0;
	ssize_t r;
	int rc;
	if (img == NULL) {
		r = shield_vol_append(n, buf, len, &e);
		if (end != NULL)
			*end = e;
		if (r <= 0 || (img = img_get(n)) == NULL)
			return r;
		pthread_mutex_lock(&img->mu);
		rc = img_apply(img, buf, (size_t)r, e - (uint64_t)r);
	} else {
		pthread_mutex_lock(&img->mu);
		r = shield_vol_append(n, buf, len, &e);
		if (end != NULL)
			*end = e;
		rc = r > 0 ? img_apply(img, buf, (size_t)r, e - (uint64_t)r) : 0;
	}
	pthread_mutex_unlock(&img->mu);
	img_put(img);
	return rc != 0 ? rc : r;
}

int shield_be_size(struct shield_node *n, uint64_t *size)
{
	struct shield_image *img = img_get(n);
	if (img == NULL)
		return shield_vol_size(n, size);
	pthread_mutex_lock(&img->mu);
	*size = img->size;
	pthread_mutex_unlock(&img->mu);
	img_put(img);
	return 0;
}

int shield_be_truncate(struct shield_node *n, uint64_t size)
{
	struct shield_image *img = img_get(n);
	int rc;
	if (img == NULL) {
		rc = shield_vol_truncate(n, size);
		if (rc != 0 || (img = img_get(n)) == NULL)
			return rc;
		pthread_mutex_lock(&img->mu);
		rc = img_resize(img, size);
	} else {
		pthread_mutex_lock(&img->mu);
		rc = shield_vol_truncate(n, size);
		if (rc == 0)
			rc = img_resize(img, size);
	}
	pthread_mutex_unlock(&img->mu);
	img_put(img);
	return rc;
}

int shield_be_sync(struct shield_node *n)
{
	struct shield_image *img = img_get(n);
	int rc;
	if (img == NULL)
		return shield_vol_sync(n);
	pthread_mutex_lock(&img->mu);
	rc = img_writeback(img, 0, 0, 1);
	if (rc == 0)
		rc = shield_vol_sync(n);
	pthread_mutex_unlock(&img->mu);
	img_put(img);
	return rc;
}

void shield_image_join(struct shield_node *n, int flags)
{
	struct shield_image *img;
	/* the common case, on every open of a protected file: no file is
	 * mapped shared, so no walk of the open files under the table lock.
	 * An image attached after this check finds n itself: n is already
	 * among the open nodes that attaching walks (io.c registers it first). */
	if (__atomic_load_n(&attached_images, __ATOMIC_ACQUIRE) == 0)
		return;
	pthread_mutex_lock(&shield_table_lock);
	img = shield_node_peer_image_locked(n);
	if (img != NULL) {
		__atomic_store_n(&n->img, img, __ATOMIC_RELEASE);
		img->refs++;
	}
	pthread_mutex_unlock(&shield_table_lock);
	if (img == NULL)
		return;
	if (flags & O_TRUNC) { /* the open emptied the file in the volume */
		pthread_mutex_lock(&img->mu);
		(void)img_resize(img, 0);
		pthread_mutex_unlock(&img->mu);
	}
	img_put(img);
}

void shield_images_flush(void)
{
	/* Once, over the images attached now: each is written back and
	 * committed, so that a volume's tag reported at exit (cas_start.c)
	 * is its final one. */
	static int done;
	size_t n = 0, k = 0;
	struct shield_image **list;
	if (__atomic_exchange_n(&done, 1, __ATOMIC_SEQ_CST))
		return;
	pthread_mutex_lock(&shield_table_lock);
	for (struct shield_image *i = images; i != NULL; i = i->next)
		n++;
	list = n ? calloc(n, sizeof(*list)) : NULL;
	for (struct shield_image *i = images; list != NULL && i != NULL; i = i->next) {
		i->refs++;
		list[k++] = i;
	}
	pthread_mutex_unlock(&shield_table_lock);
	if (n != 0 && list == NULL) {
		ward_error("cannot write back the shared mappings of protected files at exit: out of memory; their stores since the last msync are lost");
		return;
	}
	for (size_t i = 0; i < k; i++) {
		struct shield_node *w;
		pthread_mutex_lock(&list[i]->mu);
		pthread_mutex_lock(&shield_table_lock);
		w = list[i]->wnode;
		pthread_mutex_unlock(&shield_table_lock);
		if (img_writeback(list[i], 0, 0, 1) == 0 && w != NULL) /* logs its failure */
			(void)shield_vol_sync(w);
		pthread_mutex_unlock(&list[i]->mu);
		img_put(list[i]);
	}
	free(list);
}
