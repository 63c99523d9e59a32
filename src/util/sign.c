#include "sign.h"
#include "error.h"
#include "hash.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct ns_key {
	EVP_PKEY *pkey;
	char id[7 + NS_HEX_LEN + 1];
};

/* Ed25519 and Ed448 sign the message itself; the others its SHA-256 */
static const EVP_MD *digest_of(EVP_PKEY *pkey)
{
	int t = EVP_PKEY_get_base_id(pkey);

	return t == EVP_PKEY_ED25519 || t == EVP_PKEY_ED448 ? NULL
							    : EVP_sha256();
}

static int signing_type(EVP_PKEY *pkey)
{
	switch (EVP_PKEY_get_base_id(pkey)) {
	case EVP_PKEY_ED25519:
	case EVP_PKEY_ED448:
	case EVP_PKEY_RSA:
	case EVP_PKEY_EC:
		return 1;
	default:
		return 0;
	}
}

/* nightshift runs unattended: an encrypted key is not read (OpenSSL would
 * otherwise ask for its passphrase on the terminal) */
static int no_passphrase(char *buf, int size, int rwflag, void *data)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)data;
	return -1;
}

/* the PEM file at path: a private key (need_private), else a public key or
 * the public half of a private one */
static int load(struct ns_key **out, const char *path, const char *what,
		int need_private)
{
	struct stat st;
	EVP_PKEY *pkey = NULL;
	unsigned char *der = NULL;
	FILE *f;
	int fd, len, is_private = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0) {
		ns_error_set("%s: cannot read '%s': %s", what, path,
			     strerror(errno));
		if (fd >= 0)
			close(fd);
		return NS_EINVALID;
	}
	if (!(f = fdopen(fd, "r"))) {
		ns_error_set("%s: cannot read '%s': %s", what, path,
			     strerror(errno));
		close(fd);
		return NS_EINVALID;
	}
	pkey = PEM_read_PrivateKey(f, NULL, no_passphrase, NULL);
	if (pkey)
		is_private = 1;
	else if (!need_private) {
		rewind(f);
		pkey = PEM_read_PUBKEY(f, NULL, no_passphrase, NULL);
	}
	fclose(f);
	ERR_clear_error(); /* what a failed PEM read left behind */
	if (!pkey) {
		ns_error_set("%s: '%s' holds no PEM %s key, or one encrypted "
			     "with a passphrase, which nightshift cannot type "
			     "(make one with `openssl genpkey -algorithm "
			     "ed25519`)",
			     what, path, need_private ? "private" : "public");
		return NS_EINVALID;
	}
	if (!signing_type(pkey)) {
		ns_error_set("%s: '%s' holds a key of type %s, which does not "
			     "sign; use Ed25519, RSA or EC",
			     what, path,
			     OBJ_nid2sn(EVP_PKEY_get_base_id(pkey)));
		EVP_PKEY_free(pkey);
		return NS_EINVALID;
	}
	if (is_private && (st.st_mode & 077)) {
		ns_error_set("%s: the private key '%s' may be read by others "
			     "(mode %04o): `chmod 600` it",
			     what, path, (unsigned)(st.st_mode & 07777));
		EVP_PKEY_free(pkey);
		return NS_EINVALID;
	}
	if ((len = i2d_PUBKEY(pkey, &der)) <= 0)
		abort(); /* out of memory: a loaded key always encodes */
	*out = xcalloc(1, sizeof(**out));
	(*out)->pkey = pkey;
	memcpy((*out)->id, "SHA256:", 7);
	ns_sha256_buf((*out)->id + 7, der, (size_t)len);
	OPENSSL_free(der);
	return 0;
}

int ns_key_load_private(struct ns_key **out, const char *path, const char *what)
{
	return load(out, path, what, 1);
}

int ns_key_load_public(struct ns_key **out, const char *path, const char *what)
{
	return load(out, path, what, 0);
}

void ns_key_free(struct ns_key *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

const char *ns_key_id(const struct ns_key *k)
{
	return k->id;
}

char *ns_key_sign(const struct ns_key *k, const void *data, size_t n)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char *sig = NULL;
	size_t len = 0;
	char *out = NULL;

	if (ctx &&
	    EVP_DigestSignInit(ctx, NULL, digest_of(k->pkey), NULL, k->pkey) ==
		    1 &&
	    EVP_DigestSign(ctx, NULL, &len, data, n) == 1) {
		sig = xmalloc(len);
		if (EVP_DigestSign(ctx, sig, &len, data, n) == 1) {
			out = xmalloc(2 * len + 1);
			ns_hex_encode(out, sig, len);
		}
	}
	if (!out)
		ns_error_set("cannot sign with key %s", k->id);
	free(sig);
	EVP_MD_CTX_free(ctx);
	return out;
}

int ns_key_verify(const struct ns_key *k, const void *data, size_t n,
		  const char *hex)
{
	unsigned char *sig = xmalloc(strlen(hex) / 2 + 1);
	size_t len = 0;
	EVP_MD_CTX *ctx;
	int ok = 0;

	/* lower-case hex, as signatures travel; OpenSSL's reader refuses an
	 * odd length */
	if (!*hex || hex[strspn(hex, "0123456789abcdef")] ||
	    OPENSSL_hexstr2buf_ex(sig, strlen(hex) / 2 + 1, &len, hex, '\0') !=
		    1) {
		ERR_clear_error();
		free(sig);
		return 0;
	}
	ctx = EVP_MD_CTX_new();
	if (ctx && EVP_DigestVerifyInit(ctx, NULL, digest_of(k->pkey), NULL,
					k->pkey) == 1)
		ok = EVP_DigestVerify(ctx, sig, len, data, n) == 1;
	EVP_MD_CTX_free(ctx);
	free(sig);
	return ok;
}
