/*
 * hw_decision.h: the CAS's policy decision for verified hardware evidence
 * (SGX, TDX, SEV-SNP) against a session's service (docs/cas.md,
 * "Hardware evidence").
 *
 * Contract: the identity must match first: the measurement (SGX MRENCLAVE,
 * TDX MRTD, SNP MEASUREMENT) listed in `mrenclaves`, or else the service's
 * platform pin (sgx.mrsigner + isvprodid + minimum isvsvn, tdx.mrtd,
 * snp.measurement); the further pins (tdx.rtmr, snp.host_data) always
 * apply. Then: debug refused unless 'debug-mode' is tolerated; the TCB
 * status must be UpToDate or tolerated (outdated-tcb: OutOfDate*,
 * TDRelaunchAdvised*; software-hardening-needed: SWHardeningNeeded;
 * insecure-configuration: ConfigurationNeeded; a combined status needs
 * each part); with a status other than UpToDate every advisory must be in
 * ignore_advisories (or "*"). ward_evidence_policy_check() is applied with
 * the pins and tolerations so derived, and has the last word.
 * Returns 0 when allowed; -1 with "attestation denied by CAS: ..." naming
 * the failed check in reason. Thread-safe; no logging.
 */
#ifndef WARD_CAS_HW_DECISION_H
#define WARD_CAS_HW_DECISION_H

#include <stddef.h>

#include <jansson.h>

#include "cas/evidence_check.h"

int cas_hw_decide(json_t *doc, json_t *svc, const char *session, const char *service,
		  const struct cas_evidence *ev, char *reason, size_t reasonlen);

#endif
