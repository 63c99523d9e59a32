#include "trigger.h"
#include "error.h"
#include "strbuf.h"
#include "text.h"
#include "xalloc.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define JSON_CAP (16u << 20)

static const char *const steps[] = {
	"lock",	 "recover", "validate", "drift",  "archive",
	"stage", "commit",  "apply",	"verify", "record",
};

json_t *ns_trigger_members_json(const struct ns_member *m, size_t nr)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < nr; i++)
		json_array_append_new(
			arr, json_pack("{s:s, s:s, s:I, s:i}", "path",
				       m[i].path, "sha256", m[i].sha256, "size",
				       (json_int_t)m[i].size, "mode",
				       (int)m[i].mode));
	return arr;
}

static json_t *spec_json(const struct ns_trigger_spec *s,
			 const struct ns_package *pkg)
{
	json_t *o = json_object(), *arr = json_array();

	json_object_set_new(o, "format", json_integer(1));
	json_object_set_new(o, "id", json_string(s->id));
	json_object_set_new(o, "revision", json_integer(s->revision));
	json_object_set_new(o, "system", json_string(s->system));
	json_object_set_new(o, "environment", json_string(s->environment));
	json_object_set_new(o, "target", json_string(s->target));
	for (size_t i = 0; i < s->sites_nr; i++)
		json_array_append_new(arr, json_string(s->sites[i]));
	json_object_set_new(o, "sites", arr);
	json_object_set_new(o, "window",
			    s->window ? json_string(s->window) : json_null());
	json_object_set_new(o, "earliest",
			    s->earliest ? json_string(s->earliest)
					: json_null());
	json_object_set_new(o, "latest",
			    s->latest ? json_string(s->latest) : json_null());
	if (s->blackout_override)
		json_object_set_new(o, "blackout_override",
				    json_string(s->blackout_override));
	/* the runner reads it from the payload's enhancement.ini; here for
	 * people and tools reading TRIGGER.json (checked to agree on load) */
	json_object_set_new(o, "transaction",
			    json_string(pkg->manifest.transaction == NS_TX_NONE
						? "none"
						: "single"));
	arr = json_array();
	for (size_t i = 0; i < sizeof(steps) / sizeof(*steps); i++)
		json_array_append_new(arr, json_string(steps[i]));
	json_object_set_new(o, "steps", arr);
	json_object_set_new(o, "members",
			    ns_trigger_members_json(pkg->members, pkg->nr));
	json_object_set_new(o, "payload_sha256",
			    json_string(pkg->payload_sha256));
	json_object_set_new(o, "approvals",
			    s->approvals ? json_incref(s->approvals)
					 : json_array());
	json_object_set_new(o, "creator", json_string(s->creator));
	json_object_set_new(o, "created", json_string(s->created));
	return o;
}

static int copy_payload(struct ns_tar_writer *w, const struct ns_package *pkg,
			const char *payload_path)
{
	struct ns_tar_reader *r = NULL;
	const char *name;
	uint64_t size;
	unsigned mode;
	int regular, ret, i = 0;

	if ((ret = ns_tar_open(&r, payload_path)) < 0)
		return ret;
	while ((ret = ns_tar_next(r, &name, &size, &mode, &regular)) == 1) {
		char *dst;
		if ((size_t)i >= pkg->nr ||
		    strcmp(name, pkg->members[i].path)) {
			ns_error_set("%s: unexpected member '%s'", payload_path,
				     name);
			ret = NS_EINVALID;
			break;
		}
		dst = xprintf("payload/%s", name);
		ret = ns_tar_add_from_reader(w, dst, r, size, mode,
					     pkg->members[i].sha256);
		free(dst);
		if (ret < 0)
			break;
		i++;
	}
	if (ret == 0 && (size_t)i != pkg->nr) {
		ns_error_set("%s: %zu members missing", payload_path,
			     pkg->nr - (size_t)i);
		ret = NS_EINVALID;
	}
	ns_tar_close(r);
	return ret;
}

/* TRIGGER.sig's text: the key's id and its signature of text */
static char *signature_member(const struct ns_key *k, const char *text)
{
	char *hex = ns_key_sign(k, text, strlen(text)), *out;
	json_t *o;

	if (!hex)
		return NULL;
	o = json_pack("{s:s, s:s}", "key", ns_key_id(k), "signature", hex);
	out = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(o);
	free(hex);
	return out;
}

int ns_trigger_write(char out_json_sha256[NS_HEX_LEN + 1], const char *path,
		     const struct ns_trigger_spec *spec,
		     const struct ns_package *pkg, const char *payload_path)
{
	struct ns_tar_writer *w = NULL;
	json_t *j = spec_json(spec, pkg);
	char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
	int ret;

	char *sig = NULL;

	json_decref(j);
	if (spec->key && !(sig = signature_member(spec->key, text))) {
		ret = NS_ERROR;
		goto done;
	}
	if ((ret = ns_tar_writer_open(&w, path)) < 0)
		goto done;
	ret = ns_tar_add_buffer(w, "TRIGGER.json", text, strlen(text), 0644);
	if (!ret && sig)
		ret = ns_tar_add_buffer(w, "TRIGGER.sig", sig, strlen(sig),
					0644);
	if (!ret)
		ret = copy_payload(w, pkg, payload_path);
	if (!ret)
		ret = ns_tar_writer_commit(w);
	else
		ns_tar_writer_abort(w);
	if (!ret)
		ns_sha256_buf(out_json_sha256, text, strlen(text));
done:
	free(sig);
	free(text);
	return ret;
}

static int bad(const char *path, const char *what)
{
	ns_error_set("%s: TRIGGER.json: %s", path, what);
	return NS_EINVALID;
}

static int parse_members(struct ns_trigger *t)
{
	json_t *arr = json_object_get(t->json, "members"), *m;
	char *what;
	size_t i;
	int ret;

	if (!json_is_array(arr))
		return bad(t->path, "'members' is not an array");
	t->nr = json_array_size(arr);
	t->members = xcalloc(t->nr, sizeof(*t->members));
	json_array_foreach(arr, i, m)
	{
		const char *p = json_string_value(json_object_get(m, "path"));
		const char *h = json_string_value(json_object_get(m, "sha256"));
		json_t *sz = json_object_get(m, "size");
		json_t *md = json_object_get(m, "mode");

		if (!p || !h || !ns_sha256_valid(h) || !json_is_integer(sz) ||
		    !json_is_integer(md) || json_integer_value(sz) < 0)
			return bad(t->path, "malformed entry in 'members'");
		/* submit gives every member one of two modes; any other
		 * (set-user-ID, world-writable) was not made by nightshift
		 * and would be set on the file in the site */
		if (json_integer_value(md) != 0644 &&
		    json_integer_value(md) != 0755) {
			ns_error_set(
				"%s: TRIGGER.json: payload/%s: mode %04llo "
				"(a member's mode is 0644 or 0755)",
				t->path, p,
				(unsigned long long)json_integer_value(md));
			return NS_EINVALID;
		}
		/* as submit lists them: paths below the payload, each once,
		 * in order (a small member listed twice would be read into
		 * its slot twice) */
		what = xprintf("%s: TRIGGER.json: payload/%s", t->path, p);
		ret = ns_path_check(what, p, SIZE_MAX);
		free(what);
		if (ret < 0)
			return ret;
		if (i && strcmp(t->members[i - 1].path, p) >= 0) {
			ns_error_set("%s: TRIGGER.json: payload/%s: listed "
				     "twice or out of order",
				     t->path, p);
			return NS_EINVALID;
		}
		t->members[i].path = xstrdup(p);
		memcpy(t->members[i].sha256, h, NS_HEX_LEN + 1);
		t->members[i].size = (uint64_t)json_integer_value(sz);
		t->members[i].mode = (unsigned)json_integer_value(md);
	}
	return 0;
}

static int name_ok(const char *s)
{
	return !ns_text_problem(s, strlen(s), NS_TEXT_NAME, NULL);
}

static int parse_json(struct ns_trigger *t, const char *text, size_t len)
{
	json_error_t err;
	json_int_t rev;
	const char *h;

	ns_sha256_buf(t->json_sha256, text, len);
	t->json = json_loadb(text, len, 0, &err);
	if (!t->json) {
		ns_error_set("%s: TRIGGER.json:%d: %s", t->path, err.line,
			     err.text);
		return NS_EINVALID;
	}
	t->id = json_string_value(json_object_get(t->json, "id"));
	t->system = json_string_value(json_object_get(t->json, "system"));
	t->environment =
		json_string_value(json_object_get(t->json, "environment"));
	t->target = json_string_value(json_object_get(t->json, "target"));
	rev = json_integer_value(json_object_get(t->json, "revision"));
	t->revision = rev < 1 || rev > INT_MAX ? 0 : (int)rev;
	h = json_string_value(json_object_get(t->json, "payload_sha256"));
	if (!t->id || !t->system || !t->environment || !t->target ||
	    t->revision < 1)
		return bad(t->path, "missing id, revision, system, "
				    "environment or target");
	/* shown on their own (trigger verify, the runner's lines) */
	if (!name_ok(t->id) || !name_ok(t->system) ||
	    !name_ok(t->environment) || !name_ok(t->target))
		return bad(t->path, "id, system, environment or target holds "
				    "a control character");
	if (!h || !ns_sha256_valid(h))
		return bad(t->path, "missing or malformed 'payload_sha256'");
	memcpy(t->payload_sha256, h, NS_HEX_LEN + 1);
	return parse_members(t);
}

static char **small_slot(struct ns_trigger *t, const char *name)
{
	if (!strcmp(name, "enhancement.ini"))
		return &t->ini;
	if (!strcmp(name, "sql/deploy.sql"))
		return &t->deploy_sql;
	if (!strcmp(name, "sql/revert.sql"))
		return &t->revert_sql;
	if (!strcmp(name, "sql/verify.sql"))
		return &t->verify_sql;
	return NULL;
}

/* hash one member as it streams by; keep it when it is a small one */
static int check_member(struct ns_trigger *t, struct ns_tar_reader *r,
			const struct ns_member *m, uint64_t size)
{
	char got[NS_HEX_LEN + 1];
	char **slot = small_slot(t, m->path);
	struct ns_sha256 *h;
	char *name, buf[65536];
	size_t len = 0;
	ssize_t n;
	int ret;

	if (slot) {
		if (ns_tar_read_all(r, slot, &len, NS_SQL_CAP) < 0)
			return NS_EINVALID;
		ns_sha256_buf(got, *slot, len);
	} else {
		h = ns_sha256_new();
		while ((n = ns_tar_read(r, buf, sizeof(buf))) > 0)
			ns_sha256_update(h, buf, (size_t)n);
		ns_sha256_finish(got, h);
		if (n < 0)
			return NS_EINVALID;
	}
	if (size != m->size || strcmp(got, m->sha256)) {
		ns_error_set("%s: payload/%s: hash mismatch: the trigger was "
			     "altered after it was made",
			     t->path, m->path);
		return NS_EINVALID;
	}
	if (!slot)
		return 0;
	/* text, as submit made sure (a trigger made before it did is
	 * refused here, before anything is written) */
	name = xprintf("%s: payload/%s", t->path, m->path);
	ret = ns_text_check(name, *slot, len);
	free(name);
	return ret;
}

/* with NS_TRIGGER_DEFER_FILES, the payload/files/ members are left to
 * the reader that stages them */
static int deferred(const struct ns_trigger *t, const char *member)
{
	return t->files_unverified && !strncmp(member, "files/", 6);
}

static int read_signature(struct ns_trigger *t, struct ns_tar_reader *r)
{
	char *text = NULL;
	size_t len;
	json_t *o;
	const char *k, *sig;
	int ret = NS_EINVALID;

	if (ns_tar_read_all(r, &text, &len, 64u << 10) < 0)
		return NS_EINVALID;
	o = json_loadb(text, len, 0, NULL);
	k = json_string_value(json_object_get(o, "key"));
	sig = json_string_value(json_object_get(o, "signature"));
	if (k && sig && !strncmp(k, "SHA256:", 7) && ns_sha256_valid(k + 7) &&
	    *sig) {
		t->sig_key = xstrdup(k);
		t->sig = xstrdup(sig);
		ret = 0;
	} else
		ns_error_set("%s: TRIGGER.sig: malformed (expected {\"key\": "
			     "\"SHA256:…\", \"signature\": \"…\"})",
			     t->path);
	json_decref(o);
	free(text);
	return ret;
}

static int check_payload(struct ns_trigger *t, struct ns_tar_reader *r)
{
	const char *name;
	uint64_t size;
	unsigned mode;
	int regular, ret;
	size_t i = 0;
	char digest[NS_HEX_LEN + 1];

	while ((ret = ns_tar_next(r, &name, &size, &mode, &regular)) == 1) {
		/* the signature, right after TRIGGER.json */
		if (i == 0 && !t->sig && !strcmp(name, "TRIGGER.sig")) {
			if ((ret = read_signature(t, r)) < 0)
				return ret;
			continue;
		}
		/* not the member expected here: a later one means this one
		 * is missing (a search only then: members are in order) */
		for (size_t k = i + 1;
		     i < t->nr && k < t->nr && !strncmp(name, "payload/", 8) &&
		     strcmp(name + 8, t->members[i].path);
		     k++)
			if (!strcmp(name + 8, t->members[k].path)) {
				ns_error_set("%s: payload/%s: member missing "
					     "(found %s in its place: missing "
					     "or out of order)",
					     t->path, t->members[i].path, name);
				return NS_EINVALID;
			}
		if (i >= t->nr || strncmp(name, "payload/", 8) ||
		    strcmp(name + 8, t->members[i].path) || !regular ||
		    mode != t->members[i].mode) {
			ns_error_set("%s: %s: member not listed in "
				     "TRIGGER.json (or out of order)",
				     t->path, name);
			return NS_EINVALID;
		}
		if (deferred(t, name + 8)) {
			/* its hash is checked as it is staged: only the size
			 * here, and its data is skipped, not read */
			if (size != t->members[i].size) {
				ns_error_set(
					"%s: %s: hash mismatch (size "
					"%llu, TRIGGER.json says %llu): "
					"the trigger was altered after "
					"it was made",
					t->path, name, (unsigned long long)size,
					(unsigned long long)t->members[i].size);
				return NS_EINVALID;
			}
		} else if ((ret = check_member(t, r, &t->members[i], size)) <
			   0) {
			return ret;
		}
		i++;
	}
	if (ret < 0)
		return ret;
	if (i != t->nr) {
		ns_error_set("%s: payload/%s: member missing", t->path,
			     t->members[i].path);
		return NS_EINVALID;
	}
	ns_package_digest(digest, t->members, t->nr);
	if (strcmp(digest, t->payload_sha256)) {
		ns_error_set("%s: payload hash mismatch: the trigger was "
			     "altered after it was made",
			     t->path);
		return NS_EINVALID;
	}
	return 0;
}

/* TRIGGER.json's "transaction" (absent in triggers made before it was
 * written) must say what the payload's enhancement.ini says */
static int check_transaction(const struct ns_trigger *t)
{
	const char *tx =
		json_string_value(json_object_get(t->json, "transaction"));
	const char *ini =
		t->manifest.transaction == NS_TX_NONE ? "none" : "single";

	if (!json_object_get(t->json, "transaction") ||
	    (tx && !strcmp(tx, ini)))
		return 0;
	ns_error_set("%s: TRIGGER.json: transaction '%s' disagrees with "
		     "payload/enhancement.ini (transaction = %s)",
		     t->path, tx ? tx : "(not a string)", ini);
	return NS_EINVALID;
}

int ns_trigger_load(struct ns_trigger *out, const char *path,
		    const struct ns_limits *lim)
{
	return ns_trigger_load_flags(out, path, lim, 0);
}

int ns_trigger_load_flags(struct ns_trigger *out, const char *path,
			  const struct ns_limits *lim, unsigned flags)
{
	struct ns_trigger t = NS_TRIGGER_INIT;
	struct ns_tar_reader *r = NULL;
	const char *name;
	uint64_t size;
	unsigned mode;
	int regular, ret;
	char *text = NULL, *ininame = NULL;
	size_t len;

	t.path = xstrdup(path);
	t.files_unverified = !!(flags & NS_TRIGGER_DEFER_FILES);
	if ((ret = ns_tar_open(&r, path)) < 0)
		goto done;
	ret = ns_tar_next(r, &name, &size, &mode, &regular);
	if (ret == 1 && strcmp(name, "TRIGGER.json"))
		ret = 0;
	if (ret != 1) {
		if (ret == 0)
			ns_error_set("%s: TRIGGER.json is not the first member",
				     path);
		ret = NS_EINVALID;
		goto done;
	}
	if ((ret = ns_tar_read_all(r, &text, &len, JSON_CAP)) < 0)
		goto done;
	if ((ret = parse_json(&t, text, len)) < 0)
		goto done;
	t.json_text = text;
	t.json_len = len;
	text = NULL;
	if ((ret = check_payload(&t, r)) < 0)
		goto done;
	if (!t.ini) {
		ret = bad(path, "payload has no enhancement.ini");
		goto done;
	}
	ininame = xprintf("%s:payload/enhancement.ini", path);
	ret = ns_manifest_parse(&t.manifest, ininame, t.ini, strlen(t.ini),
				lim->max_path);
	if (ret < 0)
		goto done;
	if ((ret = check_transaction(&t)) < 0)
		goto done;
	*out = t;
	memset(&t, 0, sizeof(t));
done:
	free(ininame);
	free(text);
	ns_tar_close(r);
	ns_trigger_release(&t);
	return ret;
}

void ns_trigger_release(struct ns_trigger *t)
{
	free(t->path);
	json_decref(t->json);
	for (size_t i = 0; i < t->nr; i++)
		free(t->members[i].path);
	free(t->members);
	free(t->ini);
	free(t->deploy_sql);
	free(t->revert_sql);
	free(t->verify_sql);
	free(t->json_text);
	free(t->sig_key);
	free(t->sig);
	ns_manifest_release(&t->manifest);
	memset(t, 0, sizeof(*t));
}

char *ns_trigger_json_text(const struct ns_trigger *t)
{
	char *text = json_dumps(t->json, JSON_INDENT(2) | JSON_SORT_KEYS);

	/* jansson writes C0 controls as \u00NN but C1 ones (U+0080..U+009F,
	 * an escape to some terminals) as they are: a trigger that holds
	 * one is shown with every character beyond ASCII escaped */
	if (text &&
	    ns_text_problem(text, strlen(text), NS_TEXT_MESSAGE, NULL)) {
		free(text);
		text = json_dumps(t->json, JSON_INDENT(2) | JSON_SORT_KEYS |
						   JSON_ENSURE_ASCII);
	}
	return text;
}

int ns_trigger_check_signature(const struct ns_trigger *t,
			       const struct ns_key *k, const char *what)
{
	if (!t->sig) {
		ns_error_set("%s: the trigger is not signed, and %s asks for "
			     "a signature by key %s",
			     t->path, what, ns_key_id(k));
		return NS_EINVALID;
	}
	if (strcmp(t->sig_key, ns_key_id(k))) {
		ns_error_set("%s: TRIGGER.sig: signed by key %s, not by %s "
			     "(%s)",
			     t->path, t->sig_key, ns_key_id(k), what);
		return NS_EINVALID;
	}
	if (!ns_key_verify(k, t->json_text, t->json_len, t->sig)) {
		ns_error_set("%s: TRIGGER.sig: the signature does not match "
			     "TRIGGER.json: the trigger was altered after it "
			     "was signed",
			     t->path);
		return NS_EINVALID;
	}
	return 0;
}
