/* names.h: the words of the session language for enums, in enum order.
 * Internal to src/policy. */
#ifndef WARD_POLICY_NAMES_H
#define WARD_POLICY_NAMES_H

#define WARD_SECRET_KINDS 6
#define WARD_VOLUME_KINDS 3
#define WARD_TOLERATE_NAMES 6

extern const char *const ward_names_secret_kind[WARD_SECRET_KINDS];
extern const char *const ward_names_volume_kind[WARD_VOLUME_KINDS];
extern const char *const ward_names_tolerate[WARD_TOLERATE_NAMES];

#endif
