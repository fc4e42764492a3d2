/*
 * landlock.c: the kernel backstop for --deny-outside. The shield's own check
 * sees only calls that go through the C library; Landlock makes the kernel
 * refuse the same opens for direct system calls (ctypes, inline syscalls).
 * Allowed: each region (read only for authenticated ones), a few devices,
 * and /proc (the runtime loads verified libraries from /proc/self/fd).
 * Without Landlock in the kernel the shield warns once and carries on.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/log.h"
#include "runtime/shield/real.h"
#include "runtime/shield/region.h"
#include "runtime/shield/shield.h"

#define FS_V1 ((1ULL << 13) - 1) /* EXECUTE .. MAKE_SYM */
#define FS_REFER (1ULL << 13)    /* ABI 2 */
#define FS_TRUNCATE (1ULL << 14) /* ABI 3 */
#define FS_READ (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_EXECUTE)

static int add_rule(int rs, const char *path, uint64_t access, uint64_t handled)
{
	struct landlock_path_beneath_attr pb;
	int fd = REAL(open64)(path, O_PATH | O_CLOEXEC);
	int rc;
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	memset(&pb, 0, sizeof(pb));
	pb.parent_fd = fd;
	pb.allowed_access = access & handled;
	{
		struct stat st;
		/* Directory-only rights cannot be granted on a file. */
		if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode))
			pb.allowed_access &= LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE |
					     LANDLOCK_ACCESS_FS_EXECUTE | FS_TRUNCATE;
	}
	rc = (int)syscall(SYS_landlock_add_rule, rs, LANDLOCK_RULE_PATH_BENEATH, &pb, 0);
	REAL(close)(fd);
	return rc;
}

int shield_landlock_apply(void)
{
	static const char *const devices[] = { "/dev/null", "/dev/zero", "/dev/urandom", "/dev/random", "/dev/tty" };
	struct landlock_ruleset_attr ra;
	uint64_t handled;
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	int rs;

	if (abi < 1) {
		ward_warn("the kernel has no Landlock: --deny-outside is enforced by the runtime only, not against direct system calls");
		return 0;
	}
	handled = FS_V1 | (abi >= 2 ? FS_REFER : 0) | (abi >= 3 ? FS_TRUNCATE : 0);
	memset(&ra, 0, sizeof(ra));
	ra.handled_access_fs = handled;
	rs = (int)syscall(SYS_landlock_create_ruleset, &ra, sizeof(ra.handled_access_fs), 0);
	if (rs < 0)
		return -1;
	for (int i = 0; i < shield_region_count(); i++) {
		struct shield_region *r = shield_region_at(i);
		uint64_t acc = r->kind == SHIELD_AUTHENTICATED ? FS_READ : handled;
		if (add_rule(rs, r->root, acc, handled) != 0)
			goto fail;
	}
	for (size_t i = 0; i < sizeof(devices) / sizeof(devices[0]); i++)
		if (add_rule(rs, devices[i], LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE, handled) != 0)
			goto fail;
	if (add_rule(rs, "/proc", LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR, handled) != 0)
		goto fail;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || syscall(SYS_landlock_restrict_self, rs, 0) != 0)
		goto fail;
	REAL(close)(rs);
	return 0;
fail:
	REAL(close)(rs);
	return -1;
}
