/*
 * sign — signatures of trigger files (OpenSSL EVP).
 *
 * A key is a PEM file: Ed25519 (what `openssl genpkey -algorithm ed25519`
 * makes, and what we recommend), or RSA or EC, signed over SHA-256. A key
 * is known by its id, "SHA256:" and the SHA-256 of its public half
 * (SubjectPublicKeyInfo, DER) in hex: the same for the private key that
 * signs and the public key that checks. Signatures travel as lower-case
 * hex.
 *
 * A private key file must be readable by its owner alone (as ssh insists
 * for its keys); it is refused otherwise, naming the file and the mode.
 */
#ifndef NS_SIGN_H
#define NS_SIGN_H

#include <stddef.h>

struct ns_key;

/* the private key in the PEM file at path (what signs); NS_EINVALID with
 * "what: ..." for a file that is not one, or that others may read */
int ns_key_load_private(struct ns_key **out, const char *path,
			const char *what);
/* the public key in the PEM file at path, or the public half of a
 * private key there (what checks) */
int ns_key_load_public(struct ns_key **out, const char *path, const char *what);
void ns_key_free(struct ns_key *k);
/* "SHA256:<64 hex>" */
const char *ns_key_id(const struct ns_key *k);
/* the signature of data, as hex (caller frees); NULL with the message set */
char *ns_key_sign(const struct ns_key *k, const void *data, size_t n);
/* 1: hex is k's signature of data; 0: it is not (or not hex) */
int ns_key_verify(const struct ns_key *k, const void *data, size_t n,
		  const char *hex);

#endif
