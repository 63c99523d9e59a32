#include "hash.h"
#include "xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct ns_sha256 {
	EVP_MD_CTX *ctx;
};

struct ns_sha256 *ns_sha256_new(void)
{
	struct ns_sha256 *h = xmalloc(sizeof(*h));

	h->ctx = EVP_MD_CTX_new();
	if (!h->ctx || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1)
		abort();
	return h;
}

void ns_sha256_update(struct ns_sha256 *h, const void *data, size_t len)
{
	if (EVP_DigestUpdate(h->ctx, data, len) != 1)
		abort();
}

void ns_hex_encode(char *out, const unsigned char *in, size_t n)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
	out[2 * n] = '\0';
}

void ns_sha256_finish(char out[NS_HEX_LEN + 1], struct ns_sha256 *h)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (EVP_DigestFinal_ex(h->ctx, md, &n) != 1 || n != 32)
		abort();
	ns_hex_encode(out, md, n);
	EVP_MD_CTX_free(h->ctx);
	free(h);
}

void ns_sha256_buf(char out[NS_HEX_LEN + 1], const void *data, size_t len)
{
	struct ns_sha256 *h = ns_sha256_new();

	ns_sha256_update(h, data, len);
	ns_sha256_finish(out, h);
}

int ns_sha256_fd(char out[NS_HEX_LEN + 1], int fd)
{
	struct ns_sha256 *h = ns_sha256_new();
	char buf[65536];
	ssize_t n;

	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int saved = errno;
			ns_sha256_finish(out, h);
			errno = saved;
			return -1;
		}
		if (n == 0)
			break;
		ns_sha256_update(h, buf, (size_t)n);
	}
	ns_sha256_finish(out, h);
	return 0;
}

int ns_sha256_valid(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!isxdigit((unsigned char)s[i]) ||
		    isupper((unsigned char)s[i]))
			return 0;
	return i == NS_HEX_LEN;
}

void ns_hmac_sha256(char out[NS_HEX_LEN + 1], const void *key, size_t keylen,
		    const void *data, size_t len)
{
	unsigned char md[32];
	unsigned int mdlen = sizeof(md);

	/* an empty key is a valid HMAC key; OpenSSL wants a non-NULL one */
	if (!HMAC(EVP_sha256(), keylen ? key : "", (int)keylen, data, len, md,
		  &mdlen) ||
	    mdlen != sizeof(md))
		abort();
	ns_hex_encode(out, md, sizeof(md));
}
