/*
 * The notify transports over libcurl: SMTP (smtp://, smtps://, STARTTLS
 * on request, AUTH with [notify] smtp-user) and webhooks (an HTTP(S) POST
 * of the message's JSON, signed with HMAC-SHA256 when a secret is set).
 * Their rules are in notify.h.
 */
#include "error.h"
#include "hash.h"
#include "lazylib.h"
#include "notify.h"
#include "strbuf.h"
#include "xalloc.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Mail and webhook notices: the library's functions, loaded at first use
 * (lazylib.h) */
#define CURL_API(X)                                                            \
	X(curl_easy_cleanup)                                                   \
	X(curl_easy_getinfo)                                                   \
	X(curl_easy_init)                                                      \
	X(curl_easy_perform)                                                   \
	X(curl_easy_setopt)                                                    \
	X(curl_easy_strerror)                                                  \
	X(curl_slist_append)                                                   \
	X(curl_slist_free_all)
CURL_API(NS_LAZY_SLOT)

NS_LAZY_LOADER(curl_load, CURL_API, NS_SONAME_CURL, "Mail and webhook notices")

#define curl_easy_cleanup lazy_curl_easy_cleanup
/* the header's type-checking macros give way to the pointers */
#undef curl_easy_getinfo
#define curl_easy_getinfo lazy_curl_easy_getinfo
#define curl_easy_init	  lazy_curl_easy_init
#define curl_easy_perform lazy_curl_easy_perform
#undef curl_easy_setopt
#define curl_easy_setopt    lazy_curl_easy_setopt
#define curl_easy_strerror  lazy_curl_easy_strerror
#define curl_slist_append   lazy_curl_slist_append
#define curl_slist_free_all lazy_curl_slist_free_all

struct upload {
	const char *buf;
	size_t len, off;
};

static size_t read_cb(char *to, size_t size, size_t n, void *data)
{
	struct upload *u = data;
	size_t want = size * n, left = u->len - u->off;

	if (want > left)
		want = left;
	memcpy(to, u->buf + u->off, want);
	u->off += want;
	return want;
}

static size_t discard_cb(char *p, size_t size, size_t n, void *data)
{
	(void)p;
	(void)data;
	return size * n;
}

/* a secret kept in a file: its first line */
static int read_secret(char **out, const char *path, const char *key)
{
	struct strbuf sb = STRBUF_INIT;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		ns_error_set("[notify] %s: cannot open '%s': %s", key, path,
			     strerror(errno));
		return NS_EINVALID;
	}
	strbuf_set_cap(&sb, 4096);
	if (strbuf_read_fd(&sb, fd) < 0) {
		ns_error_set("[notify] %s: cannot read '%s': %s", key, path,
			     errno ? strerror(errno) : "over 4 KiB");
		close(fd);
		strbuf_release(&sb);
		return NS_EINVALID;
	}
	close(fd);
	sb.buf[strcspn(sb.buf, "\r\n")] = '\0';
	*out = xstrdup(sb.buf);
	strbuf_release(&sb);
	return 0;
}

static CURL *easy(const struct ns_send *s, char *errbuf)
{
	CURL *h = curl_easy_init();

	if (!h)
		abort();
	errbuf[0] = '\0';
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT,
			 s->timeout < 10 ? s->timeout : 10L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, s->timeout);
	return h;
}

/* the server could not be reached at all (rather than refusing m) */
static int unreachable(CURLcode rc)
{
	return rc == CURLE_COULDNT_CONNECT ||
	       rc == CURLE_COULDNT_RESOLVE_HOST ||
	       rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_SEND_ERROR ||
	       rc == CURLE_RECV_ERROR || rc == CURLE_SSL_CONNECT_ERROR ||
	       rc == CURLE_PEER_FAILED_VERIFICATION;
}

static int failed(CURLcode rc, const char *errbuf, const char *what,
		  const char *url)
{
	ns_error_set("%s %s: %s", what, url,
		     *errbuf ? errbuf : curl_easy_strerror(rc));
	return unreachable(rc) ? NS_ERROR : NS_EFAILED;
}

static int smtp_deliver(const struct ns_send *s, const struct ns_message *m)
{
	const struct ns_notify_conf *nc = &s->cfg->notify;
	char errbuf[CURL_ERROR_SIZE], *from = NULL, *password = NULL;
	char **to = ns_message_addresses(m, nc->domain);
	struct curl_slist *rcpt = NULL;
	struct strbuf mail = STRBUF_INIT;
	struct upload u;
	CURL *h = NULL;
	CURLcode rc;
	int ret = NS_EFAILED;

	if (!to[0]) {
		ns_error_set("no address to send to: '%s' names no address "
			     "and [notify] domain is not set",
			     m->to);
		goto done;
	}
	if (nc->smtp_user) {
		const char *env = getenv("NIGHTSHIFT_SMTP_PASSWORD");
		if (nc->smtp_password_file) {
			if ((ret = read_secret(&password,
					       nc->smtp_password_file,
					       "smtp-password-file")) < 0) {
				ret = NS_ERROR;
				goto done;
			}
		} else if (env && *env) {
			password = xstrdup(env);
		} else if (nc->smtp_password) {
			password = xstrdup(nc->smtp_password);
		}
	}
	for (char **a = to; *a; a++)
		rcpt = curl_slist_append(rcpt, *a);
	ns_message_mail(&mail, m, s->from, to);
	u = (struct upload){ mail.buf, mail.len, 0 };
	from = xprintf("<%s>", s->from);
	h = easy(s, errbuf);
	curl_easy_setopt(h, CURLOPT_URL, nc->smtp);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(h, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(h, CURLOPT_READDATA, &u);
	curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)mail.len);
	if (nc->smtp_starttls)
		curl_easy_setopt(h, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
	if (nc->smtp_user) {
		curl_easy_setopt(h, CURLOPT_USERNAME, nc->smtp_user);
		curl_easy_setopt(h, CURLOPT_PASSWORD, password ? password : "");
	}
	rc = curl_easy_perform(h);
	ret = rc == CURLE_OK ? 0 : failed(rc, errbuf, "SMTP", nc->smtp);
done:
	if (h)
		curl_easy_cleanup(h);
	curl_slist_free_all(rcpt);
	strbuf_release(&mail);
	ns_addresses_free(to);
	free(from);
	if (password)
		explicit_bzero(password, strlen(password));
	free(password);
	return ret;
}

static int webhook_deliver(const struct ns_send *s, const struct ns_message *m)
{
	const struct ns_notify_conf *nc = &s->cfg->notify;
	char errbuf[CURL_ERROR_SIZE], sig[NS_HEX_LEN + 1];
	char *body = ns_message_json(m), *secret = NULL, *h_event,
	     *h_sig = NULL;
	struct curl_slist *hdr = NULL;
	long status = 0;
	CURL *h = NULL;
	CURLcode rc;
	int ret = NS_ERROR;

	if (nc->webhook_secret_file) {
		if (read_secret(&secret, nc->webhook_secret_file,
				"webhook-secret-file") < 0)
			goto done;
	} else if (nc->webhook_secret) {
		secret = xstrdup(nc->webhook_secret);
	}
	h_event = xprintf("X-Nightshift-Event: %s", m->event);
	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	hdr = curl_slist_append(hdr, h_event);
	free(h_event);
	if (secret) {
		ns_hmac_sha256(sig, secret, strlen(secret), body, strlen(body));
		h_sig = xprintf("X-Nightshift-Signature: sha256=%s", sig);
		hdr = curl_slist_append(hdr, h_sig);
	}
	h = easy(s, errbuf);
	curl_easy_setopt(h, CURLOPT_URL, nc->webhook);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
			 (curl_off_t)strlen(body));
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "nightshift/" NS_VERSION);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard_cb);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	rc = curl_easy_perform(h);
	if (rc != CURLE_OK) {
		ret = failed(rc, errbuf, "webhook", nc->webhook);
		goto done;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status > 299) {
		ns_error_set("webhook %s: HTTP %ld (2xx accepts)", nc->webhook,
			     status);
		ret = NS_EFAILED;
		goto done;
	}
	ret = 0;
done:
	if (h)
		curl_easy_cleanup(h);
	curl_slist_free_all(hdr);
	free(body);
	free(h_sig);
	free(secret);
	return ret;
}

/* a library that cannot be loaded is like a server that cannot be
 * reached: the notice stays in the outbox and is tried again */
static int smtp_send(const struct ns_send *s, const struct ns_message *m)
{
	return curl_load() < 0 ? NS_ERROR : smtp_deliver(s, m);
}

static int webhook_send(const struct ns_send *s, const struct ns_message *m)
{
	return curl_load() < 0 ? NS_ERROR : webhook_deliver(s, m);
}

const struct ns_transport ns_transport_smtp = { "smtp", smtp_send };
const struct ns_transport ns_transport_webhook = { "webhook", webhook_send };
