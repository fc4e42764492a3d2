/*
 * crypto_load.h: OpenSSL on demand.
 *
 * libcrypto costs about 3 ms to load, a quarter of CPython's start-up, and
 * most enclave starts do not need it (the enclave hash usually comes from the
 * hash cache). So the runtime is linked without it: OpenSSL's functions bind
 * lazily through the PLT, and ward_rt_crypto_load() must have been called
 * before the first of them is. It loads exactly WARD_LIBCRYPTO_PATH (and
 * WARD_LIBSSL_PATH), the files that the enclave hash always covers as the
 * runtime's dependencies, whether they are loaded in a given run or not.
 *
 * OpenSSL is initialised without loading a configuration file: the host's
 * openssl.cnf is not measured and could load provider modules.
 *
 * Contract: idempotent and thread-safe; 0 on success, -1 with a message.
 * Calling any OpenSSL function in the runtime before success is a bug.
 */
#ifndef WARD_RUNTIME_CRYPTO_LOAD_H
#define WARD_RUNTIME_CRYPTO_LOAD_H

#include <stddef.h>

int ward_rt_crypto_load(int with_ssl, char *err, size_t errlen);

#endif
