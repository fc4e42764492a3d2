/*
 * backend_none.c: stands in for backend.c while the build has no volume
 * library (src/fs has no sources yet): every region is refused at start
 * with one line, and nothing else changes.
 */
#include <errno.h>
#include <stdio.h>

#include "runtime/shield/region.h"
#include "runtime/shield/shield.h"

int shield_region_open_backend(struct shield_region *r, char *err, size_t errlen)
{
	snprintf(err, errlen, "cannot open the %s region %s: this build of Ward has no volume library",
		 shield_kind_name(r->kind), r->root);
	return -1;
}
void shield_region_close_backend(struct shield_region *r) { (void)r; }
int shield_be_open(struct shield_node *n, int flags, mode_t mode) { (void)n; (void)flags; (void)mode; return -ENOSYS; }
ssize_t shield_vol_pread(struct shield_node *n, void *b, size_t l, uint64_t o) { (void)n; (void)b; (void)l; (void)o; return -ENOSYS; }
ssize_t shield_vol_pwrite(struct shield_node *n, const void *b, size_t l, uint64_t o) { (void)n; (void)b; (void)l; (void)o; return -ENOSYS; }
ssize_t shield_vol_append(struct shield_node *n, const void *b, size_t l, uint64_t *e) { (void)n; (void)b; (void)l; (void)e; return -ENOSYS; }
int shield_vol_size(struct shield_node *n, uint64_t *s) { (void)n; *s = 0; return 0; }
int shield_be_fstat(struct shield_node *n, struct ward_vstat *st) { (void)n; (void)st; return -ENOSYS; }
int shield_vol_truncate(struct shield_node *n, uint64_t s) { (void)n; (void)s; return -ENOSYS; }
int shield_vol_sync(struct shield_node *n) { (void)n; return -ENOSYS; }
int shield_be_close(struct shield_node *n) { (void)n; return 0; }
int shield_be_stat(struct shield_region *r, const char *p, struct ward_vstat *st) { (void)r; (void)p; (void)st; return -ENOSYS; }
int shield_be_writable(struct shield_region *r) { (void)r; return 0; }
int shield_be_unlink(struct shield_region *r, const char *p) { (void)r; (void)p; return -ENOSYS; }
int shield_be_rename(struct shield_region *r, const char *a, const char *b) { (void)r; (void)a; (void)b; return -ENOSYS; }
int shield_be_mkdir(struct shield_region *r, const char *p, mode_t m) { (void)r; (void)p; (void)m; return -ENOSYS; }
int shield_be_rmdir(struct shield_region *r, const char *p) { (void)r; (void)p; return -ENOSYS; }
int shield_be_setattr(struct shield_region *r, const char *p, int m, int64_t t) { (void)r; (void)p; (void)m; (void)t; return -ENOSYS; }
int shield_be_readdir(struct shield_region *r, const char *p, struct ward_vdirent **o, size_t *n) { (void)r; (void)p; (void)o; (void)n; return -ENOSYS; }
int shield_be_missing(struct shield_region *r, const char *p, char *nm, size_t l) { (void)r; (void)p; (void)nm; (void)l; return 0; }
void shield_report_missing(struct shield_region *r, const char *p) { (void)r; (void)p; }
int shield_ec_open(struct shield_region *r, const char *a, const char *rel, int f, const struct ward_vstat *v, int rec)
{
	(void)r; (void)a; (void)rel; (void)f; (void)v; (void)rec;
	return -1;
}
uint64_t shield_be_links(struct shield_region *r) { (void)r; return 0; }
ssize_t shield_be_link_target(struct shield_region *r, const char *p, char *b, size_t l) { (void)r; (void)p; (void)b; (void)l; return 0; }
ssize_t shield_be_readlink(struct shield_region *r, const char *p, char *b, size_t l) { (void)r; (void)p; (void)b; (void)l; return -ENOSYS; }
int shield_be_link(struct shield_region *r, const char *a, const char *b) { (void)r; (void)a; (void)b; return -ENOSYS; }
int shield_be_symlink(struct shield_region *r, const char *t, const char *p) { (void)r; (void)t; (void)p; return -ENOSYS; }
void ward_shield_helpers_retire(void) {}
