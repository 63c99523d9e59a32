#include "notify.h"
#include "error.h"
#include "fsx.h"
#include "strbuf.h"
#include "timefmt.h"
#include "xalloc.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void add_list(struct strbuf *to, char *const *l, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (strstr(to->buf, l[i]))
			continue;
		strbuf_addf(to, "%s%s", to->len ? ", " : "", l[i]);
	}
}

static void recipients(struct strbuf *to, const struct ns_config *c,
		       const struct ns_notice *n)
{
	for (const char **r = n->roles; r && *r; r++) {
		if (!strcmp(*r, "developer") && n->author) {
			char *a = xstrdup(n->author);
			add_list(to, &a, 1);
			free(a);
		} else if (!strcmp(*r, "users")) {
			const struct ns_system *s =
				n->system ? ns_config_system(c, n->system)
					  : NULL;
			if (s)
				add_list(to, s->users, s->users_nr);
		} else {
			const struct ns_role *role = ns_config_role(c, *r);
			if (role)
				add_list(to, role->members, role->members_nr);
		}
	}
}

int ns_notify(const struct ns_config *c, const struct ns_notice *n,
	      char **out_path)
{
	static unsigned seq;
	struct strbuf msg = STRBUF_INIT, to = STRBUF_INIT;
	char at[NS_TIME_LEN], stamp[32];
	char *path;
	time_t now = ns_now();
	struct tm tm;
	int ret;

	recipients(&to, c, n);
	ns_time_iso(at, now);
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm);
	strbuf_addf(&msg, "To: %s\n", to.len ? to.buf : "(nobody configured)");
	strbuf_addf(&msg, "Subject: [nightshift] %s\n", n->subject);
	strbuf_addf(&msg, "Date: %s\n", at);
	strbuf_addf(&msg, "X-Nightshift-Event: %s\n", n->event);
	strbuf_addstr(&msg, "X-Nightshift-Roles: ");
	for (const char **r = n->roles; r && *r; r++)
		strbuf_addf(&msg, "%s%s", r == n->roles ? "" : ", ", *r);
	strbuf_addch(&msg, '\n');
	if (n->enhancement)
		strbuf_addf(&msg, "X-Nightshift-Enhancement: %s\n",
			    n->enhancement);
	if (n->environment)
		strbuf_addf(&msg, "X-Nightshift-Environment: %s\n",
			    n->environment);
	strbuf_addf(&msg, "\n%s\n", n->body);
	ret = ns_fsx_mkdir_p(c->outbox, 0755);
	path = xprintf("%s/%s-%05ld-%03u-%s.msg", c->outbox, stamp,
		       (long)getpid(), seq++, n->event);
	if (!ret)
		ret = ns_fsx_write_file(path, msg.buf, msg.len);
	if (!ret && out_path)
		*out_path = path;
	else
		free(path);
	strbuf_release(&msg);
	strbuf_release(&to);
	return ret;
}
