/*
 * dlopen.c: loading libraries that live in regions.
 *
 * The dynamic loader reads files with its own system calls, which the
 * shield cannot see. So a library inside a region is read through the
 * shield (decrypted or checked against the manifest, every byte), written into
 * a sealed memfd (through a reused staging buffer, see slurp_memfd), and the loader is given /proc/self/fd/N. Its dependencies
 * that live in a region (found through DT_RUNPATH/DT_RPATH entries using
 * $ORIGIN, or next to it) are loaded the same way first, so that the loader
 * finds them already loaded by their soname. The memfds stay open: the
 * loader remembers libraries by name, and a reused name would alias.
 * A library of the engine image that its warm-start cache knows unchanged
 * (engine_cache.c, simulation mode) is given to the loader as its own
 * file's descriptor instead of a copy; that descriptor stays open too.
 */
#undef _FILE_OFFSET_BITS
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"
#include "fs/volume.h"
#include "runtime/shield/internal.h"
#include "runtime/shield/region.h"
#include "runtime/shield/shield.h"

#define DL_MAX_SIZE ((size_t)1 << 30)

/* The plaintext passes through one reused staging buffer on its way into
 * the memfd: decrypting into a buffer that is already mapped and then
 * writing it into the memfd costs less than populating fresh memfd pages
 * (the kernel zeroes each one) and decrypting into them (a fault per page
 * on a virtual machine); a write that fills a page whole is not zeroed
 * first. The buffer is a 2 MiB anonymous mapping with huge pages asked
 * for, made on first use and kept; a caller that finds it busy (a dlopen
 * in another thread) uses its own. It is not wiped: the same plaintext
 * stays in the memfd for the life of the process. */
#define DL_STAGE ((size_t)2 << 20)
static pthread_mutex_t stage_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned char *stage;

static unsigned char *stage_map(void)
{
	return ward_map_huge(DL_STAGE);
}

/* Reads the whole file through the shield into a new memfd. Returns the
 * memfd, with *img its contents mapped read-only (the caller unmaps it
 * before sealing), or -errno. */
static int slurp_memfd(const char *path, const char *name, unsigned char **img, size_t *len)
{
	int fd = shield_openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0), mfd = -1, e = 0, own = 0;
	struct stat st;
	unsigned char *p = NULL, *buf = NULL;
	size_t size, done = 0;
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0 || st.st_size <= 0 || (size_t)st.st_size > DL_MAX_SIZE) {
		e = st.st_size == 0 ? ENOEXEC : EFBIG;
		close(fd);
		return -e;
	}
	size = (size_t)st.st_size;
	if (pthread_mutex_trylock(&stage_mu) == 0) {
		if (stage == NULL)
			stage = stage_map();
		buf = stage;
		if (buf == NULL)
			pthread_mutex_unlock(&stage_mu);
	}
	if (buf == NULL) {
		if ((buf = stage_map()) == NULL) {
			close(fd);
			return -ENOMEM;
		}
		own = 1;
	}
	mfd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0 || ftruncate(mfd, (off_t)size) != 0) {
		e = errno;
		goto fail;
	}
	while (done < size) {
		size_t want = size - done < DL_STAGE ? size - done : DL_STAGE, got = 0;
		while (got < want) {
			ssize_t r = read(fd, buf + got, want - got);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				e = r < 0 ? errno : EIO;
				goto fail;
			}
			got += (size_t)r;
		}
		if (ward_pwrite_full(mfd, buf, want, done) != 0) {
			e = errno ? errno : EIO;
			goto fail;
		}
		done += want;
	}
	if (own)
		munmap(buf, DL_STAGE);
	else
		pthread_mutex_unlock(&stage_mu);
	buf = NULL;
	if ((p = mmap(NULL, size, PROT_READ, MAP_SHARED, mfd, 0)) == MAP_FAILED) {
		e = errno;
		goto fail;
	}
	close(fd);
	*img = p;
	*len = size;
	return mfd;
fail:
	if (buf != NULL) {
		if (own)
			munmap(buf, DL_STAGE);
		else
			pthread_mutex_unlock(&stage_mu);
	}
	if (mfd >= 0)
		close(mfd);
	close(fd);
	return -(e ? e : EIO);
}

/* The DT_NEEDED names and the $ORIGIN-relative search dirs of an ELF
 * image; bounded against the buffer. Calls fn(name, dirs) per needed. */
static void each_needed(const unsigned char *img, size_t len, const char *origin,
			void (*fn)(const char *name, const char *origin, const char *runpath))
{
	const Elf64_Ehdr *eh = (const void *)img;
	const Elf64_Phdr *ph;
	const Elf64_Dyn *dyn = NULL;
	size_t ndyn = 0;
	uint64_t strtab_va = 0, strsz = 0, runpath = (uint64_t)-1;
	const char *strtab = NULL;

	if (len < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_phoff > len || eh->e_phnum > 256 || eh->e_phoff + (uint64_t)eh->e_phnum * sizeof(*ph) > len)
		return;
	ph = (const void *)(img + eh->e_phoff);
	for (int i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_DYNAMIC && ph[i].p_offset < len && ph[i].p_filesz <= len - ph[i].p_offset) {
			dyn = (const void *)(img + ph[i].p_offset);
			ndyn = ph[i].p_filesz / sizeof(*dyn);
		}
	if (dyn == NULL)
		return;
	for (size_t i = 0; i < ndyn && dyn[i].d_tag != DT_NULL; i++) {
		if (dyn[i].d_tag == DT_STRTAB)
			strtab_va = dyn[i].d_un.d_ptr;
		else if (dyn[i].d_tag == DT_STRSZ)
			strsz = dyn[i].d_un.d_val;
		else if (dyn[i].d_tag == DT_RUNPATH || dyn[i].d_tag == DT_RPATH)
			runpath = dyn[i].d_un.d_val;
	}
	/* Map the string table's address to a file offset. */
	for (int i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_LOAD && strtab_va >= ph[i].p_vaddr && strtab_va < ph[i].p_vaddr + ph[i].p_filesz) {
			uint64_t off = ph[i].p_offset + (strtab_va - ph[i].p_vaddr);
			if (off < len && strsz <= len - off && strsz > 0 && img[off + strsz - 1] == 0)
				strtab = (const char *)img + off;
		}
	if (strtab == NULL)
		return;
	for (size_t i = 0; i < ndyn && dyn[i].d_tag != DT_NULL; i++)
		if (dyn[i].d_tag == DT_NEEDED && dyn[i].d_un.d_val < strsz)
			fn(strtab + dyn[i].d_un.d_val, origin, runpath < strsz ? strtab + runpath : "");
}

static int prepare(const char *path, char out[64], int depth);

/* The region's file, when the engine image's cache knows it unchanged; -1
 * otherwise (then the file is checked and copied as usual). */
static int verified_fd(const struct shield_path *sp)
{
	struct ward_vstat st;
	if (shield_be_stat(sp->region, sp->rel, &st) != 0)
		return -1;
	return shield_ec_open(sp->region, sp->abs, sp->rel, O_RDONLY | O_CLOEXEC, &st, 0);
}

static int load_depth;

static void load_dep(const char *name, const char *origin, const char *runpath)
{
	char dirs[PATH_MAX], cand[PATH_MAX], alt[64];
	struct shield_path sp;
	char *save = NULL, *d;
	if (strchr(name, '/') != NULL || strlen(runpath) >= sizeof(dirs))
		return;
	typedef void *(*dlopen_fn)(const char *, int);
	static dlopen_fn real;
	if (real == NULL)
		real = (dlopen_fn)dlsym_next("dlopen");
	if (real(name, RTLD_LAZY | RTLD_NOLOAD) != NULL)
		return; /* already loaded */
	snprintf(dirs, sizeof(dirs), "%s:$ORIGIN", runpath);
	for (d = strtok_r(dirs, ":", &save); d != NULL; d = strtok_r(NULL, ":", &save)) {
		const char *rest = NULL;
		if (strncmp(d, "$ORIGIN", 7) == 0)
			rest = d + 7;
		else if (strncmp(d, "${ORIGIN}", 9) == 0)
			rest = d + 9;
		if (rest == NULL)
			continue; /* absolute run paths are the loader's business */
		if (snprintf(cand, sizeof(cand), "%s%s/%s", origin, rest, name) >= (int)sizeof(cand))
			continue;
		if (shield_classify(AT_FDCWD, cand, &sp) != 0 || sp.region == NULL || access(cand, F_OK) != 0)
			continue;
		if (prepare(cand, alt, load_depth + 1) == 1) {
			if (real(alt, RTLD_LAZY | RTLD_GLOBAL) == NULL)
				ward_warn("cannot preload %s (needed by a library in a region): %s", cand, dlerror());
		}
		return;
	}
}

/* 1: out names the memfd to load; 0: not in a region; -1: refused. */
static int prepare(const char *path, char out[64], int depth)
{
	struct shield_path sp;
	unsigned char *img = NULL;
	size_t len = 0;
	int rc, mfd, fd;
	char origin[PATH_MAX], *slash;
	const char *base;

	if (shield_classify(AT_FDCWD, path, &sp) != 0 || sp.region == NULL)
		return 0;
	if (depth > 8)
		return 0;
	snprintf(origin, sizeof(origin), "%s", sp.abs);
	slash = strrchr(origin, '/');
	*slash = 0;
	/* The engine image's warm start: a library checked before, unchanged,
	 * is loaded from its own file (engine_cache.c). */
	if (sp.region->ec != NULL && (fd = verified_fd(&sp)) >= 0) {
		struct stat st;
		if (fstat(fd, &st) == 0 && st.st_size > 0 && (uint64_t)st.st_size <= DL_MAX_SIZE &&
		    (img = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0)) != MAP_FAILED) {
			load_depth = depth;
			each_needed(img, (size_t)st.st_size, origin, load_dep);
			munmap(img, (size_t)st.st_size);
			snprintf(out, 64, "/proc/self/fd/%d", fd);
			ward_debug("loading %s from the file checked before (%s)", sp.abs, out);
			return 1;
		}
		close(fd);
		img = NULL;
	}
	base = strrchr(sp.abs, '/') + 1;
	mfd = rc = slurp_memfd(sp.abs, base, &img, &len);
	if (rc < 0) {
		ward_error("cannot load the library %s from the %s region %s: %s", sp.abs, shield_kind_name(sp.kind),
			   shield_region_root(sp.region), strerror(-rc));
		errno = -rc;
		return -1;
	}
	load_depth = depth;
	each_needed(img, len, origin, load_dep);
	munmap(img, len);
	if (fcntl(mfd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
		close(mfd);
		return -1;
	}
	snprintf(out, 64, "/proc/self/fd/%d", mfd);
	ward_debug("loading %s from a sealed copy (%s)", sp.abs, out);
	return 1;
}

int ward_shield_dl_prepare(const char *file, char out[64], int *in_region)
{
	int rc;
	*in_region = 0;
	if (file == NULL || shield_inside || !ward_shield_active() || strchr(file, '/') == NULL)
		return 0;
	rc = prepare(file, out, 0);
	if (rc == 1)
		*in_region = 1;
	return rc;
}
