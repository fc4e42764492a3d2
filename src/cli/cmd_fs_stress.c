/*
 * cmd_fs_stress.c: `ward fs _stress VOL --key-file KEY --seed N [--steps N]`
 * (hidden): the writer of the crash test (tests/e2e/test_crash_fs.py). It
 * applies random operations to a few files and prints, line-buffered:
 *   B <step> <op> <path> <sha256 of new content | -> [<path2> <sha256>]
 *   D <step>
 * before and after each commit, so that a test that kills it with SIGKILL
 * knows which states each file may be in. The file "scratch" is written
 * but never committed: it must always read back empty. Links too: "c0" and
 * "c1" are made (hcreate, with their content), hard-linked to each other
 * (hlink <from> - old <to>) and unlinked; "s0" and "s1" are symbolic links
 * made (symlink <path> L:<target>) and unlinked.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/crypto.h"
#include "core/log.h"
#include "core/util.h"
#include "fs/volume.h"

#define NF 7
static const char *names[NF] = { "f0", "f1", "f2", "f3", "d/g0", "d/g1", "d/g2" };

struct mfile {
	uint8_t *d;
	size_t len;
	int exists;
};

static uint64_t rs;
static uint64_t rnd(void)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return rs;
}

static void hashhex(const struct mfile *m, char out[65])
{
	uint8_t h[32];
	if (!m->exists) {
		strcpy(out, "-");
		return;
	}
	ward_sha256(m->d ? m->d : (const uint8_t *)"", m->len, h);
	ward_hex(h, 32, out);
}

static int die(const char *what, const char *err)
{
	ward_error("fs _stress: %s: %s", what, err);
	return 1;
}

int cmd_fs_stress(int argc, char **argv)
{
	const char *vol = NULL, *keyf = NULL;
	uint64_t seed = 1, steps = UINT64_MAX;
	uint8_t key[32];
	char err[WARD_VOL_ERR_LEN], h1[65], h2[65];
	struct mfile m[NF];
	ward_vol *v = NULL;
	ward_vfile *f, *scratch = NULL;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--key-file") == 0 && i + 1 < argc)
			keyf = argv[++i];
		else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
			ward_parse_u64(argv[++i], &seed);
		else if (strcmp(argv[i], "--steps") == 0 && i + 1 < argc)
			ward_parse_u64(argv[++i], &steps);
		else
			vol = argv[i];
	}
	if (vol == NULL || keyf == NULL) {
		ward_error("usage: ward fs _stress VOL --key-file KEY --seed N [--steps N]");
		return 2;
	}
	rs = seed * 2654435761u + 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (ward_vol_key_load(keyf, 1, key, NULL, err) != 0)
		return die("key", err);
	struct ward_vol_opts o = { .kind = WARD_VOL_ENCRYPTED, .key = key, .flags = WARD_VOL_RDWR };
	char mpath[PATH_MAX];
	snprintf(mpath, sizeof(mpath), "%s/" WARD_VOL_META_DIR "/manifest", vol);
	if (access(mpath, F_OK) != 0) /* no volume yet, or its creation was killed */
		o.flags |= WARD_VOL_CREATE;
	if (ward_vol_open(vol, &o, &v, err) != 0)
		return die("open", err);
	ward_wipe(key, sizeof(key));
	struct ward_vstat st;
	if (ward_vol_stat(v, "d", &st, NULL) != 0 && ward_vol_mkdir(v, "d", 0755, err) != 0)
		return die("mkdir", err);
	/* the model starts from what the volume holds */
	for (int i = 0; i < NF; i++) {
		memset(&m[i], 0, sizeof(m[i]));
		if (ward_vol_stat(v, names[i], &st, NULL) != 0)
			continue;
		m[i].exists = 1;
		m[i].len = st.size;
		m[i].d = malloc(st.size + 1);
		if (ward_vf_open(v, names[i], O_RDONLY, 0, &f, err) != 0 ||
		    ward_vf_pread(f, m[i].d, st.size, 0, err) != (ssize_t)st.size)
			return die("initial read", err);
		ward_vf_close(f, NULL);
	}
	if (ward_vf_open(v, "scratch", O_RDWR | O_CREAT | O_TRUNC, 0600, &scratch, err) != 0 ||
	    ward_vf_sync(scratch, err) != 0)
		return die("scratch", err);

	/* the hard-link pair and the symbolic links, from what the volume holds */
	static const char *const cn[2] = { "c0", "c1" }, *const sn[2] = { "s0", "s1" };
	struct mfile c[2];
	int sl[2];
	for (int k = 0; k < 2; k++) {
		memset(&c[k], 0, sizeof(c[k]));
		if (ward_vol_stat(v, cn[k], &st, NULL) == 0) {
			c[k].exists = 1;
			c[k].len = st.size;
			c[k].d = malloc(st.size + 1);
			if (ward_vf_open(v, cn[k], O_RDONLY, 0, &f, err) != 0 ||
			    ward_vf_pread(f, c[k].d, st.size, 0, err) != (ssize_t)st.size)
				return die("initial read", err);
			ward_vf_close(f, NULL);
		}
		sl[k] = ward_vol_stat(v, sn[k], &st, NULL) == 0;
	}

	for (uint64_t s = 0; s < steps; s++) {
		int i = (int)(rnd() % NF), op = (int)(rnd() % 12);
		if (op == 10) { /* the hard-link pair: make, link, unlink */
			int k = (int)(rnd() % 2), o = 1 - k;
			if (!c[k].exists && !c[o].exists) {
				size_t len = 1 + (size_t)(rnd() % 9000);
				struct mfile nm = { malloc(len + 1), len, 1 };
				for (size_t b = 0; b < len; b++)
					nm.d[b] = (uint8_t)rnd();
				hashhex(&nm, h1);
				printf("B %llu hcreate %s %s create\n", (unsigned long long)s, cn[k], h1);
				if (ward_vf_open(v, cn[k], O_RDWR | O_CREAT | O_EXCL, 0644, &f, err) != 0 ||
				    ward_vf_pwrite(f, nm.d, len, 0, err) != (ssize_t)len || ward_vf_close(f, err) != 0)
					return die("hcreate", err);
				c[k] = nm;
			} else if (c[k].exists && !c[o].exists) {
				printf("B %llu hlink %s - old %s\n", (unsigned long long)s, cn[k], cn[o]);
				if (ward_vol_link(v, cn[k], cn[o], err) != 0)
					return die("link", err);
				c[o].d = malloc(c[k].len + 1);
				memcpy(c[o].d, c[k].d, c[k].len);
				c[o].len = c[k].len;
				c[o].exists = 1;
			} else if (c[k].exists) {
				printf("B %llu unlink %s - old\n", (unsigned long long)s, cn[k]);
				if (ward_vol_unlink(v, cn[k], err) != 0)
					return die("unlink", err);
				free(c[k].d);
				memset(&c[k], 0, sizeof(c[k]));
			} else {
				printf("B %llu hlink %s - old %s\n", (unsigned long long)s, cn[o], cn[k]);
				if (ward_vol_link(v, cn[o], cn[k], err) != 0)
					return die("link", err);
				c[k].d = malloc(c[o].len + 1);
				memcpy(c[k].d, c[o].d, c[o].len);
				c[k].len = c[o].len;
				c[k].exists = 1;
			}
			printf("D %llu\n", (unsigned long long)s);
			continue;
		}
		if (op == 11) { /* a symbolic link: make or remove */
			int k = (int)(rnd() % 2);
			if (!sl[k]) {
				char target[64];
				snprintf(target, sizeof(target), "t%llu/%s", (unsigned long long)(rnd() % 100000), names[i]);
				printf("B %llu symlink %s L:%s create\n", (unsigned long long)s, sn[k], target);
				if (ward_vol_symlink(v, sn[k], target, err) != 0)
					return die("symlink", err);
			} else {
				printf("B %llu unlink %s - old\n", (unsigned long long)s, sn[k]);
				if (ward_vol_unlink(v, sn[k], err) != 0)
					return die("unlink", err);
			}
			sl[k] = !sl[k];
			printf("D %llu\n", (unsigned long long)s);
			continue;
		}
		struct mfile *a = &m[i];
		int durable = (int)(rnd() % 2);
		/* never-committed writes to the scratch file */
		uint8_t junk[3000];
		memset(junk, (int)(s & 0xff), sizeof(junk));
		if (ward_vf_pwrite(scratch, junk, sizeof(junk), (rnd() % 64) * 1000, err) < 0)
			return die("scratch write", err);

		if (op <= 4 || !a->exists) { /* write (creating when missing) */
			size_t off = (size_t)(rnd() % (a->len + 9000)), len = 1 + (size_t)(rnd() % 20000);
			size_t nl = off + len > a->len ? off + len : a->len;
			uint8_t *nd = calloc(1, nl + 1), *src = malloc(len);
			if (a->exists && a->len)
				memcpy(nd, a->d, a->len);
			for (size_t k = 0; k < len; k++)
				src[k] = (uint8_t)rnd();
			memcpy(nd + off, src, len);
			struct mfile nm = { nd, nl, 1 };
			hashhex(&nm, h1);
			printf("B %llu write %s %s %s\n", (unsigned long long)s, names[i], h1, a->exists ? "old" : "create");
			if (ward_vf_open(v, names[i], O_RDWR | O_CREAT, 0644, &f, err) != 0)
				return die("open", err);
			size_t half = len / 2;
			if (ward_vf_pwrite(f, src, half, off, err) < 0 || ward_vf_pwrite(f, src + half, len - half, off + half, err) < 0)
				return die("write", err);
			if ((durable && ward_vf_sync(f, err) != 0) || ward_vf_close(f, err) != 0)
				return die("commit", err);
			free(src);
			free(a->d);
			*a = nm;
		} else if (op == 5) { /* truncate */
			size_t nl = (size_t)(rnd() % (a->len + 6000));
			uint8_t *nd = calloc(1, nl + 1);
			memcpy(nd, a->d, nl < a->len ? nl : a->len);
			struct mfile nm = { nd, nl, 1 };
			hashhex(&nm, h1);
			printf("B %llu trunc %s %s old\n", (unsigned long long)s, names[i], h1);
			if (ward_vf_open(v, names[i], O_RDWR, 0, &f, err) != 0 || ward_vf_truncate(f, nl, err) != 0)
				return die("truncate", err);
			if ((durable && ward_vf_sync(f, err) != 0) || ward_vf_close(f, err) != 0)
				return die("commit", err);
			free(a->d);
			*a = nm;
		} else if (op == 6) { /* append */
			size_t len = 1 + (size_t)(rnd() % 9000);
			uint8_t *nd = malloc(a->len + len + 1);
			memcpy(nd, a->d, a->len);
			for (size_t k = 0; k < len; k++)
				nd[a->len + k] = (uint8_t)rnd();
			struct mfile nm = { nd, a->len + len, 1 };
			hashhex(&nm, h1);
			printf("B %llu append %s %s old\n", (unsigned long long)s, names[i], h1);
			if (ward_vf_open(v, names[i], O_RDWR, 0, &f, err) != 0 ||
			    ward_vf_append(f, nd + a->len, len, NULL, err) < 0)
				return die("append", err);
			if ((durable && ward_vf_sync(f, err) != 0) || ward_vf_close(f, err) != 0)
				return die("commit", err);
			free(a->d);
			*a = nm;
		} else if (op == 7) { /* unlink */
			printf("B %llu unlink %s - old\n", (unsigned long long)s, names[i]);
			if (ward_vol_unlink(v, names[i], err) != 0)
				return die("unlink", err);
			free(a->d);
			memset(a, 0, sizeof(*a));
		} else if (op == 8 && rnd() % 2 == 0) { /* large write from the next 2 MiB boundary on, 1 MiB at a time */
			size_t unit = (size_t)2 << 20, off = (a->len + unit - 1) / unit * unit;
			size_t len = ((size_t)1 << 20) + (size_t)(rnd() % (3u << 20)), nl = off + len;
			uint8_t *nd = calloc(1, nl + 1);
			memcpy(nd, a->d, a->len);
			for (size_t k = 0; k < len; k++)
				nd[off + k] = (uint8_t)rnd();
			struct mfile nm = { nd, nl, 1 };
			hashhex(&nm, h1);
			printf("B %llu bigwrite %s %s old\n", (unsigned long long)s, names[i], h1);
			if (ward_vf_open(v, names[i], O_RDWR, 0, &f, err) != 0)
				return die("open", err);
			for (size_t o = 0; o < len; o += (size_t)1 << 20) {
				size_t l = len - o < ((size_t)1 << 20) ? len - o : (size_t)1 << 20;
				if (ward_vf_pwrite(f, nd + off + o, l, off + o, err) < 0)
					return die("write", err);
			}
			if ((durable && ward_vf_sync(f, err) != 0) || ward_vf_close(f, err) != 0)
				return die("commit", err);
			free(a->d);
			*a = nm;
		} else { /* rename onto another name */
			int j = (int)(rnd() % NF);
			if (j == i)
				j = (j + 1) % NF;
			hashhex(a, h1);
			hashhex(&m[j], h2);
			printf("B %llu rename %s - old %s %s %s\n", (unsigned long long)s, names[i], names[j], h1, h2);
			if (ward_vol_rename(v, names[i], names[j], err) != 0)
				return die("rename", err);
			free(m[j].d);
			m[j] = *a;
			memset(a, 0, sizeof(*a));
		}
		printf("D %llu\n", (unsigned long long)s);
	}
	ward_vf_close(scratch, NULL); /* only reached with --steps: commits the scratch file */
	if (ward_vol_close(v, err) != 0)
		return die("close", err);
	for (int i = 0; i < NF; i++)
		free(m[i].d);
	free(c[0].d);
	free(c[1].d);
	return 0;
}

/* `ward fs _put VOL PATH --key-file KEY` (hidden, for tests): replaces
 * PATH in the volume with stdin, creating it when missing. */
int cmd_fs_put(int argc, char **argv)
{
	const char *pos[2] = { NULL, NULL }, *keyf = NULL;
	int np = 0;
	uint8_t key[32];
	char err[WARD_VOL_ERR_LEN];
	ward_vol *v;
	ward_vfile *f;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--key-file") == 0 && i + 1 < argc)
			keyf = argv[++i];
		else if (np < 2)
			pos[np++] = argv[i];
	}
	if (np != 2 || keyf == NULL) {
		ward_error("usage: ward fs _put VOL PATH --key-file KEY < DATA");
		return 2;
	}
	if (ward_vol_key_load(keyf, 0, key, NULL, err) != 0)
		return die("key", err);
	struct ward_vol_opts o = { .kind = WARD_VOL_ENCRYPTED, .key = key, .flags = WARD_VOL_RDWR };
	int rc = ward_vol_open(pos[0], &o, &v, err);
	ward_wipe(key, sizeof(key));
	if (rc != 0)
		return die("open", err);
	if (ward_vf_open(v, pos[1], O_WRONLY | O_CREAT | O_TRUNC, 0644, &f, err) != 0)
		return die("open", err);
	uint8_t buf[65536];
	uint64_t off = 0;
	for (;;) {
		ssize_t r = read(0, buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (ward_vf_pwrite(f, buf, (size_t)r, off, err) < 0)
			return die("write", err);
		off += (uint64_t)r;
	}
	if (ward_vf_close(f, err) != 0 || ward_vol_close(v, err) != 0)
		return die("commit", err);
	return 0;
}
