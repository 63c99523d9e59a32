/*
 * hash — SHA-256 of buffers, streams and files (OpenSSL EVP).
 *
 * Digests travel as 64-character lower-case hex strings (char[65]), the
 * form they take in TRIGGER.json, enhancement.ini and the registry.
 */
#ifndef NS_HASH_H
#define NS_HASH_H

#include <stddef.h>

#define NS_HEX_LEN 64

struct ns_sha256;

struct ns_sha256 *ns_sha256_new(void);
void ns_sha256_update(struct ns_sha256 *h, const void *data, size_t len);
/* writes the hex digest into out and frees h */
void ns_sha256_finish(char out[NS_HEX_LEN + 1], struct ns_sha256 *h);
void ns_sha256_buf(char out[NS_HEX_LEN + 1], const void *data, size_t len);
/* hash the rest of fd; -1 with errno on a read error */
int ns_sha256_fd(char out[NS_HEX_LEN + 1], int fd);
/* HMAC-SHA256 of data under key, as hex (webhook signatures) */
void ns_hmac_sha256(char out[NS_HEX_LEN + 1], const void *key, size_t keylen,
		    const void *data, size_t len);
/* n bytes as 2n lower-case hex digits and a NUL */
void ns_hex_encode(char *out, const unsigned char *in, size_t n);
/* true when s is 64 hex digits */
int ns_sha256_valid(const char *s);

#endif
