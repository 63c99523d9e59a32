/* notify: the pieces of delivery that need no server — reading an outbox
 * message, addresses, the mail and the JSON event as sent, the delivery
 * state and its backoff, the HMAC — and one delivery against a closed
 * port, whose failure must stay in the outbox with its next attempt */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "error.h"
#include "hash.h"
#include "notify.h"
#include "testutil.h"
#include "timefmt.h"

#define WHAT "outbox/x.msg"

static const char good[] = "To: quinn, users@example.com, cm\n"
			   "Subject: [nightshift] ENH-7 r2 migrated: Tariffs\n"
			   "Date: 2026-03-06T23:15:00Z\n"
			   "X-Nightshift-Event: migrated\n"
			   "X-Nightshift-Roles: developer, qa, users\n"
			   "X-Nightshift-Enhancement: ENH-7\n"
			   "X-Nightshift-Environment: billing/model\n"
			   "X-Nightshift-Revision: r2\n"
			   "\n"
			   "ENH-7 r2 migrated.\n"
			   ".a line that starts with a dot\n";

static void parse(struct ns_message *m, const char *text)
{
	assert_int_equal(ns_message_parse(m, "x", text, strlen(text), WHAT), 0);
}

static void refused(const char *text, const char *needle)
{
	struct ns_message m = NS_MESSAGE_INIT;

	assert_int_equal(ns_message_parse(&m, "x", text, strlen(text), WHAT),
			 NS_EINVALID);
	tu_assert_error_has(WHAT);
	tu_assert_error_has(needle);
	assert_null(m.to);
}

static void test_parse(void **state)
{
	struct ns_message m = NS_MESSAGE_INIT;

	parse(&m, good);
	assert_string_equal(m.name, "x");
	assert_string_equal(m.to, "quinn, users@example.com, cm");
	assert_string_equal(m.event, "migrated");
	assert_string_equal(m.enhancement, "ENH-7");
	assert_string_equal(m.environment, "billing/model");
	assert_string_equal(m.revision, "r2");
	assert_string_equal(m.body, "ENH-7 r2 migrated.\n"
				    ".a line that starts with a dot\n");
	assert_int_equal((long long)m.time, 1772838900LL);
	ns_message_release(&m);
}

static void test_parse_refused(void **state)
{
	refused("Subject: s\nDate: 2026-03-06T23:15:00Z\n"
		"X-Nightshift-Event: e\n\nbody\n",
		"no To header");
	refused("To: a\nSubject: s\nDate: 2026-03-06T23:15:00Z\n"
		"X-Nightshift-Event: e\n",
		"no body");
	refused("To: a\nSubject: s\nDate: yesterday\nX-Nightshift-Event: "
		"e\n\nb\n",
		"Date: expected an ISO 8601 time, not 'yesterday'");
	refused("To: a\nTo: b\nSubject: s\n\nb\n", "header To given twice");
	refused("To: a\nthis is no header\n\nb\n", "malformed header line");
	refused("To: a\nSubject: s", "the headers do not end");
	assert_int_equal(ns_message_parse(&(struct ns_message){ 0 }, "x",
					  "To: a\0\n\n", 8, WHAT),
			 NS_EINVALID);
	tu_assert_error_has("NUL byte");
}

static char *joined(char **l)
{
	size_t n = 1;
	char *s;

	for (char **p = l; *p; p++)
		n += strlen(*p) + 1;
	s = calloc(1, n);
	for (char **p = l; *p; p++) {
		strcat(s, *p);
		if (p[1])
			strcat(s, " ");
	}
	return s;
}

static void test_addresses(void **state)
{
	struct ns_message m = NS_MESSAGE_INIT;
	char **l, *s;

	parse(&m, good);
	l = ns_message_addresses(&m, "example.org");
	s = joined(l);
	assert_string_equal(
		s, "quinn@example.org users@example.com cm@example.org");
	free(s);
	ns_addresses_free(l);
	/* without a domain only the addresses remain */
	l = ns_message_addresses(&m, NULL);
	s = joined(l);
	assert_string_equal(s, "users@example.com");
	free(s);
	ns_addresses_free(l);
	free(m.to);
	m.to = strdup("(nobody configured)");
	l = ns_message_addresses(&m, "example.org");
	assert_null(l[0]);
	ns_addresses_free(l);
	ns_message_release(&m);
}

static void test_mail(void **state)
{
	struct ns_message m = NS_MESSAGE_INIT;
	struct strbuf sb = STRBUF_INIT;
	char *to[] = { "quinn@example.org", "users@example.com", NULL };

	parse(&m, good);
	ns_message_mail(&sb, &m, "nightshift@example.org", to);
	assert_non_null(strstr(sb.buf,
			       "From: nightshift "
			       "<nightshift@example.org>\r\n"
			       "To: quinn@example.org,\r\n"
			       " users@example.com\r\n"
			       "Subject: [nightshift] ENH-7 r2 "
			       "migrated: Tariffs\r\n"
			       "Date: Fri, 06 Mar 2026 23:15:00 +0000\r\n"
			       "Message-ID: <x@example.org>\r\n"));
	assert_non_null(strstr(sb.buf, "X-Nightshift-Environment: "
				       "billing/model\r\n"));
	assert_non_null(strstr(sb.buf, "Content-Type: text/plain; "
				       "charset=utf-8\r\n"));
	/* the body after one empty line, every line end CRLF */
	assert_non_null(strstr(sb.buf, "\r\n\r\nENH-7 r2 migrated.\r\n"
				       ".a line that starts with a dot\r\n"));
	for (size_t i = 0; i < sb.len; i++)
		if (sb.buf[i] == '\n')
			assert_true(i > 0 && sb.buf[i - 1] == '\r');
	strbuf_release(&sb);

	/* a subject that is not ASCII is encoded (RFC 2047) */
	free(m.subject);
	m.subject = strdup("Tarif \xc3\xa9t\xc3\xa9");
	ns_message_mail(&sb, &m, "n@h", to);
	assert_non_null(strstr(sb.buf, "Subject: =?UTF-8?B?VGFyaWYgw6l0w6k=?="
				       "\r\n"));
	strbuf_release(&sb);
	ns_message_release(&m);
}

static void test_json(void **state)
{
	struct ns_message m = NS_MESSAGE_INIT;
	char *s;

	parse(&m, good);
	s = ns_message_json(&m);
	assert_non_null(strstr(s, "\"event\":\"migrated\""));
	assert_non_null(strstr(s, "\"outcome\":\"migrated\""));
	assert_non_null(strstr(s, "\"enhancement\":\"ENH-7\""));
	assert_non_null(strstr(s, "\"revision\":2,"));
	assert_non_null(strstr(s, "\"environment\":\"billing/model\""));
	assert_non_null(strstr(s, "\"time\":\"2026-03-06T23:15:00Z\""));
	assert_non_null(strstr(s, "\"recipients\":[\"quinn\","
				  "\"users@example.com\",\"cm\"]"));
	assert_non_null(strstr(s, "\"body\":\"ENH-7 r2 migrated.\\n"));
	free(s);
	free(m.environment);
	free(m.revision);
	m.environment = m.revision = NULL;
	s = ns_message_json(&m);
	assert_non_null(strstr(s, "\"environment\":null"));
	assert_non_null(strstr(s, "\"revision\":null"));
	free(s);
	ns_message_release(&m);
}

static void test_backoff(void **state)
{
	assert_int_equal(ns_notify_backoff(1), 60);
	assert_int_equal(ns_notify_backoff(2), 120);
	assert_int_equal(ns_notify_backoff(3), 240);
	assert_int_equal(ns_notify_backoff(9), 60 << 8);
	assert_int_equal(ns_notify_backoff(10), 6 * 3600);
	assert_int_equal(ns_notify_backoff(1000), 6 * 3600);
}

static void test_state(void **state)
{
	struct ns_dstate s = { 0 }, back = { 0 };
	struct strbuf sb = STRBUF_INIT;
	struct ns_tstate *t;

	t = ns_dstate_get(&s, "smtp");
	t->attempts = 3;
	t->next = 1772838900;
	t->error = strdup("SMTP smtp://h:25: RCPT failed: 550\nsecond line");
	t = ns_dstate_get(&s, "webhook");
	t->accepted = 1;
	t->attempts = 1;
	ns_dstate_format(&sb, &s);
	assert_string_equal(sb.buf,
			    "smtp pending 3 2026-03-06T23:15:00Z SMTP "
			    "smtp://h:25: RCPT failed: 550 second line\n"
			    "webhook accepted 1 -\n");
	assert_int_equal(ns_dstate_parse(&back, sb.buf, "x.state"), 0);
	assert_int_equal(back.nr, 2);
	assert_int_equal(ns_dstate_get(&back, "smtp")->attempts, 3);
	assert_int_equal((long long)ns_dstate_get(&back, "smtp")->next,
			 1772838900LL);
	assert_string_equal(ns_dstate_get(&back, "smtp")->error,
			    "SMTP smtp://h:25: RCPT failed: 550 second line");
	assert_true(ns_dstate_get(&back, "webhook")->accepted);
	assert_null(ns_dstate_get(&back, "webhook")->error);
	ns_dstate_release(&back);
	ns_dstate_release(&s);
	strbuf_release(&sb);

	assert_int_equal(ns_dstate_parse(&back, "smtp sent 1 -\n", "x.state"),
			 NS_EINVALID);
	tu_assert_error_has("x.state:1: malformed delivery state");
	assert_int_equal(ns_dstate_parse(&back,
					 "smtp pending 1 -\nwebhook "
					 "pending x -\n",
					 "x.state"),
			 NS_EINVALID);
	tu_assert_error_has("x.state:2:");
	/* each field whole, one space between, each transport once: a
	 * state file nightshift did not write is refused, never half read */
	static const char *const bad[] = {
		"smtp pending 2- x\n",
		"smtp  pending 2 -\n",
		"smtp pending 2\n",
		"smtp pending -2 -\n",
		"smtp pending 99999999999 -\n",
		"smtp pending 2 2026-13-01T00:00:00Z\n",
		"smtp pending 1 - a\nsmtp pending 2 - b\n",
		"a-transport-name-too-long pending 1 -\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		if (ns_dstate_parse(&back, bad[i], "x.state") != NS_EINVALID)
			fail_msg("accepted: '%s'", bad[i]);
		tu_assert_error_has("x.state:");
	}
	tu_assert_error_has("x.state:1: malformed delivery state "
			    "'a-transport-name-too-long pending 1 -'");
}

static void test_hmac(void **state)
{
	char out[NS_HEX_LEN + 1];

	/* RFC 4231, test case 2 */
	ns_hmac_sha256(out, "Jefe", 4, "what do ya want for nothing?", 28);
	assert_string_equal(out, "5bdcc146bf60754e6a042426089575c7"
				 "5a003f089d2739839dec58b964ec3843");
}

/* a closed port: the failure is kept with its next attempt, nothing lost */
static void test_deliver_unreachable(void **state)
{
	char *dir = tu_scratch_new("notify"), *conf, *outbox, *path = NULL;
	struct ns_config c = NS_CONFIG_INIT;
	struct ns_deliver_report r = NS_DELIVER_REPORT_INIT;
	const char *roles[] = { "qa", NULL };
	struct ns_notice n = { "migrated",
			       roles,
			       "dev",
			       NULL,
			       "ENH-1",
			       "demo/model",
			       "ENH-1 r1 migrated",
			       "body\n",
			       1 };
	json_t *l = NULL, *t;
	char *st, *orphan, spath[4096];

	assert_non_null(dir);
	conf = tu_at(dir, "nightshift.conf");
	outbox = tu_at(dir, "outbox");
	/* port 1 on the loopback: refused at once */
	tu_put(conf,
	       "[notify]\nsmtp = smtp://127.0.0.1:1\ndomain = example.org\n"
	       "[role \"qa\"]\nmembers = quinn\n",
	       0644);
	assert_int_equal(ns_config_load(&c, conf), 0);
	assert_int_equal(ns_notify(&c, &n, &path), 0);
	assert_int_equal(ns_notify_deliver(&c, 1000, NS_DELIVER_QUICK, &r), 0);
	assert_int_equal(r.configured, 1);
	assert_int_equal(r.failed, 1);
	assert_int_equal(r.waiting, 1);
	assert_int_equal(r.sent, 0);
	assert_true(tu_exists(path));
	/* the sidecar beside it says why it waits */
	snprintf(spath, sizeof(spath), "%.*s.state", (int)strlen(path) - 4,
		 path);
	st = tu_slurp(spath, NULL);
	assert_non_null(strstr(st, "smtp pending 1 1970-01-01T00:17:40Z "
				   "SMTP smtp://127.0.0.1:1: "));
	free(st);
	assert_int_equal(ns_notify_list(&l, &c), 0);
	assert_int_equal(json_array_size(l), 1);
	t = json_array_get(json_object_get(json_array_get(l, 0), "transports"),
			   0);
	assert_string_equal(json_string_value(json_object_get(t, "state")),
			    "pending");
	assert_int_equal(json_integer_value(json_object_get(t, "attempts")), 1);
	assert_string_equal(json_string_value(json_object_get(t, "next")),
			    "1970-01-01T00:17:40Z");
	assert_non_null(strstr(json_string_value(json_object_get(t, "error")),
			       "127.0.0.1:1"));
	json_decref(l);
	ns_deliver_report_release(&r);

	/* not due before its time: nothing tried, nothing changed; a
	 * sidecar whose message is gone (moved to sent/ just before a
	 * crash) is swept */
	orphan = tu_at(outbox, "19700101T000000-1-000-gone.state");
	tu_put(orphan, "smtp accepted 1 -\n", 0644);
	assert_int_equal(ns_notify_deliver(&c, 1059, 0, &r), 0);
	assert_false(tu_exists(orphan));
	assert_true(tu_exists(path));
	free(orphan);
	assert_int_equal(r.failed, 0);
	assert_int_equal(r.waiting, 1);
	ns_deliver_report_release(&r);
	free(path);
	free(conf);
	free(outbox);
	ns_config_release(&c);
	ns_error_clear();
	assert_int_equal(tu_scratch_free(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_refused),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_mail),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_state),
		cmocka_unit_test(test_hmac),
		cmocka_unit_test(test_deliver_unreachable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
