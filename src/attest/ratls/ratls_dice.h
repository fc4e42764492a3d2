/*
 * ratls_dice.h: the CBOR of the TCG DICE tagged-evidence extension (via
 * libcbor): tag(T)([evidence bstr, claims-buffer bstr]) and the claims map
 * {"pubkey-hash": bstr(CBOR [alg, hash]), "nonce": bstr, ...}.
 *
 * Contract: decoding requires definite lengths, exactly the expected
 * shapes, and no trailing bytes; outputs are malloc'ed copies the caller
 * frees; on failure nothing is returned and err holds the reason.
 */
#ifndef WARD_ATTEST_RATLS_RATLS_DICE_H
#define WARD_ATTEST_RATLS_RATLS_DICE_H

#include <stddef.h>
#include <stdint.h>

int ward_dice_encode(uint64_t tag, const uint8_t *ev, size_t evlen, const uint8_t *claims,
		     size_t claims_len, uint8_t **out, size_t *outlen, char *err, size_t errlen);
int ward_dice_decode(const uint8_t *buf, size_t len, uint64_t *tag, uint8_t **ev, size_t *evlen,
		     uint8_t **claims, size_t *claims_len, char *err, size_t errlen);

struct ward_dice_claims {
	int has_pubkey_hash;
	uint64_t alg;
	uint8_t hash[64];
	size_t hash_len;
	uint8_t *nonce; /* malloc'ed or NULL */
	size_t nonce_len;
	size_t other; /* claims not interpreted (tolerated) */
};

int ward_dice_claims_encode(uint64_t alg, const uint8_t *hash, size_t hash_len,
			    const uint8_t *nonce, size_t nonce_len, uint8_t **out, size_t *outlen,
			    char *err, size_t errlen);
int ward_dice_claims_decode(const uint8_t *buf, size_t len, struct ward_dice_claims *out,
			    char *err, size_t errlen);

#endif
