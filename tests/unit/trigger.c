/* trigger: writing a trigger file and loading it back, trusting nothing */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "hash.h"
#include "package.h"
#include "sign.h"
#include "testutil.h"
#include "trigger.h"
#include "xalloc.h"

static const struct ns_limits limits = NS_LIMITS_DEFAULT;

/* ---- fixtures ------------------------------------------------------ */

struct fx {
	char *dir;
	char *trigger; /* dir/spool/ENH-7-r2.trigger, written by setup */
	char json_sha256[NS_HEX_LEN + 1];
	struct ns_package pkg;
};

static char *at(const struct fx *fx, const char *rel)
{
	return tu_at(fx->dir, rel);
}

static void put(const struct fx *fx, const char *rel, const char *text,
		unsigned mode)
{
	tu_put_at(fx->dir, rel, text, mode);
}

static const char ini[] = "[enhancement]\n"
			  "title = Faster invoices\n"
			  "rfs = RFS-3\n"
			  "system = billing\n"
			  "author = alice\n"
			  "[files]\n"
			  "delete = old/report.txt\n"
			  "[verify]\n"
			  "command = test -f lib/a.txt\n";
static const char deploy_sql[] = "CREATE TABLE invoices(id INTEGER);\n";
static const char revert_sql[] = "DROP TABLE invoices;\n";
static const char verify_sql[] = "SELECT count(*) = 0 FROM invoices;\n";

static const char *const member_paths[] = {
	"enhancement.ini", "files/bin/run.sh", "files/lib/a.txt",
	"files/lib/b.txt", "sql/deploy.sql",   "sql/revert.sql",
	"sql/verify.sql",
};
#define MEMBERS_NR (sizeof(member_paths) / sizeof(*member_paths))

static void make_package_dir(const struct fx *fx)
{
	put(fx, "pkg/enhancement.ini", ini, 0644);
	put(fx, "pkg/files/bin/run.sh", "#!/bin/sh\necho run\n", 0755);
	put(fx, "pkg/files/lib/a.txt", "alpha\n", 0644);
	put(fx, "pkg/files/lib/b.txt", "bravo\n", 0644);
	put(fx, "pkg/sql/deploy.sql", deploy_sql, 0644);
	put(fx, "pkg/sql/revert.sql", revert_sql, 0644);
	put(fx, "pkg/sql/verify.sql", verify_sql, 0644);
}

static void fill_spec(struct ns_trigger_spec *s, const char **sites,
		      json_t *approvals)
{
	memset(s, 0, sizeof(*s));
	s->id = "ENH-7";
	s->revision = 2;
	s->system = "billing";
	s->environment = "billing/model";
	s->target = "model";
	s->sites = sites;
	s->sites_nr = 2;
	s->window = "Mon-Fri 23:00-05:00";
	s->earliest = "2026-01-05T23:00:00Z";
	s->latest = "2026-01-06T05:00:00Z";
	s->creator = "carol";
	s->created = "2026-01-01T12:00:00Z";
	s->approvals = approvals;
}

static int setup(void **state)
{
	struct fx *fx = xcalloc(1, sizeof(*fx));
	static const char *sites[] = { "main", "branch" };
	struct ns_trigger_spec spec;
	json_t *approvals;
	char *src, *store, *spool;
	int r;

	fx->dir = tu_scratch_new("trigger");
	if (!fx->dir)
		return -1;
	make_package_dir(fx);
	src = at(fx, "pkg");
	store = at(fx, "store/payload.tar");
	spool = at(fx, "spool");
	tu_mkdirs(spool);
	{
		char *sdir = at(fx, "store");
		tu_mkdirs(sdir);
		free(sdir);
	}
	fx->trigger = at(fx, "spool/ENH-7-r2.trigger");
	r = ns_package_read(&fx->pkg, src, &limits, store);
	approvals = json_pack("[{s:s, s:s}]", "role", "qa", "by", "bob");
	fill_spec(&spec, sites, approvals);
	if (!r)
		r = ns_trigger_write(fx->json_sha256, fx->trigger, &spec,
				     &fx->pkg, store);
	json_decref(approvals);
	free(src);
	free(store);
	free(spool);
	*state = fx;
	if (r)
		fprintf(stderr, "setup: %s\n", ns_error_last());
	return r ? -1 : 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	int r = tu_scratch_free(fx->dir);

	ns_package_release(&fx->pkg);
	free(fx->trigger);
	free(fx);
	ns_error_clear();
	return r;
}

/* ---- a trigger's members in memory, for tampering ------------------- */

struct mem {
	char *name;
	char *data;
	size_t len;
	unsigned mode;
};

struct mems {
	struct mem m[32];
	size_t nr;
};

static void mems_read(struct mems *out, const char *path)
{
	struct ns_tar_reader *r = NULL;
	const char *name;
	uint64_t size;
	unsigned mode;
	int regular;

	out->nr = 0;
	assert_int_equal(ns_tar_open(&r, path), 0);
	while (ns_tar_next(r, &name, &size, &mode, &regular) == 1) {
		struct mem *m = &out->m[out->nr++];
		assert_true(out->nr < 32);
		m->name = xstrdup(name);
		m->mode = mode;
		assert_int_equal(ns_tar_read_all(r, &m->data, &m->len, 1 << 20),
				 0);
		assert_int_equal(m->len, size);
	}
	ns_tar_close(r);
}

static void mems_write(const struct mems *ms, const char *path)
{
	struct ns_tar_writer *w = NULL;

	assert_int_equal(ns_tar_writer_open(&w, path), 0);
	for (size_t i = 0; i < ms->nr; i++)
		assert_int_equal(ns_tar_add_buffer(w, ms->m[i].name,
						   ms->m[i].data, ms->m[i].len,
						   ms->m[i].mode),
				 0);
	assert_int_equal(ns_tar_writer_commit(w), 0);
}

static void mems_release(struct mems *ms)
{
	for (size_t i = 0; i < ms->nr; i++) {
		free(ms->m[i].name);
		free(ms->m[i].data);
	}
	ms->nr = 0;
}

static size_t mems_find(const struct mems *ms, const char *name)
{
	for (size_t i = 0; i < ms->nr; i++)
		if (!strcmp(ms->m[i].name, name))
			return i;
	fail_msg("no member %s", name);
	return 0;
}

static void mems_remove(struct mems *ms, size_t i)
{
	free(ms->m[i].name);
	free(ms->m[i].data);
	memmove(&ms->m[i], &ms->m[i + 1], (ms->nr - i - 1) * sizeof(*ms->m));
	ms->nr--;
}

static void mems_insert(struct mems *ms, size_t i, const char *name,
			const char *text, unsigned mode)
{
	memmove(&ms->m[i + 1], &ms->m[i], (ms->nr - i) * sizeof(*ms->m));
	ms->m[i].name = xstrdup(name);
	ms->m[i].data = xstrdup(text);
	ms->m[i].len = strlen(text);
	ms->m[i].mode = mode;
	ms->nr++;
}

/* rewrite the trigger with a change (releasing ms), load it, expect a
 * refusal naming needle */
static void load_refused(const struct fx *fx, struct mems *ms,
			 const char *needle)
{
	struct ns_trigger t = NS_TRIGGER_INIT;
	char *bad = at(fx, "spool/tampered.trigger");
	int r, handed_out;
	const char *msg;

	mems_write(ms, bad);
	mems_release(ms);
	r = ns_trigger_load(&t, bad, &limits);
	handed_out = t.json != NULL || t.members != NULL;
	ns_trigger_release(&t);
	msg = ns_error_last();
	if (r != NS_EINVALID || !strstr(msg, bad) || !strstr(msg, needle)) {
		char copy[1024];
		snprintf(copy, sizeof(copy), "%s", msg);
		free(bad);
		fail_msg("load returned %d with '%s'; expected NS_EINVALID "
			 "naming '%s'",
			 r, copy, needle);
	}
	free(bad);
	/* nothing is handed out */
	assert_false(handed_out);
}

/* ---- loading what was written -------------------------------------- */

static void test_round_trip(void **state)
{
	struct fx *fx = *state;
	struct ns_trigger t = NS_TRIGGER_INIT;
	char sha[NS_HEX_LEN + 1];

	assert_int_equal(fx->pkg.nr, MEMBERS_NR);
	assert_int_equal(ns_trigger_load(&t, fx->trigger, &limits), 0);
	assert_string_equal(t.path, fx->trigger);
	assert_string_equal(t.id, "ENH-7");
	assert_int_equal(t.revision, 2);
	assert_string_equal(t.system, "billing");
	assert_string_equal(t.environment, "billing/model");
	assert_string_equal(t.target, "model");

	/* the members, exactly the package's */
	assert_int_equal(t.nr, fx->pkg.nr);
	for (size_t i = 0; i < t.nr; i++) {
		assert_string_equal(t.members[i].path, member_paths[i]);
		assert_string_equal(t.members[i].path, fx->pkg.members[i].path);
		assert_string_equal(t.members[i].sha256,
				    fx->pkg.members[i].sha256);
		assert_int_equal(t.members[i].size, fx->pkg.members[i].size);
		assert_int_equal(t.members[i].mode, fx->pkg.members[i].mode);
	}
	assert_int_equal(t.members[1].mode, 0755);
	ns_sha256_buf(sha, "alpha\n", 6);
	assert_string_equal(t.members[2].sha256, sha);

	/* the payload hash is the package's: production can prove it */
	assert_string_equal(t.payload_sha256, fx->pkg.payload_sha256);
	ns_package_digest(sha, t.members, t.nr);
	assert_string_equal(sha, fx->pkg.payload_sha256);
	/* the JSON's own hash is the one the writer reported */
	assert_string_equal(t.json_sha256, fx->json_sha256);

	/* the small members, loaded whole */
	assert_string_equal(t.ini, ini);
	assert_string_equal(t.deploy_sql, deploy_sql);
	assert_string_equal(t.revert_sql, revert_sql);
	assert_string_equal(t.verify_sql, verify_sql);

	/* the manifest, parsed */
	assert_string_equal(t.manifest.title, "Faster invoices");
	assert_string_equal(t.manifest.rfs, "RFS-3");
	assert_string_equal(t.manifest.author, "alice");
	assert_int_equal(t.manifest.deletes_nr, 1);
	assert_string_equal(t.manifest.deletes[0], "old/report.txt");
	assert_string_equal(t.manifest.verify_command, "test -f lib/a.txt");
	/* the transaction mode, as the manifest says (the default) */
	assert_int_equal(t.manifest.transaction, NS_TX_SINGLE);
	assert_string_equal(
		json_string_value(json_object_get(t.json, "transaction")),
		"single");

	ns_trigger_release(&t);
	assert_null(t.json);
	ns_trigger_release(&t); /* twice is harmless */
}

/* TRIGGER.json first, then payload/ byte for byte */
static void test_layout(void **state)
{
	struct fx *fx = *state;
	struct mems ms;
	json_t *j, *steps, *members, *sites, *approval;
	char sha[NS_HEX_LEN + 1];
	static const char *const want_steps[] = {
		"lock",	 "recover", "validate", "drift",  "archive",
		"stage", "commit",  "apply",	"verify", "record",
	};

	mems_read(&ms, fx->trigger);
	assert_int_equal(ms.nr, 1 + MEMBERS_NR);
	assert_string_equal(ms.m[0].name, "TRIGGER.json");
	for (size_t i = 0; i < MEMBERS_NR; i++) {
		char *want = xprintf("payload/%s", member_paths[i]);
		assert_string_equal(ms.m[i + 1].name, want);
		ns_sha256_buf(sha, ms.m[i + 1].data, ms.m[i + 1].len);
		assert_string_equal(sha, fx->pkg.members[i].sha256);
		assert_int_equal(ms.m[i + 1].mode, fx->pkg.members[i].mode);
		free(want);
	}
	ns_sha256_buf(sha, ms.m[0].data, ms.m[0].len);
	assert_string_equal(sha, fx->json_sha256);

	j = json_loadb(ms.m[0].data, ms.m[0].len, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "id")),
			    "ENH-7");
	assert_int_equal(json_integer_value(json_object_get(j, "revision")), 2);
	assert_string_equal(json_string_value(json_object_get(j, "target")),
			    "model");
	assert_string_equal(json_string_value(json_object_get(j, "window")),
			    "Mon-Fri 23:00-05:00");
	assert_string_equal(json_string_value(json_object_get(j, "earliest")),
			    "2026-01-05T23:00:00Z");
	assert_string_equal(json_string_value(json_object_get(j, "latest")),
			    "2026-01-06T05:00:00Z");
	assert_string_equal(json_string_value(json_object_get(j, "creator")),
			    "carol");
	assert_string_equal(
		json_string_value(json_object_get(j, "payload_sha256")),
		fx->pkg.payload_sha256);
	sites = json_object_get(j, "sites");
	assert_int_equal(json_array_size(sites), 2);
	assert_string_equal(json_string_value(json_array_get(sites, 1)),
			    "branch");
	steps = json_object_get(j, "steps");
	assert_int_equal(json_array_size(steps), 10);
	for (size_t i = 0; i < 10; i++)
		assert_string_equal(json_string_value(json_array_get(steps, i)),
				    want_steps[i]);
	members = json_object_get(j, "members");
	assert_int_equal(json_array_size(members), MEMBERS_NR);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(members, 3), "path")),
			    "files/lib/b.txt");
	approval = json_array_get(json_object_get(j, "approvals"), 0);
	assert_non_null(approval);
	assert_string_equal(json_string_value(json_object_get(approval, "by")),
			    "bob");
	json_decref(j);

	/* no temporary left next to it */
	{
		char *spool = at(fx, "spool");
		assert_int_equal(tu_count_entries(spool), 1);
		free(spool);
	}
	mems_release(&ms);
}

static void test_json_text(void **state)
{
	struct fx *fx = *state;
	struct ns_trigger t = NS_TRIGGER_INIT;
	char *text;
	json_t *j;

	assert_int_equal(ns_trigger_load(&t, fx->trigger, &limits), 0);
	text = ns_trigger_json_text(&t);
	assert_non_null(text);
	j = json_loads(text, 0, NULL);
	assert_non_null(j);
	assert_true(json_equal(j, t.json));
	json_decref(j);
	free(text);
	ns_trigger_release(&t);
}

/* a trigger with no SQL at all: the slots stay NULL */
static void test_files_only(void **state)
{
	struct fx *fx = *state;
	struct ns_package pkg = NS_PACKAGE_INIT;
	struct ns_trigger t = NS_TRIGGER_INIT;
	static const char *sites[] = { "main" };
	struct ns_trigger_spec spec;
	char json_sha[NS_HEX_LEN + 1];
	char *src = at(fx, "pkg2"), *store = at(fx, "store/p2.tar");
	char *path = at(fx, "spool/files-only.trigger");

	put(fx, "pkg2/enhancement.ini", "[enhancement]\ntitle = T\n", 0644);
	put(fx, "pkg2/files/x", "x\n", 0644);
	assert_int_equal(ns_package_read(&pkg, src, &limits, store), 0);
	fill_spec(&spec, sites, NULL);
	spec.sites_nr = 1;
	spec.window = spec.earliest = spec.latest = NULL;
	assert_int_equal(ns_trigger_write(json_sha, path, &spec, &pkg, store),
			 0);
	assert_int_equal(ns_trigger_load(&t, path, &limits), 0);
	assert_int_equal(t.nr, 2);
	assert_null(t.deploy_sql);
	assert_null(t.revert_sql);
	assert_null(t.verify_sql);
	assert_true(json_is_null(json_object_get(t.json, "window")));
	assert_int_equal(json_array_size(json_object_get(t.json, "approvals")),
			 0);
	ns_trigger_release(&t);
	ns_package_release(&pkg);
	free(src);
	free(store);
	free(path);
}

/* the payload tar must be what the package said: writing refuses a store
 * that changed since it was read, and leaves no trigger behind */
static void test_write_refuses_changed_store(void **state)
{
	struct fx *fx = *state;
	static const char *sites[] = { "main", "branch" };
	struct ns_trigger_spec spec;
	char json_sha[NS_HEX_LEN + 1];
	char *store = at(fx, "store/payload.tar");
	char *path = at(fx, "spool/new.trigger");
	char *spool = at(fx, "spool");
	struct mems ms;
	size_t i;

	mems_read(&ms, store);
	i = mems_find(&ms, "files/lib/a.txt");
	ms.m[i].data[0] = 'A';
	mems_write(&ms, store);
	mems_release(&ms);

	fill_spec(&spec, sites, NULL);
	assert_int_equal(
		ns_trigger_write(json_sha, path, &spec, &fx->pkg, store),
		NS_EINVALID);
	tu_assert_error_has("files/lib/a.txt");
	tu_assert_error_has("hash mismatch");
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(tu_count_entries(spool), 1); /* only the good one */
	free(store);
	free(path);
	free(spool);
}

/* ---- tampering: each refused, naming the member --------------------- */

static void test_tamper_payload_byte(void **state)
{
	struct fx *fx = *state;
	struct mems ms;
	size_t i;

	mems_read(&ms, fx->trigger);
	i = mems_find(&ms, "payload/files/lib/b.txt");
	ms.m[i].data[2] ^= 0x01;
	load_refused(fx, &ms, "payload/files/lib/b.txt");
	tu_assert_error_has("hash mismatch");

	/* a small member, loaded whole, is checked the same way */
	mems_read(&ms, fx->trigger);
	i = mems_find(&ms, "payload/sql/deploy.sql");
	ms.m[i].data[0] = 'c';
	load_refused(fx, &ms, "payload/sql/deploy.sql");

	/* same bytes, one more at the end */
	mems_read(&ms, fx->trigger);
	i = mems_find(&ms, "payload/files/lib/a.txt");
	ms.m[i].data = xrealloc(ms.m[i].data, ms.m[i].len + 2);
	ms.m[i].data[ms.m[i].len++] = '\n';
	load_refused(fx, &ms, "payload/files/lib/a.txt");
}

static void test_tamper_drop_last_member(void **state)
{
	struct fx *fx = *state;
	struct mems ms;

	mems_read(&ms, fx->trigger);
	mems_remove(&ms, mems_find(&ms, "payload/sql/verify.sql"));
	load_refused(fx, &ms, "payload/sql/verify.sql");
	tu_assert_error_has("missing");
}

/* a member taken out of the middle: the message names the missing one */
static void test_tamper_drop_middle_member(void **state)
{
	struct fx *fx = *state;
	struct mems ms;

	mems_read(&ms, fx->trigger);
	mems_remove(&ms, mems_find(&ms, "payload/files/lib/a.txt"));
	load_refused(fx, &ms, "payload/files/lib/a.txt");
}

static void test_tamper_add_member(void **state)
{
	struct fx *fx = *state;
	struct mems ms;

	/* at the end */
	mems_read(&ms, fx->trigger);
	mems_insert(&ms, ms.nr, "payload/files/zz-extra.sh", "rm -rf /\n",
		    0755);
	load_refused(fx, &ms, "payload/files/zz-extra.sh");
	tu_assert_error_has("not listed");

	/* in the middle, in path order */
	mems_read(&ms, fx->trigger);
	mems_insert(&ms, mems_find(&ms, "payload/files/lib/b.txt"),
		    "payload/files/lib/ab.txt", "extra\n", 0644);
	load_refused(fx, &ms, "payload/files/lib/ab.txt");

	/* outside payload/ */
	mems_read(&ms, fx->trigger);
	mems_insert(&ms, ms.nr, "README", "hello\n", 0644);
	load_refused(fx, &ms, "README");
}

static void test_tamper_reorder(void **state)
{
	struct fx *fx = *state;
	struct mems ms;
	struct mem tmp;
	size_t a, b;

	mems_read(&ms, fx->trigger);
	a = mems_find(&ms, "payload/files/lib/a.txt");
	b = mems_find(&ms, "payload/files/lib/b.txt");
	tmp = ms.m[a];
	ms.m[a] = ms.m[b];
	ms.m[b] = tmp;
	load_refused(fx, &ms, "payload/files/lib/b.txt");
	tu_assert_error_has("order");

	/* TRIGGER.json moved behind the payload */
	mems_read(&ms, fx->trigger);
	tmp = ms.m[0];
	memmove(&ms.m[0], &ms.m[1], (ms.nr - 1) * sizeof(*ms.m));
	ms.m[ms.nr - 1] = tmp;
	load_refused(fx, &ms, "TRIGGER.json is not the first member");
}

static void test_tamper_mode(void **state)
{
	struct fx *fx = *state;
	struct mems ms;

	mems_read(&ms, fx->trigger);
	ms.m[mems_find(&ms, "payload/files/lib/a.txt")].mode = 0755;
	load_refused(fx, &ms, "payload/files/lib/a.txt");
}

/* TRIGGER.json (the first member) to edit, and back with j (taken) */
static json_t *json_of(const struct mems *ms)
{
	json_t *j = json_loadb(ms->m[0].data, ms->m[0].len, 0, NULL);

	assert_non_null(j);
	return j;
}

static void json_back(struct mems *ms, json_t *j)
{
	free(ms->m[0].data);
	ms->m[0].data = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
	ms->m[0].len = strlen(ms->m[0].data);
	json_decref(j);
}

/* edit TRIGGER.json and write it back with the given member changed */
static void rewrite_json(struct mems *ms, const char *key, json_t *value)
{
	json_t *j = json_of(ms);

	json_object_set_new(j, key, value);
	json_back(ms, j);
}

static void test_tamper_json_payload_sha256(void **state)
{
	struct fx *fx = *state;
	struct mems ms;
	char other[NS_HEX_LEN + 1];

	mems_read(&ms, fx->trigger);
	ns_sha256_buf(other, "another payload", 15);
	rewrite_json(&ms, "payload_sha256", json_string(other));
	load_refused(fx, &ms, "payload hash mismatch");

	/* not a digest at all */
	mems_read(&ms, fx->trigger);
	rewrite_json(&ms, "payload_sha256", json_string("cafe"));
	load_refused(fx, &ms, "payload_sha256");
}

/* a member's hash edited in TRIGGER.json no longer matches its bytes */
static void test_tamper_json_member_hash(void **state)
{
	struct fx *fx = *state;
	struct mems ms;
	json_t *j, *m;
	char other[NS_HEX_LEN + 1];

	mems_read(&ms, fx->trigger);
	j = json_of(&ms);
	m = json_array_get(json_object_get(j, "members"), 2);
	ns_sha256_buf(other, "x", 1);
	json_object_set_new(m, "sha256", json_string(other));
	json_back(&ms, j);
	load_refused(fx, &ms, "payload/files/lib/a.txt");
}

/* seal the trigger as its maker would, for whatever payload members ms
 * now holds, in their order: TRIGGER.json's member list and digest */
static void reseal_all(struct mems *ms)
{
	struct ns_member mb[32];
	char digest[NS_HEX_LEN + 1];
	json_t *j = json_of(ms);
	size_t n = 0;

	for (size_t i = 0; i < ms->nr; i++) {
		if (strncmp(ms->m[i].name, "payload/", 8))
			continue;
		mb[n].path = ms->m[i].name + 8;
		mb[n].size = ms->m[i].len;
		mb[n].mode = ms->m[i].mode;
		ns_sha256_buf(mb[n].sha256, ms->m[i].data, ms->m[i].len);
		n++;
	}
	ns_package_digest(digest, mb, n);
	json_object_set_new(j, "members", ns_trigger_members_json(mb, n));
	json_object_set_new(j, "payload_sha256", json_string(digest));
	json_back(ms, j);
}

/* change one payload member (its bytes when data is not NULL, its mode)
 * and seal the trigger again as its maker would: the member's hash, size
 * and mode in TRIGGER.json, and the payload digest, all agree with it */
static void reseal(struct mems *ms, const char *path, const char *data,
		   unsigned mode)
{
	char *name = xprintf("payload/%s", path);
	size_t k = mems_find(ms, name);

	if (data) {
		free(ms->m[k].data);
		ms->m[k].data = xstrdup(data);
		ms->m[k].len = strlen(data);
	}
	ms->m[k].mode = mode;
	reseal_all(ms);
	free(name);
}

/* a trigger made before submit checked the SQL scripts, its hashes all
 * consistent, whose revert.sql is Latin-1: refused at load (a rollback
 * keeps the revert SQL in plan.json, which holds only UTF-8) */
static void test_sql_not_text(void **state)
{
	static const char latin1[] = "-- caf\xe9\nDROP TABLE invoices;\n";
	struct fx *fx = *state;
	struct mems ms;

	mems_read(&ms, fx->trigger);
	reseal(&ms, "sql/revert.sql", latin1, 0644);
	load_refused(fx, &ms, "payload/sql/revert.sql:1: not valid UTF-8");
}

/* submit gives a member 0644 or 0755; a trigger sealed with any other
 * mode, every hash agreeing, would set it on the file in the site */
static void test_member_mode_not_submits(void **state)
{
	static const unsigned odd[] = { 04755, 02755, 0777, 0600 };
	struct fx *fx = *state;
	struct mems ms;
	char want[128];

	for (size_t i = 0; i < sizeof(odd) / sizeof(*odd); i++) {
		mems_read(&ms, fx->trigger);
		reseal(&ms, "files/bin/run.sh", NULL, odd[i]);
		snprintf(want, sizeof(want),
			 "TRIGGER.json: payload/files/bin/run.sh: mode %04o "
			 "(a member's mode is 0644 or 0755)",
			 odd[i]);
		load_refused(fx, &ms, want);
	}
	/* what submit gives loads */
	mems_read(&ms, fx->trigger);
	reseal(&ms, "files/bin/run.sh", NULL, 0644);
	{
		struct ns_trigger t = NS_TRIGGER_INIT;
		char *p = at(fx, "spool/resealed.trigger");
		mems_write(&ms, p);
		mems_release(&ms);
		assert_int_equal(ns_trigger_load(&t, p, &limits), 0);
		assert_int_equal(t.members[1].mode, 0644);
		ns_trigger_release(&t);
		free(p);
	}
}

/* every seal agreeing, the member list must still be one submit could
 * make: each path once, in order, below the payload (a second
 * enhancement.ini was read over the first, and leaked) */
static void test_resealed_member_list(void **state)
{
	struct fx *fx = *state;
	struct mems ms;

	mems_read(&ms, fx->trigger);
	mems_insert(&ms, mems_find(&ms, "payload/enhancement.ini") + 1,
		    "payload/enhancement.ini",
		    "[enhancement]\ntitle = other\nsystem = billing\n", 0644);
	reseal_all(&ms);
	load_refused(fx, &ms,
		     "TRIGGER.json: payload/enhancement.ini: listed twice or "
		     "out of order");

	mems_read(&ms, fx->trigger);
	mems_insert(&ms, 1, "payload/sql/zz.sql", "SELECT 1;\n", 0644);
	reseal_all(&ms);
	load_refused(fx, &ms,
		     "TRIGGER.json: payload/enhancement.ini: listed twice or "
		     "out of order");

	mems_read(&ms, fx->trigger);
	mems_insert(&ms, mems_find(&ms, "payload/enhancement.ini") + 1,
		    "payload/files/../../etc/cron.d/x", "* * * * * root id\n",
		    0644);
	reseal_all(&ms);
	load_refused(fx, &ms,
		     "TRIGGER.json: payload/files/../../etc/cron.d/x: '..' "
		     "component");

	/* the same sealing of the trigger as it is loads */
	mems_read(&ms, fx->trigger);
	reseal_all(&ms);
	{
		struct ns_trigger t = NS_TRIGGER_INIT;
		char *p = at(fx, "spool/resealed.trigger");
		mems_write(&ms, p);
		mems_release(&ms);
		assert_int_equal(ns_trigger_load(&t, p, &limits), 0);
		assert_int_equal(t.nr, fx->pkg.nr);
		ns_trigger_release(&t);
		free(p);
	}
}

/* a refusal quoting a name the trigger chose shows its control bytes
 * as \xNN, an id, system, environment or target with one is refused,
 * and `trigger show` escapes one elsewhere: an escape sequence never
 * reaches the operator's terminal */
static void test_refusal_shows_odd_bytes(void **state)
{
	struct fx *fx = *state;
	struct mems ms;

	mems_read(&ms, fx->trigger);
	mems_insert(&ms, 2, "payload/files/\x1b[2Jwipe", "x", 0644);
	load_refused(fx, &ms, "payload/files/\\x1b[2Jwipe: member not listed");
	assert_null(strchr(ns_error_last(), 0x1b));

	/* an id with a C1 escape (U+009B), every hash agreeing: refused */
	mems_read(&ms, fx->trigger);
	rewrite_json(&ms, "id",
		     json_string("ENH-7\xc2\x9b"
				 "2J"));
	load_refused(fx, &ms,
		     "id, system, environment or target holds a control "
		     "character");
	/* elsewhere (the creator) it loads, and `trigger show` escapes it */
	mems_read(&ms, fx->trigger);
	rewrite_json(&ms, "creator",
		     json_string("carol\xc2\x9b"
				 "2J"));
	{
		struct ns_trigger t = NS_TRIGGER_INIT;
		char *p = at(fx, "spool/c1.trigger"), *text;
		mems_write(&ms, p);
		mems_release(&ms);
		assert_int_equal(ns_trigger_load(&t, p, &limits), 0);
		text = ns_trigger_json_text(&t);
		assert_non_null(strstr(text, "\"carol\\u009B2J\""));
		assert_null(strstr(text, "\xc2\x9b"));
		free(text);
		ns_trigger_release(&t);
		free(p);
	}

	/* and in TRIGGER.json's own strings */
	mems_read(&ms, fx->trigger);
	rewrite_json(&ms, "transaction", json_string("\x1b]0;owned\x07"));
	load_refused(fx, &ms, "transaction '\\x1b]0;owned\\x07' disagrees");
	assert_null(strchr(ns_error_last(), 0x1b));
}

static void test_tamper_json_other(void **state)
{
	struct fx *fx = *state;
	struct ns_trigger t = NS_TRIGGER_INIT;
	struct mems ms;

	/* not JSON */
	mems_read(&ms, fx->trigger);
	free(ms.m[0].data);
	ms.m[0].data = xstrdup("{ \"id\": ");
	ms.m[0].len = strlen(ms.m[0].data);
	load_refused(fx, &ms, "TRIGGER.json");

	/* the revision gone, or past what a revision can be (it was read
	 * into an int: 2^32 + 1 came out as 1) */
	mems_read(&ms, fx->trigger);
	rewrite_json(&ms, "revision", json_null());
	load_refused(fx, &ms, "revision");
	mems_read(&ms, fx->trigger);
	rewrite_json(&ms, "revision", json_integer(4294967297LL));
	load_refused(fx, &ms, "revision");

	/* a transaction mode the payload's enhancement.ini does not say */
	mems_read(&ms, fx->trigger);
	rewrite_json(&ms, "transaction", json_string("none"));
	load_refused(fx, &ms,
		     "TRIGGER.json: transaction 'none' disagrees with "
		     "payload/enhancement.ini (transaction = single)");

	/* members not an array */
	mems_read(&ms, fx->trigger);
	rewrite_json(&ms, "members", json_string("all of them"));
	load_refused(fx, &ms, "members");

	/* an edit that keeps every hash still changes the JSON's own hash,
	 * which is what the registry compares */
	mems_read(&ms, fx->trigger);
	rewrite_json(&ms, "creator", json_string("mallory"));
	{
		char *p = at(fx, "spool/edited.trigger");
		mems_write(&ms, p);
		assert_int_equal(ns_trigger_load(&t, p, &limits), 0);
		assert_string_not_equal(t.json_sha256, fx->json_sha256);
		assert_string_equal(t.payload_sha256, fx->pkg.payload_sha256);
		ns_trigger_release(&t);
		free(p);
	}
	mems_release(&ms);
}

static void test_not_a_trigger(void **state)
{
	struct fx *fx = *state;
	struct ns_trigger t = NS_TRIGGER_INIT;
	char *p = at(fx, "spool/garbage.trigger");
	char *absent = at(fx, "spool/absent.trigger");

	put(fx, "spool/garbage.trigger", "this is not a tar file at all\n",
	    0644);
	assert_int_equal(ns_trigger_load(&t, p, &limits), NS_EINVALID);
	tu_assert_error_has(p);
	assert_true(ns_trigger_load(&t, absent, &limits) < 0);
	tu_assert_error_has(absent);
	ns_trigger_release(&t);
	free(p);
	free(absent);
}

/* ---- signatures -------------------------------------------------- */

/* a new key of type (e.g. "ED25519") written to dir/name.pem (mode) and
 * its public half to dir/name.pub */
static void make_key(const struct fx *fx, const char *name, const char *type,
		     unsigned mode)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, type);
	char *rel = xprintf("%s.pem", name), *path = at(fx, rel);
	FILE *f;
	int fd;

	assert_non_null(k);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_non_null(f = fdopen(fd, "w"));
	assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL),
			 1);
	assert_int_equal(fclose(f), 0);
	free(rel);
	free(path);
	rel = xprintf("%s.pub", name);
	path = at(fx, rel);
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(PEM_write_PUBKEY(f, k), 1);
	assert_int_equal(fclose(f), 0);
	EVP_PKEY_free(k);
	free(rel);
	free(path);
}

static struct ns_key *key_of(const struct fx *fx, const char *file, int private)
{
	struct ns_key *k = NULL;
	char *path = at(fx, file);

	assert_int_equal(private ? ns_key_load_private(&k, path, "test")
				 : ns_key_load_public(&k, path, "test"),
			 0);
	free(path);
	return k;
}

/* the package of the fixture, as a trigger signed by k, at rel */
static char *write_signed(const struct fx *fx, const struct ns_key *k,
			  const char *rel)
{
	static const char *sites[] = { "main", "branch" };
	struct ns_trigger_spec spec;
	char sha[NS_HEX_LEN + 1];
	char *path = at(fx, rel), *store = at(fx, "store/payload.tar");

	fill_spec(&spec, sites, NULL);
	spec.key = k;
	assert_int_equal(ns_trigger_write(sha, path, &spec, &fx->pkg, store),
			 0);
	free(store);
	return path;
}

static void test_signed_round_trip(void **state)
{
	struct fx *fx = *state;
	struct ns_key *priv, *pub, *half;
	struct ns_trigger t = NS_TRIGGER_INIT;
	struct mems ms;
	char *path;

	make_key(fx, "ops", "ED25519", 0600);
	priv = key_of(fx, "ops.pem", 1);
	pub = key_of(fx, "ops.pub", 0);
	half = key_of(fx, "ops.pem", 0);
	/* one id for the key, whichever half it was read from */
	assert_string_equal(ns_key_id(priv), ns_key_id(pub));
	assert_string_equal(ns_key_id(half), ns_key_id(pub));
	assert_int_equal(strncmp(ns_key_id(pub), "SHA256:", 7), 0);
	path = write_signed(fx, priv, "spool/signed.trigger");
	/* TRIGGER.sig right after TRIGGER.json, then the payload */
	mems_read(&ms, path);
	assert_string_equal(ms.m[0].name, "TRIGGER.json");
	assert_string_equal(ms.m[1].name, "TRIGGER.sig");
	assert_int_equal(strncmp(ms.m[2].name, "payload/", 8), 0);
	mems_release(&ms);
	assert_int_equal(ns_trigger_load(&t, path, &limits), 0);
	assert_string_equal(t.sig_key, ns_key_id(pub));
	assert_int_equal(ns_trigger_check_signature(&t, pub, "the key"), 0);
	assert_int_equal(ns_trigger_check_signature(&t, half, "the key"), 0);
	ns_trigger_release(&t);
	free(path);
	ns_key_free(priv);
	ns_key_free(pub);
	ns_key_free(half);
}

/* what a key check refuses: TRIGGER.json edited after signing (every hash
 * in it consistent: only the signature can tell), another key, no
 * signature; a TRIGGER.sig that is no signature, or out of its place */
static void test_signature_refusals(void **state)
{
	struct fx *fx = *state;
	struct ns_key *ops, *other;
	struct ns_trigger t = NS_TRIGGER_INIT;
	struct mems ms;
	char *path, *edited = at(fx, "spool/edited.trigger");

	make_key(fx, "ops", "ED25519", 0600);
	make_key(fx, "other", "ED25519", 0600);
	ops = key_of(fx, "ops.pem", 1);
	other = key_of(fx, "other.pub", 0);
	path = write_signed(fx, ops, "spool/signed.trigger");

	mems_read(&ms, path);
	rewrite_json(&ms, "creator", json_string("mallory"));
	mems_write(&ms, edited);
	mems_release(&ms);
	assert_int_equal(ns_trigger_load(&t, edited, &limits), 0);
	assert_int_equal(ns_trigger_check_signature(&t, ops, "the key"),
			 NS_EINVALID);
	tu_assert_error_has("TRIGGER.sig: the signature does not match "
			    "TRIGGER.json");
	tu_assert_error_has(edited);
	ns_trigger_release(&t);

	/* a signature that is not lower-case hex of even length is none,
	 * even the right one in upper case */
	assert_int_equal(ns_trigger_load(&t, path, &limits), 0);
	for (char *c = t.sig; *c; c++)
		*c = (char)toupper((unsigned char)*c);
	assert_int_equal(ns_trigger_check_signature(&t, ops, "the key"),
			 NS_EINVALID);
	free(t.sig);
	t.sig = xstrdup("abc");
	assert_int_equal(ns_trigger_check_signature(&t, ops, "the key"),
			 NS_EINVALID);
	tu_assert_error_has("the signature does not match");
	ns_trigger_release(&t);

	assert_int_equal(ns_trigger_load(&t, path, &limits), 0);
	assert_int_equal(ns_trigger_check_signature(&t, other, "the key"),
			 NS_EINVALID);
	tu_assert_error_has(ns_key_id(ops));
	tu_assert_error_has(ns_key_id(other));
	ns_trigger_release(&t);

	assert_int_equal(ns_trigger_load(&t, fx->trigger, &limits), 0);
	assert_null(t.sig);
	assert_int_equal(ns_trigger_check_signature(&t, ops, "the key"),
			 NS_EINVALID);
	tu_assert_error_has("the trigger is not signed, and the key asks for "
			    "a signature by key SHA256:");
	ns_trigger_release(&t);

	mems_read(&ms, path);
	free(ms.m[1].data);
	ms.m[1].data = xstrdup("{\"key\": \"SHA256:nothex\"}");
	ms.m[1].len = strlen(ms.m[1].data);
	load_refused(fx, &ms, "TRIGGER.sig: malformed");
	/* after the payload it is a member TRIGGER.json does not list */
	mems_read(&ms, path);
	mems_insert(&ms, ms.nr, "TRIGGER.sig", ms.m[1].data, 0644);
	mems_remove(&ms, 1);
	load_refused(fx, &ms, "TRIGGER.sig: member not listed");
	free(path);
	free(edited);
	ns_key_free(ops);
	ns_key_free(other);
}

static void key_refused(const struct fx *fx, const char *file, int private,
			const char *needle)
{
	struct ns_key *k = NULL;
	char *path = at(fx, file);

	assert_int_equal(private ? ns_key_load_private(&k, path, "the key")
				 : ns_key_load_public(&k, path, "the key"),
			 NS_EINVALID);
	assert_null(k);
	tu_assert_error_has("the key: ");
	tu_assert_error_has(needle);
	free(path);
}

static void test_key_refusals(void **state)
{
	struct fx *fx = *state;

	make_key(fx, "open", "ED25519", 0644);
	key_refused(fx, "open.pem", 1, "may be read by others (mode 0644)");
	key_refused(fx, "open.pem", 0, "may be read by others (mode 0644)");
	key_refused(fx, "open.pub", 1, "holds no PEM private key");
	put(fx, "junk.pem", "not a key\n", 0600);
	key_refused(fx, "junk.pem", 0, "holds no PEM public key");
	key_refused(fx, "missing.pem", 1, "No such file or directory");
	make_key(fx, "dh", "X25519", 0600);
	key_refused(fx, "dh.pem", 1,
		    "a key of type X25519, which does not "
		    "sign");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_round_trip),
		T(test_layout),
		T(test_json_text),
		T(test_files_only),
		T(test_write_refuses_changed_store),
		T(test_tamper_payload_byte),
		T(test_tamper_drop_last_member),
		T(test_tamper_drop_middle_member),
		T(test_tamper_add_member),
		T(test_tamper_reorder),
		T(test_tamper_mode),
		T(test_tamper_json_payload_sha256),
		T(test_tamper_json_member_hash),
		T(test_sql_not_text),
		T(test_member_mode_not_submits),
		T(test_resealed_member_list),
		T(test_refusal_shows_odd_bytes),
		T(test_tamper_json_other),
		T(test_not_a_trigger),
		T(test_signed_round_trip),
		T(test_signature_refusals),
		T(test_key_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
