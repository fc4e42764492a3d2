/* cmd_fs.c: `ward fs`: create, inspect, verify and decrypt volumes
 * (src/fs/volume.h; format in docs/volume-format.md). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/fs_resolve.h"
#include "core/crypto.h"
#include "core/log.h"
#include "core/util.h"
#include "fs/format.h"
#include "fs/volume.h"

int cmd_fs_stress(int argc, char **argv); /* cmd_fs_stress.c: hidden crash-test writer */
int cmd_fs_put(int argc, char **argv);    /* cmd_fs_stress.c: hidden test helper */

/* Exit status of a command that reads a volume while another process has
 * it open for writing (nothing was checked: try again later), as
 * sysexits.h's EX_TEMPFAIL. */
#define FS_EXIT_BUSY 75

struct fsopts {
	const char *key_file;
	const char *new_key_file;
	const char *manifest;
	const char *tag_hex;
	const char *out;
	int long_list;
	const char *pos[3];
	int npos;
};

static void help_main(void)
{
	printf("usage: ward fs COMMAND [ARGS...]\n\n"
	       "Encrypted and authenticated volumes: directories whose files are kept\n"
	       "encrypted (AES-256-GCM, 4 KiB chunks) or checked against a manifest, and\n"
	       "whose whole state is pinned by a 32-byte volume tag. Format and threat\n"
	       "model: docs/volume-format.md.\n\n"
	       "Commands:\n"
	       "  encrypt SRC_DIR VOL --key-file KEY    create volume VOL from a plain tree; prints the tag\n"
	       "  ls VOL --key-file KEY [-l]            list the files of a volume\n"
	       "  cat VOL PATH --key-file KEY           write one file's plaintext to stdout\n"
	       "  verify VOL --key-file KEY [--tag HEX] check every byte (and the tag)\n"
	       "  decrypt VOL OUT_DIR --key-file KEY    write the plain tree to a new or empty directory\n"
	       "  authenticate DIR -o NAME.manifest     integrity-only manifest of a tree; prints its tag\n"
	       "  tag VOL --key-file KEY                print the volume tag\n"
	       "  rekey VOL --key-file KEY --new-key-file NEW\n"
	       "                                        re-encrypt VOL under a new key; prints the new tag\n\n"
	       "Authenticated volumes: give --manifest FILE instead of --key-file to ls, cat,\n"
	       "verify, decrypt and tag. ls, cat, verify, decrypt and tag also take --tag HEX:\n"
	       "they then refuse any other version of the volume. Run 'ward fs COMMAND --help'\n"
	       "for details.\n\n"
	       "Options: an option that takes a value may be given as --opt VALUE or\n"
	       "--opt=VALUE, once; '--' ends the options (for a path starting with '-').\n"
	       "Exit status: 0 on success, 1 on failure (including output that could not\n"
	       "be written to stdout), 2 for a usage error.\n"
	       "Key files hold 64 hex digits (and a newline), or exactly 32 raw bytes, and\n"
	       "must not be accessible to group or others (chmod 600).\n"
	       "Keys on the command line are for local development; in production the CAS\n"
	       "releases them to an attested enclave.\n");
}

static void help_sub(const char *sub)
{
	if (strcmp(sub, "encrypt") == 0)
		printf("usage: ward fs encrypt SRC_DIR VOL --key-file KEY\n\n"
		       "Creates the encrypted volume VOL (a new or empty directory) holding every\n"
		       "file, directory and symbolic link of SRC_DIR (modes and modification times\n"
		       "kept; a link is stored as a link with its target verbatim, sealed like file\n"
		       "data, whatever it points at: ls shows it, cat follows it inside the volume,\n"
		       "decrypt recreates it). Hard links are kept as hard links, as tar keeps them:\n"
		       "the paths of one file in SRC_DIR (the same inode) become paths of one volume\n"
		       "file, stored once; decrypt makes them hard links again. When KEY does not exist, a new random key is\n"
		       "written there with mode 0600 (and removed again if the encrypt fails); KEY\n"
		       "must not lie inside SRC_DIR or VOL. Prints the volume tag on stdout; shows a\n"
		       "progress bar on stderr for large trees when stderr is a terminal.\n"
		       "Until it has finished, VOL is marked incomplete and nothing opens it; if it\n"
		       "is interrupted, running the same command again replaces what it left.\n");
	else if (strcmp(sub, "ls") == 0)
		printf("usage: ward fs ls VOL (--key-file KEY | --manifest FILE) [-l] [--tag HEX]\n\n"
		       "Lists every entry of the volume (directories end in '/', a symbolic link\n"
		       "is shown as 'name -> target'), one a line: newlines, tabs and other control\n"
		       "characters in names and targets are shown as \\n, \\t, \\xNN and a backslash\n"
		       "as \\\\ (as ls -b). -l adds mode (setuid, setgid and sticky bits as s/S/t/T;\n"
		       "lrwxrwxrwx for a link), plaintext size (a link's: its target's length) and\n"
		       "modification time, and ends the line of a file with several paths (hard\n"
		       "links) with its count: ' (2 links)'. With --tag, only that version of the\n"
		       "volume is listed.\n");
	else if (strcmp(sub, "cat") == 0)
		printf("usage: ward fs cat VOL PATH (--key-file KEY | --manifest FILE) [--tag HEX]\n\n"
		       "Writes the verified plaintext of PATH (relative to the volume) to stdout.\n"
		       "Stops with an error naming the chunk when verification fails. Symbolic\n"
		       "links in PATH are followed inside the volume (a relative target from the\n"
		       "link's directory, at most 40 links); a link to an absolute path or out of\n"
		       "the volume is refused. With --tag, only that version of the volume is read.\n");
	else if (strcmp(sub, "verify") == 0)
		printf("usage: ward fs verify VOL (--key-file KEY | --manifest FILE) [--tag HEX]\n\n"
		       "Checks the manifest, every byte of every file, and that the directory holds\n"
		       "nothing the manifest does not list (in an authenticated tree, where others\n"
		       "may add files, such a file gets a warning instead: programs under ward run\n"
		       "do not see it). With --tag, also that the volume is exactly the pinned\n"
		       "version (an older copy has a different tag).\n"
		       "Exit status 0 when intact, 1 with the reason otherwise, 2 for a usage\n"
		       "error (such as a --tag that is not 64 hex digits), 75 when another\n"
		       "process (ward run) has the volume open for writing: nothing was checked,\n"
		       "run it again when that has finished (ls, cat, decrypt and tag do the same).\n");
	else if (strcmp(sub, "decrypt") == 0)
		printf("usage: ward fs decrypt VOL OUT_DIR (--key-file KEY | --manifest FILE) [--tag HEX]\n\n"
		       "Writes the verified plain tree to OUT_DIR (new or empty): files, directories,\n"
		       "symbolic and hard links, modes and modification times. When a file fails\n"
		       "verification, the files written so far are removed again and the command\n"
		       "fails naming the file and the chunk. With --tag, only that version of the\n"
		       "volume is decrypted.\n");
	else if (strcmp(sub, "authenticate") == 0)
		printf("usage: ward fs authenticate DIR -o NAME.manifest\n\n"
		       "Builds the manifest of an integrity-only (authenticated) volume over DIR\n"
		       "without changing DIR: SHA-256 of every 4 KiB chunk of every file, with\n"
		       "modes and modification times. Prints the tag, which is the same for the\n"
		       "same tree on any machine. Pin it: the manifest itself is not secret and\n"
		       "not signed; the tag is what makes it trustworthy.\n");
	else if (strcmp(sub, "rekey") == 0)
		printf("usage: ward fs rekey VOL --key-file KEY --new-key-file NEW\n\n"
		       "Re-encrypts the volume under a new key: every file is read and verified\n"
		       "under KEY and written under NEW into a new volume next to VOL (VOL.rekey),\n"
		       "which then takes VOL's place in one atomic step (RENAME_EXCHANGE); the old\n"
		       "ciphertext is removed. Plaintext never reaches the disk. When NEW does not\n"
		       "exist, a new random key is written there with mode 0600 (and removed again\n"
		       "if the rekey fails); NEW must differ from KEY and must not lie inside VOL.\n"
		       "Prints the new volume tag on stdout; the old key no longer opens the volume\n"
		       "(a volume the CAS manages needs its key and tag updated in the session).\n"
		       "Nothing may have the volume open meanwhile: while 'ward run' has it (even\n"
		       "read-only), this exits with status 75 and changes nothing. Interrupted\n"
		       "before the swap, VOL is unchanged and the same command again replaces the\n"
		       "leftover VOL.rekey; after it, VOL is the new volume and the same command\n"
		       "again only removes the old ciphertext left in VOL.rekey.\n");
	else if (strcmp(sub, "tag") == 0)
		printf("usage: ward fs tag VOL (--key-file KEY | --manifest FILE)\n\n"
		       "Prints the volume tag after checking the manifest.\n");
	else
		help_main();
}

/* Options: "--key-file K" and "--key-file=K" (every option that takes a
 * value); "--" ends the options, so a path starting with '-' can follow it.
 * A single-valued option given twice, or with an empty value, is refused. */
static int parse(int argc, char **argv, struct fsopts *o)
{
	static const struct {
		const char *lng, *shrt;
		size_t off;
	} vopts[] = {
		{ "--key-file", "-k", offsetof(struct fsopts, key_file) },
		{ "--manifest", "-m", offsetof(struct fsopts, manifest) },
		{ "--tag", NULL, offsetof(struct fsopts, tag_hex) },
		{ "--output", "-o", offsetof(struct fsopts, out) },
		{ "--new-key-file", NULL, offsetof(struct fsopts, new_key_file) },
	};
	int opts_done = 0;

	memset(o, 0, sizeof(*o));
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = NULL;
		size_t k = WARD_ARRAY_LEN(vopts);
		if (!opts_done && strcmp(a, "--") == 0) {
			opts_done = 1;
			continue;
		}
		if (!opts_done && strcmp(a, "-l") == 0) {
			o->long_list = 1;
			continue;
		}
		if (!opts_done && a[0] == '-' && a[1] != '\0') {
			for (k = 0; k < WARD_ARRAY_LEN(vopts); k++) {
				size_t n = strlen(vopts[k].lng);
				if (strncmp(a, vopts[k].lng, n) == 0 && (a[n] == '\0' || a[n] == '=')) {
					val = a[n] == '=' ? a + n + 1 : NULL;
					break;
				}
				if (vopts[k].shrt != NULL && strcmp(a, vopts[k].shrt) == 0)
					break;
			}
			if (k == WARD_ARRAY_LEN(vopts)) {
				ward_error("fs %s: unknown option '%s'; see 'ward fs %s --help'", argv[0], a, argv[0]);
				return -1;
			}
		} else {
			if (o->npos == 3) {
				ward_error("fs %s: too many arguments; see 'ward fs %s --help'", argv[0], argv[0]);
				return -1;
			}
			o->pos[o->npos++] = a;
			continue;
		}
		const char *name = vopts[k].lng;
		const char **dst = (const char **)(void *)((char *)o + vopts[k].off);
		if (val == NULL) {
			if (i + 1 >= argc) {
				ward_error("fs %s: option '%s' needs a value", argv[0], name);
				return -1;
			}
			val = argv[++i];
		}
		if (*dst != NULL) {
			ward_error("fs %s: option '%s' given more than once; give it once", argv[0], name);
			return -1;
		}
		if (val[0] == '\0') {
			ward_error("fs %s: option '%s' has an empty value; give a %s", argv[0], name,
				   strcmp(name, "--tag") == 0 ? "tag" : "path");
			return -1;
		}
		*dst = val;
	}
	return 0;
}

static int need_pos(const struct fsopts *o, int n, const char *sub, const char *what)
{
	if (o->npos != n) {
		ward_error("fs %s: expected %s; see 'ward fs %s --help'", sub, what, sub);
		return -1;
	}
	for (int i = 0; i < n; i++)
		if (o->pos[i][0] == '\0') {
			ward_error("fs %s: argument %d of %s is empty; give a path", sub, i + 1, what);
			return -1;
		}
	return 0;
}

static void bar_clear(void);

/* One line for a library error, with a fix where there is one. */
/* tail: what the command did about it ("" or "; ..."), after the fix */
static void report_then(int rc, const char *err, const char *tail)
{
	bar_clear();
	if (rc == -ENAMETOOLONG) /* the library keeps the line's end (the reason) */
		ward_error("%s; use shorter names or less nesting%s", err, tail);
	else if (rc == -EKEYREJECTED)
		ward_error("%s; use the volume's current key file (the one it was created with, or the one the last "
			   "'ward fs rekey' wrote)%s",
			   err, tail);
	else if ((rc == -EIO || rc == -EBADMSG) && strstr(err, " has tag ") != NULL)
		ward_error("%s; if the --tag given is right, the volume was changed or rolled back outside the enclave: "
			   "restore it from a trusted copy%s",
			   err, tail);
	else if (rc == -EIO || rc == -EBADMSG)
		ward_error("%s; the volume was changed outside the enclave: restore it from a trusted copy%s", err, tail);
	else
		ward_error("%s%s", err, tail);
}

static void report(int rc, const char *err)
{
	report_then(rc, err, "");
}

/* errno of a failed write to stdout already reported (fs cat), else 0 */
static int stdout_failed;

/* What a lost stdout line means, for the line above ("" or "; ..."): the
 * commands that make a volume say how to get its tag again. */
static char stdout_hint[PATH_MAX * 2 + 128] = "";

/* Every command ends here: what it printed must have reached stdout (a
 * lost tag is a lost volume pin). 1 and one line when it did not. */
static int finish_stdout(int rc)
{
	int e = stdout_failed;
	if (fflush(stdout) != 0)
		e = e ? e : errno;
	else if (ferror(stdout))
		e = e ? e : EIO;
	if (fclose(stdout) != 0 && e == 0)
		e = errno;
	if (e != 0) {
		if (!stdout_failed)
			ward_error("cannot write to standard output: %s%s", strerror(e), stdout_hint);
		return rc ? rc : 1;
	}
	return rc;
}

/* The kind recorded in the header of manifest file p (WARD_VOL_ENCRYPTED or
 * WARD_VOL_AUTHENTICATED, format.h), 0 when p is no volume manifest, -1 when
 * it cannot be read. Only to explain a refusal; the volume library decides. */
static int manifest_kind(const char *p)
{
	uint8_t h[16];
	FILE *f = fopen(p, "rb");
	if (f == NULL)
		return -1;
	size_t n = fread(h, 1, sizeof(h), f);
	fclose(f);
	if (n < sizeof(h) || memcmp(h, WVOL_MAGIC, 8) != 0)
		return 0;
	return (int)((uint32_t)h[12] | (uint32_t)h[13] << 8 | (uint32_t)h[14] << 16 | (uint32_t)h[15] << 24);
}

/* 1 and one line when --manifest was given for an encrypted volume (its own
 * manifest, or the manifest of another encrypted volume). */
static int manifest_for_encrypted(const char *sub, const char *dir, const char *manifest)
{
	char own[PATH_MAX + 32];
	if (snprintf(own, sizeof(own), "%s/%s/manifest", dir, WARD_VOL_META_DIR) >= (int)sizeof(own))
		return 0;
	if (manifest_kind(own) != WARD_VOL_ENCRYPTED && manifest_kind(manifest) != WARD_VOL_ENCRYPTED)
		return 0;
	ward_error("'%s' is an encrypted volume: %s it with --key-file", dir, strcmp(sub, "verify") == 0 ? "verify" : "open");
	return 1;
}

/* One line for a failed open: the key file, the manifest or the volume. */
static void report_open(int rc, const char *err, const char *sub, const char *dir, const struct fsopts *o)
{
	if (rc == -EKEYREJECTED && o->key_file != NULL)
		ward_error("wrong key: '%s' is not the key of volume '%s' (key check does not match); use the volume's "
			   "current key file (the one it was created with, or the one the last 'ward fs rekey' wrote)",
			   o->key_file, dir);
	else if (o->manifest != NULL && manifest_for_encrypted(sub, dir, o->manifest))
		;
	else if (rc == -EMEDIUMTYPE && o->key_file != NULL)
		ward_error("'%s' is an authenticated volume (plain files checked against a manifest), not an encrypted "
			   "one; give --manifest FILE instead of --key-file", dir);
	else if (rc == -EMEDIUMTYPE)
		ward_error("%s; give --key-file KEYFILE for an encrypted volume", err);
	else if (rc == -ENOENT && o->manifest != NULL && access(o->manifest, F_OK) != 0)
		ward_error("manifest '%s' does not exist; give the file that 'ward fs authenticate %s -o MANIFEST' wrote",
			   o->manifest, dir);
	else if (rc == -ENOENT && strstr(err, "is not a volume") != NULL)
		ward_error("%s; give a directory made by 'ward fs encrypt' (--key-file), or an authenticated tree "
			   "with the manifest 'ward fs authenticate' wrote for it (--manifest)",
			   err);
	else if (o->manifest != NULL && manifest_kind(o->manifest) == 0)
		ward_error("'%s' is not a volume manifest (ward fs authenticate -o writes one); give the manifest of '%s'",
			   o->manifest, dir);
	else
		report(rc, err);
}

static int open_vol(const char *sub, const char *dir, const struct fsopts *o, int flags, ward_vol **v)
{
	uint8_t key[WARD_VOL_KEY_LEN], tag[WARD_VOL_TAG_LEN];
	char err[WARD_VOL_ERR_LEN];
	struct ward_vol_opts vo = { .flags = flags };
	int rc;

	if (o->tag_hex != NULL) {
		if (strlen(o->tag_hex) != 2 * WARD_VOL_TAG_LEN || ward_unhex(o->tag_hex, tag, sizeof(tag)) != 0) {
			ward_error("fs %s: --tag needs %d hex digits", sub, 2 * WARD_VOL_TAG_LEN);
			return 2;
		}
		vo.expect_tag = tag;
	}
	if (o->manifest != NULL && o->key_file != NULL) {
		ward_error("fs %s: give either --key-file (encrypted volume) or --manifest (authenticated volume)", sub);
		return 2;
	}
	if (o->manifest != NULL) {
		vo.kind = WARD_VOL_AUTHENTICATED;
		vo.manifest = o->manifest;
	} else if (o->key_file != NULL) {
		vo.kind = WARD_VOL_ENCRYPTED;
		if ((rc = ward_vol_key_load(o->key_file, 0, key, NULL, err)) != 0) {
			ward_error("%s", err);
			return 1;
		}
		vo.key = key;
	} else {
		ward_error("fs %s: --key-file KEY is required (or --manifest FILE for an authenticated volume)", sub);
		return 2;
	}
	struct stat st;
	int found = stat(dir, &st) == 0;
	if (!found || !S_ISDIR(st.st_mode)) {
		int e = found ? ENOTDIR : errno;
		ward_error("volume '%s': %s; give the volume's directory (the one 'ward fs encrypt' made, or an "
			   "authenticated tree with --manifest)",
			   dir, strerror(e));
		ward_wipe(key, sizeof(key));
		return 1;
	}
	if (o->manifest != NULL && manifest_for_encrypted(sub, dir, o->manifest))
		return 1;
	rc = ward_vol_open(dir, &vo, v, err);
	ward_wipe(key, sizeof(key));
	if (rc == -EBUSY) {
		/* a writer (ward run) has it: what is on disk is between its steps */
		ward_error("%s; run this again when it has finished", err);
		return FS_EXIT_BUSY;
	}
	if (rc == -EAGAIN) {
		/* a command that writes (rekey) next to readers (ward run ...:ro) */
		ward_error("%s", err);
		return FS_EXIT_BUSY;
	}
	if (rc != 0) {
		report_open(rc, err, sub, dir, o);
		return 1;
	}
	return 0;
}

/* ---- progress ---- */

struct progress {
	int on;
	time_t last;
	const char *what;
};

/* 1 while a bar without its final newline is on the terminal: a message
 * printed then must start on a line of its own (bar_clear). */
static int bar_shown;

static void bar_clear(void)
{
	if (bar_shown) {
		fputc('\n', stderr);
		bar_shown = 0;
	}
}

/* n bytes with one decimal in the unit that fits ("283.8M") */
static void bar_size(uint64_t n, char *out, size_t len)
{
	static const char unit[] = "KMGTP";
	double v = (double)n;
	int i = -1;
	while (v >= 1024 && i < 4) {
		v /= 1024;
		i++;
	}
	if (i < 0)
		snprintf(out, len, "%lluB", (unsigned long long)n);
	else
		snprintf(out, len, "%.1f%c", v, unit[i]);
}

static void progress_cb(void *arg, uint64_t done, uint64_t total)
{
	struct progress *p = arg;
	time_t now = time(NULL);
	if (!p->on || total < (32u << 20) || (now == p->last && done < total))
		return;
	p->last = now;
	int pct = (int)(done * 100 / total), w = pct * 30 / 100;
	char a[32], b[32];
	bar_size(done, a, sizeof(a));
	bar_size(total, b, sizeof(b));
	fprintf(stderr, "\r%s [%.*s%*s] %3d%% %s/%s   ", p->what, w, "##############################", 30 - w, "", pct, a, b);
	bar_shown = 1;
	if (done >= total)
		bar_clear();
}

/* Ctrl-C (or SIGTERM, SIGHUP) during a long command: one line saying what
 * was left behind and what to do, then the signal's default action (the
 * shell sees the usual status). The line is made before the work starts:
 * only write(2) is safe in the handler. */
static char interrupt_line[PATH_MAX + 256];
static size_t interrupt_len;

static void on_interrupt(int sig)
{
	if (bar_shown)
		(void)!write(2, "\n", 1);
	(void)!write(2, interrupt_line, interrupt_len);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void interrupt_says(const char *fmt, const char *path)
{
	int n = snprintf(interrupt_line, sizeof(interrupt_line), fmt, path);
	interrupt_len = n < 0 ? 0 : (size_t)n < sizeof(interrupt_line) ? (size_t)n : sizeof(interrupt_line) - 1;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_interrupt;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGHUP, &sa, NULL);
}

static int tree_large(void)
{
	return isatty(2);
}

/* ---- subcommands ---- */

/* One line for what authenticate left out of the tree (nothing when
 * nothing was); encrypt keeps every link. */
static void warn_skipped(const char *tree, const struct ward_vol_skipped *sk)
{
	if (sk->links == 0)
		return;
	ward_warn("left out %zu symbolic link%s to a directory or to nothing (first: '%s/%s'); a volume holds "
		  "files and directories only: copy the tree with links resolved (cp -rL) to include them",
		  sk->links, sk->links == 1 ? "" : "s", tree, sk->first);
}

/* 1 when path a is b or lies below it (both resolved) */
static int within(const char *a, const char *b)
{
	size_t n = strlen(b);
	return strncmp(a, b, n) == 0 && (a[n] == 0 || a[n] == '/' || (n == 1 && b[0] == '/'));
}

/* Refuses a target that is, or lies inside, a tree it must stay out of:
 * one line "fs CMD: WHAT 'target' would be inside TREE_WHAT 'tree' (WHY);
 * put it elsewhere". */
static int refuse_nested(const char *cmd, const char *target, const char *what, const char *tree,
			 const char *tree_what, const char *why)
{
	char a[PATH_MAX], b[PATH_MAX];
	if (ward_path_abs_maybe(target, a) != 0 || ward_path_abs_maybe(tree, b) != 0 || !within(a, b))
		return 0;
	ward_error("fs %s: %s '%s' would be inside %s '%s' (%s); put it elsewhere", cmd, what, target, tree_what,
		   tree, why);
	return -1;
}

static int fs_encrypt(const struct fsopts *o)
{
	uint8_t key[WARD_VOL_KEY_LEN], tag[WARD_VOL_TAG_LEN];
	char err[WARD_VOL_ERR_LEN], hx[2 * WARD_VOL_TAG_LEN + 1];
	/* incomplete on disk until everything is in (volume.h) */
	struct ward_vol_opts vo = { .kind = WARD_VOL_ENCRYPTED, .flags = WARD_VOL_CREATE | WARD_VOL_INCOMPLETE };
	struct progress pr = { .on = 0, .what = "encrypting" };
	struct stat st;
	ward_vol *v = NULL;
	int created = 0, rc, existed;

	if (need_pos(o, 2, "encrypt", "SRC_DIR VOL") != 0)
		return 2;
	if (o->key_file == NULL) {
		ward_error("fs encrypt: --key-file KEY is required (a new key is generated when KEY does not exist)");
		return 2;
	}
	if (stat(o->pos[0], &st) != 0) {
		ward_error("fs encrypt: source '%s' is not a directory: %s", o->pos[0], strerror(errno));
		return 1;
	}
	if (S_ISREG(st.st_mode)) {
		ward_error("fs encrypt: source '%s' is a file, not a directory; give the directory that holds it",
			   o->pos[0]);
		return 1;
	}
	if (!S_ISDIR(st.st_mode)) {
		ward_error("fs encrypt: source '%s' is not a directory; give the directory to encrypt", o->pos[0]);
		return 1;
	}
	{
		char meta[PATH_MAX + 32];
		snprintf(meta, sizeof(meta), "%s/%s", o->pos[0], WARD_VOL_META_DIR);
		if (stat(meta, &st) == 0) {
			char man[PATH_MAX + 48];
			snprintf(man, sizeof(man), "%s/manifest", meta);
			int kind = manifest_kind(man);
			if (kind == WARD_VOL_ENCRYPTED)
				ward_error("fs encrypt: '%s' is a Ward volume (its files are ciphertext); decrypt it first "
					   "(ward fs decrypt), or give the plaintext tree",
					   o->pos[0]);
			else if (kind == WARD_VOL_AUTHENTICATED)
				ward_error("fs encrypt: '%s' is an authenticated tree (its manifest is in %s); encrypt a "
					   "copy without that directory",
					   o->pos[0], WARD_VOL_META_DIR);
			else
				ward_error("fs encrypt: '%s' holds a directory named %s, which Ward reserves for a "
					   "volume's metadata; rename or remove it first",
					   o->pos[0], WARD_VOL_META_DIR);
			return 1;
		}
	}
	if (refuse_nested("encrypt", o->pos[1], "the volume", o->pos[0], "the source", "it would contain itself") != 0 ||
	    refuse_nested("encrypt", o->key_file, "the key file", o->pos[1], "the volume",
			  "a volume holds only what it lists, and the key must not be stored next to its ciphertext") != 0 ||
	    refuse_nested("encrypt", o->key_file, "the key file", o->pos[0], "the source",
			  "it would be stored in the volume") != 0)
		return 1;
	existed = stat(o->pos[1], &st) == 0;
	if (existed && !S_ISDIR(st.st_mode)) {
		/* checked before a key is generated for nothing */
		ward_error("fs encrypt: '%s' exists and is not a directory; choose a new directory for the volume",
			   o->pos[1]);
		return 1;
	}
	if ((rc = ward_vol_key_load(o->key_file, 1, key, &created, err)) != 0) {
		ward_error("%s", err);
		return 1;
	}
	vo.key = key;
	rc = ward_vol_open(o->pos[1], &vo, &v, err);
	ward_wipe(key, sizeof(key));
	if (rc != 0) {
		report(rc, err);
		if (created)
			(void)unlink(o->key_file); /* a key made for this volume only */
		return 1;
	}
	pr.on = tree_large();
	interrupt_says("ward: interrupted: '%s' is left incomplete (every command refuses it); run the same command "
		       "again to replace it\n",
		       o->pos[1]);
	rc = ward_vol_import(v, o->pos[0], progress_cb, &pr, NULL, err); /* keeps every link: nothing skipped */
	if (rc == 0)
		rc = ward_vol_sync(v, err);
	if (rc == 0)
		rc = ward_vol_tag(v, tag);
	if (rc == 0)
		rc = ward_vol_complete(v, err);
	if (rc != 0) {
		report(rc, err);
		/* leave nothing half-made behind (a kill leaves it marked
		 * incomplete: refused, and replaced by the next encrypt) */
		(void)ward_vol_discard(v, NULL);
		if (!existed)
			(void)rmdir(o->pos[1]);
		if (created)
			(void)unlink(o->key_file); /* a key made for this volume only */
		return 1;
	}
	if ((rc = ward_vol_close(v, err)) != 0) {
		report(rc, err); /* the volume is complete: its key stays */
		return 1;
	}
	if (created) /* said once the volume exists: a failed encrypt removes the key */
		fprintf(stderr, "ward: generated a new volume key in '%s' (mode 0600); keep it safe\n", o->key_file);
	ward_hex(tag, sizeof(tag), hx);
	snprintf(stdout_hint, sizeof(stdout_hint), "; the volume was made: 'ward fs tag %s --key-file %s' prints its tag",
		 o->pos[1], o->key_file);
	printf("%s\n", hx);
	return 0;
}

static void fmt_mode(uint32_t m, char out[11])
{
	const char *r = "rwxrwxrwx";
	out[0] = S_ISDIR(m) ? 'd' : S_ISLNK(m) ? 'l' : '-';
	for (int i = 0; i < 9; i++)
		out[1 + i] = (m & (1u << (8 - i))) ? r[i] : '-';
	/* as ls(1): s/t over x, S/T where x is not set */
	if (m & S_ISUID)
		out[3] = out[3] == 'x' ? 's' : 'S';
	if (m & S_ISGID)
		out[6] = out[6] == 'x' ? 's' : 'S';
	if (m & S_ISVTX)
		out[9] = out[9] == 'x' ? 't' : 'T';
	out[10] = '\0';
}

/* Prints a volume path with control characters and backslashes escaped as
 * ls -b does (\n, \t, \\, else \xNN), so that every entry is one line. */
static void put_name(const char *p)
{
	for (const unsigned char *c = (const unsigned char *)p; *c; c++) {
		const char *e = *c == '\n' ? "\\n" : *c == '\t' ? "\\t" : *c == '\r' ? "\\r" : *c == '\\' ? "\\\\" : NULL;
		if (e != NULL)
			fputs(e, stdout);
		else if (*c < 0x20 || *c == 0x7f)
			printf("\\x%02x", *c);
		else
			putchar(*c);
	}
}

/* Prints one entry of a listing (p: its path in the volume); a link as
 * "p -> target" (its verified target). 0, or 1 when said why not. */
static int ls_print(ward_vol *v, const char *p, const struct ward_vdirent *e, int lng)
{
	char target[WARD_VOL_MAX_LINK + 1], err[WARD_VOL_ERR_LEN];
	if (S_ISLNK(e->mode)) {
		ssize_t n = ward_vol_readlink(v, p, target, WARD_VOL_MAX_LINK, err);
		if (n < 0) {
			report((int)n, err);
			return 1;
		}
		target[n] = '\0';
	}
	uint32_t nlink = 1;
	if (lng) {
		struct ward_vstat st;
		char m[11], t[32];
		if (ward_vol_stat(v, p, &st, err) != 0)
			return 0;
		nlink = st.nlink;
		time_t s = (time_t)(st.mtime_ns / 1000000000);
		struct tm tm;
		strftime(t, sizeof(t), "%Y-%m-%d %H:%M", localtime_r(&s, &tm));
		fmt_mode(st.mode, m);
		printf("%s %12llu %s ", m, (unsigned long long)st.size, t);
	}
	put_name(p);
	if (S_ISLNK(e->mode)) {
		fputs(" -> ", stdout);
		put_name(target);
	}
	if (S_ISREG(e->mode) && nlink > 1)
		printf(" (%u links)\n", nlink); /* hard links: -l only */
	else
		printf("%s\n", S_ISDIR(e->mode) ? "/" : "");
	return 0;
}

/* Lists the whole volume depth first, each directory in name order. The
 * open directories are a stack on the heap, not recursion: a volume may
 * be some 2,000 levels deep. */
static int ls_tree(ward_vol *v, int lng)
{
	struct lsdir {
		char *path;		  /* "" for the root */
		struct ward_vdirent *e;
		size_t n, i;
	} *st = NULL;
	size_t depth = 0, cap = 0;
	char err[WARD_VOL_ERR_LEN];
	char *next = strdup("");
	int rc = next ? 0 : -ENOMEM;

	while (rc == 0) {
		if (next != NULL) { /* enter directory next */
			if (depth == cap) {
				size_t nc = cap ? cap * 2 : 16;
				struct lsdir *ns = realloc(st, nc * sizeof(*ns));
				if (ns == NULL) {
					rc = -ENOMEM;
					break;
				}
				st = ns;
				cap = nc;
			}
			struct lsdir *d = &st[depth];
			memset(d, 0, sizeof(*d));
			d->path = next;
			next = NULL;
			depth++;
			if ((rc = ward_vol_readdir(v, d->path, &d->e, &d->n, err)) != 0) {
				report(rc, err);
				rc = 1; /* said */
				break;
			}
		}
		if (depth == 0)
			break;
		struct lsdir *d = &st[depth - 1];
		if (d->i == d->n) { /* done with it */
			free(d->e);
			free(d->path);
			depth--;
			continue;
		}
		const struct ward_vdirent *e = &d->e[d->i++];
		size_t pl = strlen(d->path), nl = strlen(e->name);
		char *p = malloc(pl + nl + 2);
		if (p == NULL) {
			rc = -ENOMEM;
			break;
		}
		snprintf(p, pl + nl + 2, "%s%s%s", d->path, pl ? "/" : "", e->name);
		if (ls_print(v, p, e, lng) != 0) {
			free(p);
			rc = 1; /* said */
			break;
		}
		if (S_ISDIR(e->mode))
			next = p;
		else
			free(p);
	}
	if (rc == -ENOMEM)
		ward_error("out of memory");
	while (depth > 0) {
		depth--;
		free(st[depth].e);
		free(st[depth].path);
	}
	free(st);
	free(next);
	return rc == 0 ? 0 : 1;
}

static int fs_ls(const struct fsopts *o)
{
	ward_vol *v;
	int rc;
	if (need_pos(o, 1, "ls", "VOL") != 0)
		return 2;
	if ((rc = open_vol("ls", o->pos[0], o, WARD_VOL_RDONLY, &v)) != 0)
		return rc;
	rc = ls_tree(v, o->long_list);
	ward_vol_close(v, NULL);
	return rc;
}

/* 1 when path has a ".." component (refused by the library as given) */
static int has_dotdot(const char *path)
{
	for (const char *c = path; c != NULL; c = strchr(c, '/'), c = c ? c + 1 : NULL)
		if (c[0] == '.' && c[1] == '.' && (c[2] == '/' || c[2] == '\0'))
			return 1;
	return 0;
}

/* The volume path cat opens for PATH: links followed (fs_resolve.h) in a
 * volume that has any; PATH as given otherwise, and when the library
 * refuses it anyway (absolute, '..'), so that it says why. */
static int cat_path(ward_vol *v, const char *path, char buf[WARD_VOL_MAX_LINK + 1], const char **out, char *err)
{
	*out = path;
	if (ward_vol_links(v) == 0 || path[0] == '/' || has_dotdot(path))
		return 0;
	*out = buf;
	return fs_resolve(v, path, buf, err);
}

static int fs_cat(const struct fsopts *o)
{
	ward_vol *v;
	ward_vfile *f;
	char err[WARD_VOL_ERR_LEN], rbuf[WARD_VOL_MAX_LINK + 1];
	const char *path;
	int rc;
	if (need_pos(o, 2, "cat", "VOL PATH") != 0)
		return 2;
	if ((rc = open_vol("cat", o->pos[0], o, WARD_VOL_RDONLY, &v)) != 0)
		return rc;
	if ((rc = cat_path(v, o->pos[1], rbuf, &path, err)) != 0) {
		if (rc == -EIO || rc == -EBADMSG || rc == -ENOMEM)
			report(rc, err);
		else
			ward_error("fs cat: %s", err);
		ward_vol_close(v, NULL);
		return 1;
	}
	rc = ward_vf_open(v, path, O_RDONLY, 0, &f, err);
	if (rc != 0) {
		/* PATH names a file inside the volume: a path that starts with
		 * the volume's own name was probably meant without it */
		const char *vname = strrchr(o->pos[0], '/') ? strrchr(o->pos[0], '/') + 1 : o->pos[0];
		size_t vl = strlen(vname), dl = strlen(o->pos[0]);
		const char *rest = NULL;
		if (dl > 0 && strncmp(o->pos[1], o->pos[0], dl) == 0 && o->pos[1][dl] == '/')
			rest = o->pos[1] + dl + 1;
		else if (vl > 0 && strncmp(o->pos[1], vname, vl) == 0 && o->pos[1][vl] == '/')
			rest = o->pos[1] + vl + 1;
		if (rc == -ENOENT && strcmp(path, o->pos[1]) != 0)
			ward_error("fs cat: '%s' is a symbolic link to '%s', which is not in the volume (a dangling link)",
				   o->pos[1], path);
		else if (rc == -ENOENT && rest != NULL)
			ward_error("%s; PATH is relative to the volume: 'ward fs cat %s %s'", err, o->pos[0], rest);
		else if (rc == -ENOENT)
			ward_error("%s; 'ward fs ls %s' lists the volume's files", err, o->pos[0]);
		else if (rc == -EISDIR)
			ward_error("%s; give a file ('ward fs ls %s' lists them)", err, o->pos[0]);
		else
			report(rc, err);
		ward_vol_close(v, NULL);
		return 1;
	}
	size_t cap = 1 << 20;
	uint8_t *buf = malloc(cap);
	uint64_t off = 0;
	rc = buf ? 0 : -ENOMEM;
	while (rc == 0) {
		ssize_t r = ward_vf_pread(f, buf, cap, off, err);
		if (r < 0) {
			rc = (int)r;
			report(rc, err);
			break;
		}
		if (r == 0)
			break;
		if (fwrite(buf, 1, (size_t)r, stdout) != (size_t)r || fflush(stdout) != 0) {
			stdout_failed = errno ? errno : EIO;
			ward_error("cannot write to standard output: %s", strerror(stdout_failed));
			rc = -EIO;
			break;
		}
		off += (uint64_t)r;
	}
	if (buf)
		ward_wipe(buf, cap);
	free(buf);
	ward_vf_close(f, NULL);
	ward_vol_close(v, NULL);
	return rc ? 1 : (fflush(stdout) == 0 ? 0 : 1);
}

static int fs_verify(const struct fsopts *o)
{
	ward_vol *v;
	char err[WARD_VOL_ERR_LEN], hx[2 * WARD_VOL_TAG_LEN + 1];
	uint8_t tag[WARD_VOL_TAG_LEN];
	struct progress pr = { .on = isatty(2), .what = "verifying" };
	int rc;
	if (need_pos(o, 1, "verify", "VOL") != 0)
		return 2;
	if ((rc = open_vol("verify", o->pos[0], o, WARD_VOL_RDONLY, &v)) != 0)
		return rc;
	rc = ward_vol_verify(v, progress_cb, &pr, err);
	if (rc != 0) {
		report(rc, err);
		ward_vol_close(v, NULL);
		return 1;
	}
	ward_vol_tag(v, tag);
	ward_hex(tag, sizeof(tag), hx);
	printf("ok: volume '%s' verified, tag %s%s\n", o->pos[0], hx, o->tag_hex ? " (as pinned)" : "");
	if (ward_vol_kind_of(v) == WARD_VOL_AUTHENTICATED && ward_vol_find_unlisted(v, err) == 1)
		ward_warn("%s; programs under 'ward run' do not see it (if it belongs there, rebuild the manifest with "
			  "'ward fs authenticate')", err);
	ward_vol_close(v, NULL);
	return 0;
}

/* 1 when dir holds no entry (a directory that cannot be read counts as
 * not empty: nothing is removed from it) */
static int dir_is_empty(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int empty = d != NULL;
	while (d != NULL && (e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
			empty = 0;
			break;
		}
	if (d != NULL)
		closedir(d);
	return empty;
}

static int rm_below_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	if (f->level == 0)
		return 0; /* the directory itself: the caller decides */
	return (flag == FTW_DP ? rmdir(p) : unlink(p)) == 0 || errno == ENOENT ? 0 : -1;
}

/* Removes everything below dir (not dir): 0 or -1 */
static int remove_below(const char *dir)
{
	struct stat st;
	if (lstat(dir, &st) != 0)
		return errno == ENOENT ? 0 : -1;
	return nftw(dir, rm_below_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int fs_decrypt(const struct fsopts *o)
{
	ward_vol *v;
	char err[WARD_VOL_ERR_LEN];
	struct progress pr = { .on = isatty(2), .what = "decrypting" };
	int rc;
	if (need_pos(o, 2, "decrypt", "VOL OUT_DIR") != 0)
		return 2;
	if (refuse_nested("decrypt", o->pos[1], "the output directory", o->pos[0], "the volume",
			  "plaintext would be written among its ciphertext") != 0)
		return 1;
	if ((rc = open_vol("decrypt", o->pos[0], o, WARD_VOL_RDONLY, &v)) != 0)
		return rc;
	/* a new or empty directory: what a failure leaves in it is only ours */
	struct stat st;
	int existed = stat(o->pos[1], &st) == 0, fresh = !existed || (S_ISDIR(st.st_mode) && dir_is_empty(o->pos[1]));
	if (fresh)
		interrupt_says("ward: interrupted: '%s' holds part of the volume's files; remove it (rm -r) before "
			       "decrypting again\n",
			       o->pos[1]);
	rc = ward_vol_export(v, o->pos[1], progress_cb, &pr, err);
	ward_vol_close(v, NULL);
	if (rc != 0) {
		if (fresh && remove_below(o->pos[1]) == 0 && (existed || rmdir(o->pos[1]) == 0 || errno == ENOENT)) {
			char tail[PATH_MAX + 64];
			snprintf(tail, sizeof(tail), "; the files decrypted so far were removed from '%s'", o->pos[1]);
			report_then(rc, err, tail);
		} else {
			report(rc, err);
			if (fresh)
				ward_error("'%s' holds part of the volume's files; remove it before decrypting again",
					   o->pos[1]);
		}
		return 1;
	}
	return 0;
}

static int fs_authenticate(const struct fsopts *o)
{
	uint8_t tag[WARD_VOL_TAG_LEN];
	char err[WARD_VOL_ERR_LEN], hx[2 * WARD_VOL_TAG_LEN + 1];
	struct progress pr = { .on = isatty(2), .what = "hashing" };
	if (need_pos(o, 1, "authenticate", "DIR") != 0)
		return 2;
	if (o->out == NULL) {
		ward_error("fs authenticate: -o NAME.manifest is required");
		return 2;
	}
	struct ward_vol_skipped skipped = { 0 };
	int rc = ward_vol_authenticate(o->pos[0], o->out, tag, progress_cb, &pr, &skipped, err);
	if (rc != 0) {
		report(rc, err);
		return 1;
	}
	warn_skipped(o->pos[0], &skipped);
	ward_hex(tag, sizeof(tag), hx);
	printf("%s\n", hx);
	return 0;
}

static int fs_tag(const struct fsopts *o)
{
	ward_vol *v;
	uint8_t tag[WARD_VOL_TAG_LEN];
	char hx[2 * WARD_VOL_TAG_LEN + 1];
	int rc;
	if (need_pos(o, 1, "tag", "VOL") != 0)
		return 2;
	if ((rc = open_vol("tag", o->pos[0], o, WARD_VOL_RDONLY, &v)) != 0)
		return rc;
	ward_vol_tag(v, tag);
	ward_hex(tag, sizeof(tag), hx);
	printf("%s\n", hx);
	ward_vol_close(v, NULL);
	return 0;
}

/* nftw callback: removes what it is given (depth first, links not followed) */
static int rm_entry(const char *p, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	return (type == FTW_DP ? rmdir(p) : unlink(p)) == 0 ? 0 : -1;
}

static int rm_tree(const char *dir)
{
	return nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Removes an old volume so that, killed at any point, what is left is
 * either still a volume its key opens (the manifest goes last) or an
 * empty directory, possibly holding an empty metadata directory: the
 * next rekey recognises both (rm_old_leftover). 0 or -1 (errno set). */
static int rm_old_volume(const char *dir)
{
	char p[PATH_MAX + 400], meta[PATH_MAX + 64];
	int rc = 0;
	snprintf(meta, sizeof(meta), "%s/" WARD_VOL_META_DIR, dir);
	for (int pass = 0; pass < 2 && rc == 0; pass++) {
		/* pass 0: everything but the metadata; pass 1: the metadata but
		 * its manifest */
		const char *d = pass == 0 ? dir : meta;
		DIR *h = opendir(d);
		struct dirent *e;
		if (h == NULL) {
			if (errno != ENOENT)
				return -1;
			continue; /* no metadata left: the rmdirs below finish */
		}
		while (rc == 0 && (e = readdir(h)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
			    strcmp(e->d_name, pass == 0 ? WARD_VOL_META_DIR : "manifest") == 0)
				continue;
			snprintf(p, sizeof(p), "%s/%s", d, e->d_name);
			rc = rm_tree(p);
		}
		closedir(h);
	}
	snprintf(p, sizeof(p), "%s/manifest", meta);
	if (rc == 0 && unlink(p) != 0 && errno != ENOENT)
		rc = -1;
	if (rc == 0 && rmdir(meta) != 0 && errno != ENOENT)
		rc = -1;
	if (rc == 0 && rmdir(dir) != 0)
		rc = -1;
	return rc;
}

/* What an interrupted rm_old_volume left at dir, when no key opens it any
 * more: an empty directory, or one holding only an empty metadata
 * directory. rmdir removes nothing else. */
static void rm_old_leftover(const char *dir)
{
	char meta[PATH_MAX + 64];
	snprintf(meta, sizeof(meta), "%s/" WARD_VOL_META_DIR, dir);
	(void)rmdir(meta);
	(void)rmdir(dir);
}

/* 1 when dir is a complete volume that key opens (its tag in tag, when
 * not NULL), else 0 */
static int opens_with(const char *dir, const uint8_t key[WARD_VOL_KEY_LEN], uint8_t *tag)
{
	struct ward_vol_opts vo = { .kind = WARD_VOL_ENCRYPTED, .key = key, .flags = WARD_VOL_RDONLY };
	char err[WARD_VOL_ERR_LEN];
	ward_vol *v = NULL;
	struct stat st;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || ward_vol_open(dir, &vo, &v, err) != 0)
		return 0;
	if (tag != NULL)
		ward_vol_tag(v, tag);
	ward_vol_close(v, NULL);
	return 1;
}

static int fs_rekey(const struct fsopts *o)
{
	uint8_t okey[WARD_VOL_KEY_LEN], nkey[WARD_VOL_KEY_LEN], tag[WARD_VOL_TAG_LEN];
	char err[WARD_VOL_ERR_LEN], hx[2 * WARD_VOL_TAG_LEN + 1], vol[PATH_MAX], tmp[PATH_MAX + 8];
	struct ward_vol_opts vo = { .kind = WARD_VOL_ENCRYPTED, .flags = WARD_VOL_CREATE | WARD_VOL_INCOMPLETE };
	struct progress pr = { .on = 0, .what = "re-encrypting" };
	ward_vol *src = NULL, *dst = NULL;
	int created = 0, rc = 1, made_tmp = 0;
	size_t n;

	memset(okey, 0, sizeof(okey));
	memset(nkey, 0, sizeof(nkey));
	if (need_pos(o, 1, "rekey", "VOL") != 0)
		return 2;
	if (o->manifest != NULL) {
		ward_error("fs rekey: an authenticated volume has no key; rebuild its manifest with 'ward fs authenticate'");
		return 2;
	}
	if (o->key_file == NULL || o->new_key_file == NULL) {
		ward_error("fs rekey: --key-file KEY (the volume's key) and --new-key-file NEW (generated when it does "
			   "not exist) are required");
		return 2;
	}
	/* VOL without trailing slashes: VOL.rekey is its sibling. A symbolic
	 * link to the volume stays one: the swap happens where it leads. */
	struct stat lst;
	if ((n = strlen(o->pos[0])) >= sizeof(vol)) {
		ward_error("fs rekey: '%s': path too long", o->pos[0]);
		return 1;
	}
	memcpy(vol, o->pos[0], n + 1);
	while (n > 1 && vol[n - 1] == '/')
		vol[--n] = 0;
	if (lstat(vol, &lst) == 0 && S_ISLNK(lst.st_mode) && realpath(o->pos[0], vol) == NULL) {
		ward_error("fs rekey: '%s': %s", o->pos[0], strerror(errno));
		return 1;
	}
	snprintf(tmp, sizeof(tmp), "%s.rekey", vol);
	if (refuse_nested("rekey", o->new_key_file, "the new key file", vol, "the volume",
			  "the key must not be stored next to its ciphertext") != 0 ||
	    refuse_nested("rekey", o->new_key_file, "the new key file", tmp, "the new volume",
			  "the key must not be stored next to its ciphertext") != 0)
		return 1;
	struct stat vst;
	if (stat(vol, &vst) == 0 && vst.st_uid != geteuid()) {
		ward_error("fs rekey: '%s' belongs to user %u; run rekey as that user (the new volume's files belong to "
			   "the user who makes them)", vol, (unsigned)vst.st_uid);
		return 1;
	}
	if (ward_vol_key_load(o->key_file, 0, okey, NULL, err) != 0) {
		ward_error("%s", err);
		return 1;
	}
	/* The same command after a run killed between its swap and the end:
	 * NEW opens VOL already. Finish: remove the old copy (KEY opens it). */
	if (access(o->new_key_file, F_OK) == 0 && ward_vol_key_load(o->new_key_file, 0, nkey, NULL, err) == 0 &&
	    !ward_ct_equal(okey, nkey, sizeof(okey)) && opens_with(vol, nkey, tag)) {
		if (opens_with(tmp, okey, NULL)) {
			if (rm_old_volume(tmp) != 0)
				ward_warn("cannot remove the old ciphertext in '%s': %s; remove it yourself", tmp,
					  strerror(errno));
		} else {
			rm_old_leftover(tmp);
		}
		ward_hex(tag, sizeof(tag), hx);
		fprintf(stderr, "ward: '%s' was re-keyed already (an earlier rekey was interrupted after its swap): "
				"'%s' opens it\n", vol, o->new_key_file);
		printf("%s\n", hx);
		ward_wipe(okey, sizeof(okey));
		ward_wipe(nkey, sizeof(nkey));
		return 0;
	}
	ward_wipe(nkey, sizeof(nkey));
	/* the volume, held exclusively until the swap: no writer in between */
	if ((rc = open_vol("rekey", vol, o, WARD_VOL_RDWR, &src)) != 0) {
		ward_wipe(okey, sizeof(okey));
		return rc;
	}
	rc = 1;
	if (!ward_vol_writable(src)) {
		ward_error("fs rekey: cannot rekey '%s': this user may not write it (a read-only mount, or another "
			   "user's volume)", vol);
		goto out;
	}
	if (ward_vol_key_load(o->new_key_file, 1, nkey, &created, err) != 0) {
		ward_error("%s", err);
		goto out;
	}
	if (ward_ct_equal(okey, nkey, sizeof(okey))) {
		ward_error("fs rekey: '%s' holds the volume's current key; give a new key file (a missing one is "
			   "generated)", o->new_key_file);
		goto out;
	}
	/* VOL.rekey left complete by a run killed just before its swap: the
	 * new key opens it (VOL is still the old volume, opened above), so
	 * it is only a copy, made again below */
	if (!created && opens_with(tmp, nkey, NULL))
		(void)rm_tree(tmp);
	vo.key = nkey;
	int r = ward_vol_open(tmp, &vo, &dst, err);
	if (r == -ENOTEMPTY || r == -ENOTDIR || r == -EEXIST) {
		ward_error("fs rekey: '%s' exists and is not the leftover of an interrupted rekey (it may hold the "
			   "volume under its old key, left by a rekey interrupted after the swap); check it, remove it, "
			   "and run this again", tmp);
		goto out;
	}
	if (r != 0) {
		report(r, err);
		goto out;
	}
	made_tmp = 1;
	pr.on = tree_large();
	r = ward_vol_copy(src, dst, progress_cb, &pr, err);
	if (r == 0)
		r = ward_vol_sync(dst, err);
	if (r == 0)
		r = ward_vol_tag(dst, tag);
	if (r == 0)
		r = ward_vol_complete(dst, err);
	if (r == 0) {
		r = ward_vol_close(dst, err);
		dst = NULL;
	}
	if (r != 0) {
		report(r, err);
		goto out;
	}
	(void)chmod(tmp, vst.st_mode & 07777); /* the volume directory's mode, as it was */
	/* one atomic step: VOL becomes the new volume, VOL.rekey the old one */
	if (renameat2(AT_FDCWD, vol, AT_FDCWD, tmp, RENAME_EXCHANGE) != 0) {
		int e = errno;
		ward_error("fs rekey: cannot put the new volume in place of '%s': %s%s; '%s' is unchanged", vol,
			   strerror(e), e == EINVAL ? " (this file system cannot swap two directories atomically)" : "",
			   vol);
		goto out;
	}
	ward_fsync_parent(vol);
	made_tmp = 0; /* VOL.rekey is the old volume now: removed below, never on failure */
	ward_vol_close(src, NULL);
	src = NULL;
	if (rm_old_volume(tmp) != 0)
		ward_warn("cannot remove the old ciphertext in '%s': %s; remove it yourself", tmp, strerror(errno));
	if (created)
		fprintf(stderr, "ward: generated a new volume key in '%s' (mode 0600); keep it safe, the old key no "
				"longer opens the volume\n", o->new_key_file);
	created = 0;
	ward_hex(tag, sizeof(tag), hx);
	snprintf(stdout_hint, sizeof(stdout_hint),
		 "; the volume was re-keyed: 'ward fs tag %s --key-file %s' prints its tag", vol, o->new_key_file);
	printf("%s\n", hx);
	rc = 0;
out:
	if (dst != NULL)
		(void)ward_vol_discard(dst, NULL);
	if (made_tmp)
		(void)rm_tree(tmp); /* what this run made there: ciphertext only */
	if (src != NULL)
		ward_vol_close(src, NULL);
	if (created)
		(void)unlink(o->new_key_file); /* a key made for this rekey only */
	ward_wipe(okey, sizeof(okey));
	ward_wipe(nkey, sizeof(nkey));
	return rc;
}

int cmd_fs(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(const struct fsopts *);
	} subs[] = {
		{ "encrypt", fs_encrypt }, { "ls", fs_ls },		    { "cat", fs_cat }, { "verify", fs_verify },
		{ "decrypt", fs_decrypt }, { "authenticate", fs_authenticate }, { "tag", fs_tag },
		{ "rekey", fs_rekey },
	};
	struct fsopts o;

	if (argc < 2) {
		ward_error("fs: a command is needed (encrypt, ls, cat, verify, decrypt, authenticate, tag, rekey); see "
			   "'ward fs --help'");
		return 2;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
		if (argc > 2)
			help_sub(argv[2]);
		else
			help_main();
		return 0;
	}
	if (strcmp(argv[1], "_stress") == 0)
		return cmd_fs_stress(argc - 1, argv + 1);
	if (strcmp(argv[1], "_put") == 0)
		return cmd_fs_put(argc - 1, argv + 1);
	for (size_t i = 0; i < WARD_ARRAY_LEN(subs); i++) {
		if (strcmp(argv[1], subs[i].name) != 0)
			continue;
		if (cli_wants_help(argc - 1, argv + 1)) {
			help_sub(subs[i].name);
			return 0;
		}
		if (parse(argc - 1, argv + 1, &o) != 0)
			return 2;
		return finish_stdout(subs[i].fn(&o));
	}
	ward_error("fs: unknown command '%s'; run 'ward fs --help'", argv[1]);
	return 2;
}
