/*
 * cas_start.h: the attested start. With WARD_CAS_ADDR (the CAS, as for
 * `ward session`: host:8081) and WARD_CONFIG_ID=SESSION/SERVICE, the runtime
 * attests on the CAS's attestation port (host:8082, or WARD_CAS_ATTEST_ADDR
 * when the CAS listens elsewhere; WARD_CAS_FINGERPRINT pins its key). Before
 * the program's main: creates a key pair inside the enclave, produces
 * evidence binding it (simulation: signed by this machine's simulation
 * platform key), attests to the CAS over TLS (docs/cas-api.md) and receives
 * the service's configuration. It then replaces the program's arguments,
 * environment and working directory with the policy's (the host's are
 * ignored), substituting $$WARD::name$$ placeholders with the secrets it
 * received. On denial nothing runs: one line with the CAS's reason.
 *
 * Contract: returns 0 when no CAS is configured (argv untouched) or after a
 * successful start (argc and argv replaced; the strings live for the process);
 * never returns on failure (ward_rt_fatal, exit status 125).
 */
#ifndef WARD_RUNTIME_CAS_START_H
#define WARD_RUNTIME_CAS_START_H

#include <stdint.h>

#include "runtime/config.h"

int ward_rt_cas_start(const struct ward_config *c, enum ward_mode used, const uint8_t measurement[32],
		      int *argc, char ***argv);

#endif
