#include "audit.h"
#include "error.h"
#include "registry.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

const char ns_audit_genesis[NS_HEX_LEN + 1] =
	"0000000000000000000000000000000000000000000000000000000000000000";

/* sizeof includes the NUL, which ends the domain string in the record */
static const char domain[] = "nightshift-audit-v1";

struct ns_audit_value ns_audit_text(const char *s)
{
	struct ns_audit_value v = { NS_AUDIT_NULL, 0, 0, NULL, 0 };

	if (s) {
		v.type = NS_AUDIT_TEXT;
		v.s = s;
		v.len = strlen(s);
	}
	return v;
}

struct ns_audit_value ns_audit_int(long long i)
{
	struct ns_audit_value v = { NS_AUDIT_INT, i, 0, NULL, 0 };

	return v;
}

static void put_byte(struct ns_sha256 *h, unsigned char c)
{
	ns_sha256_update(h, &c, 1);
}

static void put_u64(struct ns_sha256 *h, uint64_t n)
{
	unsigned char b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(n >> (56 - 8 * i));
	ns_sha256_update(h, b, sizeof(b));
}

static void put_value(struct ns_sha256 *h, const struct ns_audit_value *v)
{
	uint64_t bits;

	switch (v->type) {
	case NS_AUDIT_INT:
		put_byte(h, 'I');
		put_u64(h, (uint64_t)v->i);
		break;
	case NS_AUDIT_REAL:
		put_byte(h, 'R');
		memcpy(&bits, &v->r, sizeof(bits));
		put_u64(h, bits);
		break;
	case NS_AUDIT_TEXT:
	case NS_AUDIT_BLOB:
		put_byte(h, v->type == NS_AUDIT_TEXT ? 'T' : 'B');
		put_u64(h, v->len);
		if (v->len)
			ns_sha256_update(h, v->s, v->len);
		break;
	default:
		put_byte(h, 'N');
		break;
	}
}

void ns_audit_event_sha256(char out[NS_HEX_LEN + 1],
			   const struct ns_audit_event *ev)
{
	struct ns_sha256 *h = ns_sha256_new();

	ns_sha256_update(h, domain, sizeof(domain));
	put_value(h, &ev->prev_sha256);
	for (int i = 0; i < NS_AUDIT_FIELDS; i++)
		put_value(h, &ev->f[i]);
	ns_sha256_finish(out, h);
}

const char *ns_audit_fault_name(enum ns_audit_fault fault)
{
	switch (fault) {
	case NS_AUDIT_INTACT:
		return "intact";
	case NS_AUDIT_EDITED:
		return "edited";
	case NS_AUDIT_BROKEN:
		return "chain-broken";
	case NS_AUDIT_GAP:
		return "gap";
	default:
		return "malformed";
	}
}

/* ---- verify --------------------------------------------------------- */

static int is_sha256(const struct ns_audit_value *v)
{
	return v->type == NS_AUDIT_TEXT && v->len == NS_HEX_LEN &&
	       ns_sha256_valid(v->s);
}

static int bad(struct ns_audit_report *rep, long long id,
	       enum ns_audit_fault fault)
{
	rep->fault = fault;
	rep->bad_id = id;
	return NS_EFAILED;
}

/* ids run 1, 2, 3… with no hole: the next one is one past the good ones */
static int check_sequence(struct ns_audit_report *rep, long long id)
{
	long long want = rep->events + 1;
	char gone[64];

	if (id == want)
		return 0;
	if (id < want) {
		ns_error_set("audit log: event %lld is out of sequence "
			     "(expected event %lld): it was inserted",
			     id, want);
		return bad(rep, id, NS_AUDIT_GAP);
	}
	if (id - want == 1)
		snprintf(gone, sizeof(gone), "event %lld was", want);
	else
		snprintf(gone, sizeof(gone), "events %lld to %lld were", want,
			 id - 1);
	if (want == 1)
		ns_error_set("audit log: the log starts at event %lld: "
			     "%s deleted",
			     id, gone);
	else
		ns_error_set("audit log: event %lld follows event %lld: "
			     "%s deleted",
			     id, want - 1, gone);
	return bad(rep, id, NS_AUDIT_GAP);
}

static int check_event(void *data, const struct ns_audit_event *ev)
{
	struct ns_audit_report *rep = data;
	long long id = ev->f[NS_AUDIT_ID].i;
	char sha[NS_HEX_LEN + 1];
	int ret;

	if ((ret = check_sequence(rep, id)) < 0)
		return ret;
	if (!is_sha256(&ev->prev_sha256) || !is_sha256(&ev->sha256)) {
		ns_error_set("audit log: event %lld has no valid %s: it was "
			     "inserted or edited outside nightshift",
			     id,
			     is_sha256(&ev->sha256) ? "prev_sha256" : "sha256");
		return bad(rep, id, NS_AUDIT_MALFORMED);
	}
	if (strcmp(ev->prev_sha256.s, rep->head)) {
		if (rep->events == 0)
			ns_error_set("audit log: event %lld breaks the chain: "
				     "it is the first event, yet its "
				     "prev_sha256 is not 64 zeros: it was "
				     "inserted, or events before it deleted",
				     id);
		else
			ns_error_set("audit log: event %lld breaks the chain: "
				     "its prev_sha256 is not the sha256 of "
				     "event %lld: an event was inserted or "
				     "deleted before it, or event %lld was "
				     "rewritten",
				     id, rep->events, rep->events);
		return bad(rep, id, NS_AUDIT_BROKEN);
	}
	ns_audit_event_sha256(sha, ev);
	if (strcmp(sha, ev->sha256.s)) {
		ns_error_set("audit log: event %lld was edited: its content "
			     "does not match its sha256",
			     id);
		return bad(rep, id, NS_AUDIT_EDITED);
	}
	rep->events++;
	memcpy(rep->head, sha, sizeof(sha));
	return 0;
}

int ns_audit_verify(struct ns_audit_report *out, struct ns_registry *r)
{
	memset(out, 0, sizeof(*out));
	memcpy(out->head, ns_audit_genesis, sizeof(out->head));
	return ns_registry_walk_events(r, check_event, out);
}
