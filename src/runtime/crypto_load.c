/* crypto_load.c: see crypto_load.h. */
#include "runtime/crypto_load.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#include <openssl/crypto.h>
#include <openssl/ssl.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int have_crypto, have_ssl;

typedef void *(*dlopen_fn)(const char *, int);

int ward_rt_crypto_load(int with_ssl, char *err, size_t errlen)
{
	/* The runtime's own loads are not subject to WARD_ALLOW_DLOPEN: these
	 * files are measured. Bypass the interposed dlopen. */
	dlopen_fn real;
	int rc = 0;

	/* the common case, on every open of a region's file: already loaded */
	if (__atomic_load_n(&have_crypto, __ATOMIC_ACQUIRE) && (!with_ssl || __atomic_load_n(&have_ssl, __ATOMIC_ACQUIRE)))
		return 0;
	real = (dlopen_fn)dlsym(RTLD_NEXT, "dlopen");
	pthread_mutex_lock(&lock);
	if (real == NULL) {
		snprintf(err, errlen, "cannot find the C library's dlopen");
		rc = -1;
		goto out;
	}
	if (!have_crypto) {
		if (real(WARD_LIBCRYPTO_PATH, RTLD_NOW | RTLD_GLOBAL) == NULL) {
			snprintf(err, errlen, "cannot load OpenSSL (%s): %s", WARD_LIBCRYPTO_PATH, dlerror());
			rc = -1;
			goto out;
		}
		/* The host's openssl.cnf (or $OPENSSL_CONF) is not part of the
		 * enclave hash, and a configuration can load provider modules:
		 * inside the enclave OpenSSL runs on its built-in defaults. This
		 * first call also fixes that for every later implicit init. */
		if (OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL) != 1) {
			snprintf(err, errlen, "cannot initialise OpenSSL (%s)", WARD_LIBCRYPTO_PATH);
			rc = -1;
			goto out;
		}
		__atomic_store_n(&have_crypto, 1, __ATOMIC_RELEASE);
	}
	if (with_ssl && !have_ssl) {
		if (real(WARD_LIBSSL_PATH, RTLD_NOW | RTLD_GLOBAL) == NULL) {
			snprintf(err, errlen, "cannot load OpenSSL (%s): %s", WARD_LIBSSL_PATH, dlerror());
			rc = -1;
			goto out;
		}
		if (OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_CONFIG, NULL) != 1) {
			snprintf(err, errlen, "cannot initialise OpenSSL (%s)", WARD_LIBSSL_PATH);
			rc = -1;
			goto out;
		}
		__atomic_store_n(&have_ssl, 1, __ATOMIC_RELEASE);
	}
out:
	pthread_mutex_unlock(&lock);
	return rc;
}
