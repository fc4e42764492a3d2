/* fs_resolve.h: following symbolic links inside a volume for `ward fs cat`
 * (the volume library never follows a link: src/fs/volume.h). */
#ifndef WARD_CLI_FS_RESOLVE_H
#define WARD_CLI_FS_RESOLVE_H

#include <stddef.h>

#include "fs/volume.h"

#define FS_RESOLVE_MAX_HOPS 40 /* as Linux (MAXSYMLINKS) */

/* Resolves path (relative to the volume root) into out (at least
 * WARD_VOL_MAX_LINK + 1 bytes): every component that is a link is
 * replaced by its target, read relative to the link's directory, with
 * lexical ".." while it stays inside the volume, up to
 * FS_RESOLVE_MAX_HOPS links in all. The last component is followed too.
 * A component that does not exist ends the resolution: out is then the
 * path as far as it goes, and opening it reports the missing entry.
 * 0, or -errno with one line in err (WARD_VOL_ERR_LEN bytes): an absolute
 * target or one leaving the volume (-EXDEV, naming the link and its
 * target), too many links (-ELOOP), a path too long (-ENAMETOOLONG), a
 * link that fails verification (-EIO, the library's line). */
int fs_resolve(ward_vol *v, const char *path, char *out, char *err);

#endif
