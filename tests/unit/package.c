/* package: reading and refusing packages, the payload tar, ns_tar_* */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "hash.h"
#include "package.h"
#include "testutil.h"
#include "xalloc.h"

#define INI "[enhancement]\ntitle = Test\n"

static const struct ns_limits default_limits = NS_LIMITS_DEFAULT;

/* ---- fixtures ------------------------------------------------------ */

static int setup(void **state)
{
	*state = tu_scratch_new("package");
	return *state ? 0 : -1;
}

/* state's directory joined with rel; the caller frees */
static char *at(void **state, const char *rel)
{
	return tu_at(*state, rel);
}

static void put_len(void **state, const char *rel, const void *data, size_t len,
		    unsigned mode)
{
	char *path = at(state, rel);

	tu_put_len(path, data, len, mode);
	free(path);
}

static void put(void **state, const char *rel, const char *text, unsigned mode)
{
	tu_put_at(*state, rel, text, mode);
}

/* ---- hostile tars, written with libarchive directly ---------------- */

struct spec {
	const char *name;
	char type; /* f file, d dir, l symlink, h hard link, c char dev, p fifo
		    */
	const char *data;
	unsigned mode;
	const char *link;
};

static void make_tar(const char *path, const struct spec *s, size_t nr, int gnu)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e;
	size_t len;

	if (gnu)
		archive_write_set_format_gnutar(a);
	else
		archive_write_set_format_pax_restricted(a);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	for (size_t i = 0; i < nr; i++) {
		e = archive_entry_new();
		len = s[i].data ? strlen(s[i].data) : 0;
		archive_entry_set_pathname(e, s[i].name);
		archive_entry_set_perm(e, s[i].mode ? s[i].mode : 0644);
		switch (s[i].type) {
		case 'd':
			archive_entry_set_filetype(e, AE_IFDIR);
			break;
		case 'l':
			archive_entry_set_filetype(e, AE_IFLNK);
			archive_entry_set_symlink(e, s[i].link);
			break;
		case 'h':
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_hardlink(e, s[i].link);
			break;
		case 'c':
			archive_entry_set_filetype(e, AE_IFCHR);
			archive_entry_set_rdev(e, 0x0103);
			break;
		case 'p':
			archive_entry_set_filetype(e, AE_IFIFO);
			break;
		default:
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_size(e, (la_int64_t)len);
		}
		assert_true(archive_write_header(a, e) >= ARCHIVE_WARN);
		if (s[i].type == 'f' && len)
			assert_int_equal(archive_write_data(a, s[i].data, len),
					 (la_ssize_t)len);
		archive_entry_free(e);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
}

/* ---- the happy path ------------------------------------------------ */

#define BASE_HASH                                                              \
	"0000000000000000000000000000000000000000000000000000000000000000"

static const char *full_ini = INI "rfs = RFS-1\n"
				  "[files]\n"
				  "delete = old.txt\n"
				  "base = old.txt " BASE_HASH "\n"
				  "base = bin/run.sh " BASE_HASH "\n";

static void make_full_dir(void **state, const char *root)
{
	char *p;

	p = xprintf("%s/enhancement.ini", root);
	put(state, p, full_ini, 0644);
	free(p);
	p = xprintf("%s/files/bin/run.sh", root);
	put(state, p, "#!/bin/sh\necho run\n", 0750);
	free(p);
	p = xprintf("%s/files/lib/a.c", root);
	put(state, p, "int a;\n", 0640);
	free(p);
	p = xprintf("%s/files/lib/a-b.c", root);
	put(state, p, "int ab;\n", 0600);
	free(p);
	p = xprintf("%s/files/z.txt", root);
	put(state, p, "", 0664);
	free(p);
	p = xprintf("%s/sql/deploy.sql", root);
	put(state, p, "create table t(x);\n", 0644);
	free(p);
	p = xprintf("%s/sql/revert.sql", root);
	put(state, p, "drop table t;\n", 0644);
	free(p);
}

/* the same package, wrapped and out of order, as a tar */
static const struct spec full_tar[] = {
	{ "enh1/", 'd', NULL, 0755, NULL },
	{ "enh1/sql/revert.sql", 'f', "drop table t;\n", 0644, NULL },
	{ "enh1/files/z.txt", 'f', "", 0664, NULL },
	{ "enh1/files/lib/a.c", 'f', "int a;\n", 0640, NULL },
	{ "enh1/files/bin/", 'd', NULL, 0755, NULL },
	{ "enh1/files/bin/run.sh", 'f', "#!/bin/sh\necho run\n", 0750, NULL },
	{ "enh1/sql/deploy.sql", 'f', "create table t(x);\n", 0644, NULL },
	{ "enh1/files/lib/a-b.c", 'f', "int ab;\n", 0600, NULL },
	{ "enh1/enhancement.ini", 'f', NULL, 0644, NULL },
};

static const char *const full_paths[] = {
	"enhancement.ini", "files/bin/run.sh", "files/lib/a-b.c",
	"files/lib/a.c",   "files/z.txt",      "sql/deploy.sql",
	"sql/revert.sql",
};
static const unsigned full_modes[] = {
	0644, 0755, 0644, 0644, 0644, 0644, 0644
};

static void make_full_tar(const char *path, const char *prefix, int gnu)
{
	size_t nr = sizeof(full_tar) / sizeof(full_tar[0]);
	struct spec s[sizeof(full_tar) / sizeof(full_tar[0])];
	char *names[sizeof(full_tar) / sizeof(full_tar[0])];

	size_t n = 0;

	for (size_t i = 0; i < nr; i++) {
		if (!*prefix && !full_tar[i].name[5])
			continue; /* no top directory at all */
		s[n] = full_tar[i];
		names[n] = xprintf("%s%s", prefix, full_tar[i].name + 5);
		s[n].name = names[n];
		if (!strcmp(full_tar[i].name + 5, "enhancement.ini"))
			s[n].data = full_ini;
		n++;
	}
	make_tar(path, s, n, gnu);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
}

static void check_members(const struct ns_package *pkg)
{
	assert_int_equal(pkg->nr, 7);
	for (size_t i = 0; i < pkg->nr; i++) {
		assert_string_equal(pkg->members[i].path, full_paths[i]);
		assert_int_equal(pkg->members[i].mode, full_modes[i]);
	}
	assert_int_equal(pkg->members[0].size, strlen(full_ini));
	assert_int_equal(pkg->members[4].size, 0);
	assert_true(pkg->has_deploy && pkg->has_revert);
	assert_false(pkg->has_verify_sql);
	assert_string_equal(pkg->manifest.title, "Test");
	assert_string_equal(pkg->manifest.deletes[0], "old.txt");
}

/* what the store tar holds: the members, in order, with their bytes */
static void check_store(const char *path, const struct ns_package *pkg)
{
	struct ns_tar_reader *r = NULL;
	const char *name;
	uint64_t size;
	unsigned mode;
	int regular;
	char *data, sha[NS_HEX_LEN + 1];
	size_t len, i;

	assert_int_equal(ns_tar_open(&r, path), 0);
	for (i = 0; ns_tar_next(r, &name, &size, &mode, &regular) == 1; i++) {
		assert_true(i < pkg->nr);
		assert_string_equal(name, pkg->members[i].path);
		assert_int_equal(size, pkg->members[i].size);
		assert_int_equal(mode, pkg->members[i].mode);
		assert_true(regular);
		assert_int_equal(ns_tar_read_all(r, &data, &len, 16 << 20), 0);
		ns_sha256_buf(sha, data, len);
		assert_string_equal(sha, pkg->members[i].sha256);
		free(data);
	}
	assert_int_equal(i, pkg->nr);
	ns_tar_close(r);
}

static void check_digest(const struct ns_package *pkg)
{
	struct ns_sha256 *h = ns_sha256_new();
	char line[512], want[NS_HEX_LEN + 1];

	for (size_t i = 0; i < pkg->nr; i++) {
		snprintf(line, sizeof(line), "%s %04o %llu %s\n",
			 pkg->members[i].sha256, pkg->members[i].mode,
			 (unsigned long long)pkg->members[i].size,
			 pkg->members[i].path);
		ns_sha256_update(h, line, strlen(line));
	}
	ns_sha256_finish(want, h);
	assert_string_equal(pkg->payload_sha256, want);
}

static void test_dir_and_tar_agree(void **state)
{
	struct ns_package a = NS_PACKAGE_INIT, b = NS_PACKAGE_INIT;
	struct ns_package c = NS_PACKAGE_INIT;
	char *src = at(state, "pkg"), *tar1 = at(state, "wrapped.tar");
	char *tar2 = at(state, "dotted.tar"), *s1 = at(state, "s1.tar");
	char *s2 = at(state, "s2.tar"), *s3 = at(state, "s3.tar");
	char *x, *y;
	size_t xl, yl;

	make_full_dir(state, "pkg");
	make_full_tar(tar1, "enh1/", 0);
	make_full_tar(tar2, "./", 1);
	assert_int_equal(ns_package_read(&a, src, &default_limits, s1), 0);
	assert_int_equal(ns_package_read(&b, tar1, &default_limits, s2), 0);
	assert_int_equal(ns_package_read(&c, tar2, &default_limits, s3), 0);
	check_members(&a);
	check_members(&b);
	check_digest(&a);
	assert_string_equal(a.payload_sha256, b.payload_sha256);
	assert_string_equal(a.payload_sha256, c.payload_sha256);
	check_store(s1, &a);
	/* the canonical tar is the same bytes, whatever the source */
	x = tu_slurp(s1, &xl);
	y = tu_slurp(s2, &yl);
	assert_int_equal(xl, yl);
	assert_memory_equal(x, y, xl);
	free(y);
	y = tu_slurp(s3, &yl);
	assert_int_equal(xl, yl);
	assert_memory_equal(x, y, xl);
	free(x);
	free(y);
	assert_non_null(ns_package_member(&a, "files/lib/a.c"));
	assert_null(ns_package_member(&a, "files/lib"));
	ns_package_release(&a);
	ns_package_release(&b);
	ns_package_release(&c);
	/* stores and sources only: no temporary file left behind */
	assert_int_equal(tu_count_entries(*state), 6);
	free(src), free(tar1), free(tar2), free(s1), free(s2), free(s3);
}

static void test_check_only(void **state)
{
	struct ns_package pkg = NS_PACKAGE_INIT;
	char *src = at(state, "pkg/");

	make_full_dir(state, "pkg");
	assert_int_equal(ns_package_read(&pkg, src, &default_limits, NULL), 0);
	check_members(&pkg);
	assert_int_equal(tu_count_entries(*state), 1);
	ns_package_release(&pkg);
	free(src);
}

/* a member bigger than any buffer goes through in pieces, intact */
static void test_big_member(void **state)
{
	struct ns_package pkg = NS_PACKAGE_INIT;
	size_t len = (5u << 20) + 123;
	unsigned char *big = xmalloc(len);
	char *src = at(state, "pkg"), *store = at(state, "store.tar");
	char sha[NS_HEX_LEN + 1];
	const struct ns_member *m;

	for (size_t i = 0; i < len; i++)
		big[i] = (unsigned char)(i * 131 + (i >> 13));
	put(state, "pkg/enhancement.ini", INI, 0644);
	put_len(state, "pkg/files/big.bin", big, len, 0755);
	assert_int_equal(ns_package_read(&pkg, src, &default_limits, store), 0);
	ns_sha256_buf(sha, big, len);
	m = ns_package_member(&pkg, "files/big.bin");
	assert_non_null(m);
	assert_string_equal(m->sha256, sha);
	assert_int_equal(m->size, len);
	assert_int_equal(m->mode, 0755);
	check_store(store, &pkg);
	ns_package_release(&pkg);
	free(big), free(src), free(store);
}

/* ---- refusals ------------------------------------------------------ */

/* read src (relative to the fixture), expect NS_EINVALID with a message
 * that starts "SRC<sep>" ("SRC: " for sep 0) and holds want, and no
 * store written */
static void refused_lim(void **state, const char *rel, char sep,
			const char *want, const struct ns_limits *lim)
{
	struct ns_package pkg = NS_PACKAGE_INIT;
	char *src = at(state, rel), *store = at(state, "store.tar");
	char *prefix = sep ? xprintf("%s%c", src, sep) : xprintf("%s: ", src);
	int before = tu_count_entries(*state);
	int r = ns_package_read(&pkg, src, lim, store);
	const char *msg = ns_error_last();

	if (r != NS_EINVALID || !strstr(msg, want) ||
	    strncmp(msg, prefix, strlen(prefix)))
		fail_msg("%s: expected NS_EINVALID '%s%s', got %d: %s", rel,
			 prefix, want, r, msg);
	assert_null(pkg.members);
	assert_false(tu_exists(store));
	assert_int_equal(tu_count_entries(*state), before);
	free(src), free(store), free(prefix);
}

static void refused(void **state, const char *rel, char sep, const char *want)
{
	refused_lim(state, rel, sep, want, &default_limits);
}

/* a valid tar with one more member, or with another enhancement.ini */
static void refused_tar(void **state, const struct spec *extra, size_t nr,
			const char *want, const struct ns_limits *lim)
{
	struct spec s[16] = {
		{ "enhancement.ini", 'f', INI, 0644, NULL },
		{ "files/a.txt", 'f', "a\n", 0644, NULL },
	};
	size_t n = 2;
	char *path = at(state, "t.tar");

	for (size_t i = 0; i < nr; i++) {
		if (!strcmp(extra[i].name, "enhancement.ini"))
			s[0] = extra[i];
		else
			s[n++] = extra[i];
	}
	make_tar(path, s, n, 0);
	refused_lim(state, "t.tar", ':', want, lim ? lim : &default_limits);
	unlink(path);
	free(path);
}

#define REFUSE_TAR(want, ...)                                                  \
	do {                                                                   \
		const struct spec x_[] = { __VA_ARGS__ };                      \
		refused_tar(state, x_, sizeof(x_) / sizeof(x_[0]), want,       \
			    NULL);                                             \
	} while (0)

static void test_tar_hostile_paths(void **state)
{
	char name[300], *long_name;

	REFUSE_TAR("/etc/passwd: absolute path",
		   { "/etc/passwd", 'f', "x", 0644, NULL });
	REFUSE_TAR("files/../../x: '..' component",
		   { "files/../../x", 'f', "x", 0644, NULL });
	REFUSE_TAR("files/./x: empty or '.' component",
		   { "files/./x", 'f', "x", 0644, NULL });
	REFUSE_TAR("control character", { "files/a\nb", 'f', "x", 0644, NULL });
	memset(name, 'n', 256);
	name[256] = '\0';
	long_name = xprintf("files/%s", name);
	REFUSE_TAR("name too long", { long_name, 'f', "x", 0644, NULL });
	free(long_name);
}

static void test_tar_hostile_kinds(void **state)
{
	REFUSE_TAR("t.tar:files/l: symbolic link",
		   { "files/l", 'l', NULL, 0777, "/etc/passwd" });
	REFUSE_TAR("t.tar:files/h: hard link",
		   { "files/h", 'h', NULL, 0644, "files/a.txt" });
	REFUSE_TAR("t.tar:files/tty: special file",
		   { "files/tty", 'c', NULL, 0644, NULL });
	REFUSE_TAR("t.tar:files/fifo: special file",
		   { "files/fifo", 'p', NULL, 0644, NULL });
	REFUSE_TAR("t.tar:files/su: setuid",
		   { "files/su", 'f', "x", 04755, NULL });
	REFUSE_TAR("t.tar:files/sg: setuid",
		   { "files/sg", 'f', "x", 02755, NULL });
}

static void test_tar_hostile_tree(void **state)
{
	REFUSE_TAR("t.tar:files/a.txt: duplicate path",
		   { "files/a.txt", 'f', "b\n", 0644, NULL });
	REFUSE_TAR("duplicate path", { "files/d", 'd', NULL, 0755, NULL },
		   { "files/d/", 'd', NULL, 0755, NULL });
	REFUSE_TAR("t.tar:files/a.txt: both a file and a directory",
		   { "files/a.txt/b", 'f', "x", 0644, NULL });
	REFUSE_TAR("both a file and a directory",
		   { "files/a.txt/", 'd', NULL, 0755, NULL });
	REFUSE_TAR("t.tar:README: unexpected entry",
		   { "README", 'f', "x", 0644, NULL });
	REFUSE_TAR("t.tar:sql/other.sql: unexpected entry",
		   { "sql/other.sql", 'f', "x", 0644, NULL });
	REFUSE_TAR("t.tar:sql/deploy.sql/: unexpected entry",
		   { "sql/deploy.sql/", 'd', NULL, 0755, NULL });
	REFUSE_TAR("t.tar:enhancement.ini/x: unexpected entry",
		   { "enhancement.ini/x", 'f', "x", 0644, NULL });
}

static void test_tar_layout(void **state)
{
	const struct spec no_ini[] = {
		{ "files/a.txt", 'f', "x", 0644, NULL },
	};
	const struct spec two_tops[] = {
		{ "a/enhancement.ini", 'f', INI, 0644, NULL },
		{ "b/files/x", 'f', "x", 0644, NULL },
	};
	const struct spec files_file[] = {
		{ "enhancement.ini", 'f', INI, 0644, NULL },
		{ "files", 'f', "x", 0644, NULL },
	};
	char *path = at(state, "t.tar");

	make_tar(path, no_ini, 1, 0);
	refused(state, "t.tar", ':', "t.tar: missing enhancement.ini");
	make_tar(path, two_tops, 2, 0);
	refused(state, "t.tar", ':',
		"t.tar:a/enhancement.ini: unexpected "
		"entry");
	make_tar(path, files_file, 2, 0);
	refused(state, "t.tar", ':', "t.tar:files: unexpected entry");
	make_tar(path, NULL, 0, 0);
	refused(state, "t.tar", ':', "missing enhancement.ini");
	unlink(path);
	free(path);
}

static void test_tar_manifest(void **state)
{
	REFUSE_TAR("sql/deploy.sql without sql/revert.sql",
		   { "sql/deploy.sql", 'f', "x", 0644, NULL });
	REFUSE_TAR("t.tar:enhancement.ini: missing 'title'",
		   { "enhancement.ini", 'f', "[enhancement]\nrfs = x\n", 0644,
		     NULL });
	REFUSE_TAR("t.tar:enhancement.ini:4: [files] delete: '..' component",
		   { "enhancement.ini", 'f', INI "[files]\ndelete = ../x\n",
		     0644, NULL });
	REFUSE_TAR("t.tar:enhancement.ini: [files] delete 'a.txt': both "
		   "replaced and deleted",
		   { "enhancement.ini", 'f', INI "[files]\ndelete = a.txt\n",
		     0644, NULL });
	REFUSE_TAR("t.tar:enhancement.ini: [files] base 'b.txt': base for a "
		   "path the enhancement does not touch",
		   { "enhancement.ini", 'f',
		     INI "[files]\nbase = b.txt " BASE_HASH "\n", 0644, NULL });
}

static void test_tar_nul_and_size(void **state)
{
	static const char nul_ini[] = INI "x = \0\n";
	struct spec s[] = {
		{ "enhancement.ini", 'f', NULL, 0644, NULL },
		{ "files/a.txt", 'f', "a", 0644, NULL },
	};
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	char *path = at(state, "t.tar"), *big = xmalloc((1 << 20) + 2);

	/* make_tar stops at the NUL: write this one by hand */
	archive_write_set_format_pax_restricted(a);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	archive_entry_set_pathname(e, "enhancement.ini");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, sizeof(nul_ini) - 1);
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	archive_write_data(a, nul_ini, sizeof(nul_ini) - 1);
	archive_write_close(a);
	archive_write_free(a);
	archive_entry_free(e);
	refused(state, "t.tar", ':', "t.tar:enhancement.ini:3: NUL byte");

	memset(big, ';', (1 << 20) + 1);
	big[(1 << 20) + 1] = '\0';
	s[0].data = big;
	make_tar(path, s, 2, 0);
	refused(state, "t.tar", ':', "t.tar:enhancement.ini: exceeds 1 MiB");
	unlink(path);
	free(path);
	free(big);
}

static void test_tar_limits(void **state)
{
	struct ns_limits lim = NS_LIMITS_DEFAULT;
	const struct spec eleven[] = {
		{ "files/b.txt", 'f', "123456789012345678901234567890", 0644,
		  NULL },
	};
	const struct spec more[] = {
		{ "files/b.txt", 'f', "1", 0644, NULL },
		{ "files/c.txt", 'f', "1", 0644, NULL },
	};
	const struct spec deep[] = {
		{ "files/0123456789/0123456789", 'f', "1", 0644, NULL },
	};

	lim.max_file_size = strlen(INI);
	refused_tar(state, eleven, 1,
		    "t.tar:files/b.txt: 30 bytes exceeds max-file-size", &lim);
	lim = (struct ns_limits)NS_LIMITS_DEFAULT;
	lim.max_files = 3;
	refused_tar(state, more, 2, "t.tar:files/c.txt: exceeds max-files",
		    &lim);
	lim = (struct ns_limits)NS_LIMITS_DEFAULT;
	lim.max_total_size = strlen(INI) + 3;
	refused_tar(state, more, 2,
		    "t.tar:files/c.txt: exceeds "
		    "max-total-size",
		    &lim);
	lim = (struct ns_limits)NS_LIMITS_DEFAULT;
	lim.max_path = 20;
	refused_tar(state, deep, 1,
		    "t.tar:files/0123456789/0123456789: "
		    "path too long",
		    &lim);
}

static void test_unreadable_tars(void **state)
{
	struct ns_package pkg = NS_PACKAGE_INIT;
	char *path = at(state, "bad.tar"), *full = at(state, "full.tar");
	char *data;
	size_t len;

	put(state, "bad.tar", "this is not a tar archive, not at all\n", 0644);
	refused(state, "bad.tar", ':', "bad.tar: not a readable tar");
	/* cut in the middle of a member's data */
	make_full_tar(full, "", 0);
	data = tu_slurp(full, &len);
	put_len(state, "bad.tar", data, 2048 + 3, 0644);
	refused(state, "bad.tar", ':',
		"bad.tar:files/lib/a.c: not a readable "
		"tar");
	/* or in the padding after it */
	put_len(state, "bad.tar", data, 2048 + 100, 0644);
	refused(state, "bad.tar", ':', "not a readable tar");
	free(data);
	put(state, "pkg.zip", "", 0644);
	refused(state, "pkg.zip", ':', "not a directory or a .tar file");
	assert_int_equal(ns_package_read(&pkg, "/nonexistent/x.tar",
					 &default_limits, NULL),
			 NS_ERROR);
	assert_non_null(strstr(ns_error_last(), "No such file"));
	free(path), free(full);
}

static void test_dir_refusals(void **state)
{
	char *p, *q;

	put(state, "d/enhancement.ini", INI, 0644);
	put(state, "d/files/a.txt", "a", 0644);

	p = at(state, "d/files/l");
	assert_int_equal(symlink("/etc/passwd", p), 0);
	refused(state, "d", '/', "d/files/l: symbolic link");
	unlink(p);
	free(p);

	p = at(state, "d/files/a.txt");
	q = at(state, "d/files/h");
	assert_int_equal(link(p, q), 0);
	refused(state, "d", '/', "hard link");
	unlink(q);
	free(p), free(q);

	p = at(state, "d/files/fifo");
	assert_int_equal(mkfifo(p, 0644), 0);
	refused(state, "d", '/', "d/files/fifo: special file");
	unlink(p);
	free(p);

	put(state, "d/files/su", "x", 04755);
	refused(state, "d", '/', "d/files/su: setuid");
	p = at(state, "d/files/su");
	unlink(p);
	free(p);

	put(state, "d/.git/config", "x", 0644);
	refused(state, "d", '/', "d/.git: unexpected entry");
	p = at(state, "d/.git/config");
	unlink(p);
	free(p);
	p = at(state, "d/.git");
	rmdir(p);
	free(p);

	put(state, "d/files/x\ny", "x", 0644);
	refused(state, "d", '/', "control character");
}

static void test_dir_manifest(void **state)
{
	char *p;

	put(state, "d/files/a.txt", "a", 0644);
	refused(state, "d", 0, "d: missing enhancement.ini");
	put(state, "d/enhancement.ini", "[enhancement]\ntitle = \0x\n", 0644);
	p = at(state, "d/enhancement.ini");
	assert_int_equal(truncate(p, 26), 0);
	refused(state, "d", '/', "d/enhancement.ini:2: NUL byte");
	put(state, "d/enhancement.ini", "[enhancement]\n[bad]\n", 0644);
	refused(state, "d", '/', "d/enhancement.ini:2: unknown section [bad]");
	put(state, "d/enhancement.ini", INI, 0644);
	put(state, "d/sql/deploy.sql", "x", 0644);
	refused(state, "d", 0, "d: sql/deploy.sql without sql/revert.sql");
	put(state, "d/sql/revert.sql", "x", 0644);
	put(state, "d/sql/notes.txt", "x", 0644);
	refused(state, "d", '/', "d/sql/notes.txt: unexpected entry");
	free(p);
}

/* the SQL scripts are read whole and must be UTF-8 text, at most 16 MiB:
 * what submit accepts, the migration can load and keep in plan.json */
static void test_dir_sql_text(void **state)
{
	char *big = xmalloc(NS_SQL_CAP + 2);

	put(state, "d/enhancement.ini", INI, 0644);
	put(state, "d/sql/deploy.sql", "CREATE TABLE t(x);\n", 0644);
	put(state, "d/sql/revert.sql", "-- caf\xe9\nDROP TABLE t;\n", 0644);
	refused(state, "d", '/', "d/sql/revert.sql:1: not valid UTF-8");
	put(state, "d/sql/revert.sql", "DROP TABLE t;\n", 0644);
	put(state, "d/sql/verify.sql", "SELECT 1;\n\n\x1b[2J\n", 0644);
	refused(state, "d", '/', "d/sql/verify.sql:3: control character");
	memset(big, '-', NS_SQL_CAP + 1);
	big[NS_SQL_CAP + 1] = '\0';
	put(state, "d/sql/verify.sql", big, 0644);
	refused(state, "d", '/', "d/sql/verify.sql: exceeds 16 MiB");
	big[NS_SQL_CAP] = '\0'; /* at the cap: text, taken */
	put(state, "d/sql/verify.sql", big, 0644);
	{
		struct ns_package pkg = NS_PACKAGE_INIT;
		char *src = at(state, "d");

		assert_int_equal(
			ns_package_read(&pkg, src, &default_limits, NULL), 0);
		assert_true(pkg.has_verify_sql);
		ns_package_release(&pkg);
		free(src);
	}
	free(big);
}

/* ---- ns_tar_* ------------------------------------------------------ */

static void test_tar_round_trip(void **state)
{
	struct ns_tar_writer *w = NULL;
	struct ns_tar_reader *r = NULL;
	char *path = at(state, "rt.tar"), *data;
	char long_name[400], sha[NS_HEX_LEN + 1], buf[3];
	const char *name;
	uint64_t size;
	unsigned mode;
	int regular, fd;
	size_t len;

	put(state, "src.bin", "0123456789", 0644);
	data = at(state, "src.bin");
	fd = open(data, O_RDONLY);
	free(data);
	ns_sha256_buf(sha, "0123456789", 10);
	snprintf(long_name, sizeof(long_name), "payload/files/%0300d/x", 7);
	assert_int_equal(ns_tar_writer_open(&w, path), 0);
	assert_int_equal(ns_tar_add_buffer(w, "TRIGGER.json", "{}\n", 3, 0644),
			 0);
	assert_int_equal(
		ns_tar_add_fd(w, "payload/files/bin", fd, 10, 0755, sha), 0);
	assert_int_equal(ns_tar_add_buffer(w, long_name, "L", 1, 0644), 0);
	assert_int_equal(
		ns_tar_add_buffer(w, "payload/files/\xc3\xbc.txt", "", 0, 0644),
		0);
	close(fd);
	assert_int_equal(ns_tar_writer_commit(w), 0);
	assert_int_equal(tu_count_entries(*state), 2);

	assert_int_equal(ns_tar_open(&r, path), 0);
	assert_int_equal(ns_tar_next(r, &name, &size, &mode, &regular), 1);
	assert_string_equal(name, "TRIGGER.json");
	assert_int_equal(size, 3);
	assert_int_equal(ns_tar_read_all(r, &data, &len, 100), 0);
	assert_string_equal(data, "{}\n");
	free(data);
	assert_int_equal(ns_tar_next(r, &name, &size, &mode, &regular), 1);
	assert_string_equal(name, "payload/files/bin");
	assert_int_equal(mode, 0755);
	assert_true(regular);
	assert_int_equal(ns_tar_read(r, buf, 3), 3);
	assert_memory_equal(buf, "012", 3);
	/* the rest is skipped by the next header */
	assert_int_equal(ns_tar_next(r, &name, &size, &mode, &regular), 1);
	assert_string_equal(name, long_name);
	assert_int_equal(ns_tar_read(r, buf, 3), 1);
	assert_int_equal(ns_tar_read(r, buf, 3), 0);
	assert_int_equal(ns_tar_next(r, &name, &size, &mode, &regular), 1);
	assert_string_equal(name, "payload/files/\xc3\xbc.txt");
	assert_int_equal(size, 0);
	assert_int_equal(ns_tar_next(r, &name, &size, &mode, &regular), 0);
	ns_tar_close(r);
	free(path);
}

/* a trigger-like tar: TRIGGER.json, then the payload copied member by
 * member from the store with its hash checked; the payload hash holds */
static void test_copy_from_reader(void **state)
{
	struct ns_package pkg = NS_PACKAGE_INIT;
	struct ns_tar_reader *r = NULL;
	struct ns_tar_writer *w = NULL;
	struct ns_member m[16];
	char *src = at(state, "pkg"), *store = at(state, "store.tar");
	char *trig = at(state, "t.trigger"), sha[NS_HEX_LEN + 1];
	const char *name;
	uint64_t size;
	unsigned mode;
	int regular;
	size_t nr = 0;

	make_full_dir(state, "pkg");
	assert_int_equal(ns_package_read(&pkg, src, &default_limits, store), 0);
	assert_int_equal(ns_tar_open(&r, store), 0);
	assert_int_equal(ns_tar_writer_open(&w, trig), 0);
	assert_int_equal(ns_tar_add_buffer(w, "TRIGGER.json", "{}", 2, 0644),
			 0);
	while (ns_tar_next(r, &name, &size, &mode, &regular) == 1) {
		char *dest = xprintf("payload/%s", name);
		const struct ns_member *pm = ns_package_member(&pkg, name);

		assert_int_equal(ns_tar_add_from_reader(w, dest, r, size, mode,
							pm->sha256),
				 0);
		free(dest);
	}
	ns_tar_close(r);
	assert_int_equal(ns_tar_writer_commit(w), 0);

	assert_int_equal(ns_tar_open(&r, trig), 0);
	assert_int_equal(ns_tar_next(r, &name, &size, &mode, &regular), 1);
	assert_string_equal(name, "TRIGGER.json");
	while (ns_tar_next(r, &name, &size, &mode, &regular) == 1) {
		const struct ns_member *pm = ns_package_member(&pkg, name + 8);

		assert_non_null(pm);
		m[nr] = *pm;
		nr++;
	}
	ns_tar_close(r);
	ns_package_digest(sha, m, nr);
	assert_string_equal(sha, pkg.payload_sha256);
	ns_package_release(&pkg);
	free(src), free(store), free(trig);
}

static void test_hash_mismatch(void **state)
{
	struct ns_tar_writer *w = NULL;
	struct ns_tar_reader *r = NULL;
	char *path = at(state, "out.tar"), *in = at(state, "in.tar");
	const char *name;
	uint64_t size;
	unsigned mode;
	int regular, fd;
	const char *wrong = BASE_HASH;
	const struct spec s[] = { { "x", 'f', "hello", 0644, NULL } };

	put(state, "src.bin", "hello", 0644);
	name = at(state, "src.bin");
	fd = open(name, O_RDONLY);
	free((char *)name);
	assert_int_equal(ns_tar_writer_open(&w, path), 0);
	assert_int_equal(ns_tar_add_fd(w, "payload/x", fd, 5, 0644, wrong),
			 NS_EINVALID);
	assert_non_null(strstr(ns_error_last(), "payload/x: hash mismatch"));
	close(fd);
	ns_tar_writer_abort(w);
	assert_false(tu_exists(path));
	assert_int_equal(tu_count_entries(*state), 1);

	/* the same from a reader; a commit after it is refused */
	make_tar(in, s, 1, 0);
	assert_int_equal(ns_tar_open(&r, in), 0);
	assert_int_equal(ns_tar_next(r, &name, &size, &mode, &regular), 1);
	assert_int_equal(ns_tar_writer_open(&w, path), 0);
	assert_int_equal(
		ns_tar_add_from_reader(w, "payload/x", r, size, mode, wrong),
		NS_EINVALID);
	assert_non_null(strstr(ns_error_last(), "payload/x: hash mismatch"));
	ns_tar_close(r);
	assert_true(ns_tar_writer_commit(w) < 0);
	assert_false(tu_exists(path));
	assert_int_equal(tu_count_entries(*state), 2);
	free(path), free(in);
}

static void test_short_source(void **state)
{
	struct ns_tar_writer *w = NULL;
	char *path = at(state, "out.tar"), *src;
	int fd;

	put(state, "src.bin", "abc", 0644);
	src = at(state, "src.bin");
	fd = open(src, O_RDONLY);
	assert_int_equal(ns_tar_writer_open(&w, path), 0);
	assert_int_equal(ns_tar_add_fd(w, "x", fd, 10, 0644, NULL),
			 NS_EINVALID);
	assert_non_null(strstr(ns_error_last(), "x: ends after 3 of 10"));
	ns_tar_writer_abort(w);
	close(fd);
	assert_false(tu_exists(path));
	free(path), free(src);
}

static void test_reader_errors(void **state)
{
	struct ns_tar_reader *r = NULL;
	char *path = at(state, "x.tar"), *full = at(state, "full.tar");
	char *data;
	const char *name;
	uint64_t size;
	unsigned mode;
	int regular, rc;
	size_t len;

	assert_int_equal(ns_tar_open(&r, "/nonexistent.tar"), NS_ERROR);
	put(state, "x.tar", "garbage garbage garbage", 0644);
	rc = ns_tar_open(&r, path);
	if (rc == 0) {
		rc = ns_tar_next(r, &name, &size, &mode, &regular);
		ns_tar_close(r);
	}
	assert_int_equal(rc, NS_EINVALID);
	assert_non_null(strstr(ns_error_last(), "not a readable tar"));

	/* a header cut in half */
	make_full_tar(full, "", 0);
	data = tu_slurp(full, &len);
	put_len(state, "x.tar", data, 1024 + 200, 0644);
	free(data);
	assert_int_equal(ns_tar_open(&r, path), 0);
	assert_int_equal(ns_tar_next(r, &name, &size, &mode, &regular), 1);
	assert_int_equal(ns_tar_next(r, &name, &size, &mode, &regular),
			 NS_EINVALID);
	ns_tar_close(r);

	/* a member over the cap of read_all */
	assert_int_equal(ns_tar_open(&r, full), 0);
	assert_int_equal(ns_tar_next(r, &name, &size, &mode, &regular), 1);
	assert_int_equal(ns_tar_read_all(r, &data, &len, 5), NS_EINVALID);
	assert_non_null(strstr(ns_error_last(), "larger than 5 bytes"));
	ns_tar_close(r);
	free(path), free(full);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_dir_and_tar_agree, setup,
						tu_scratch_teardown),
		cmocka_unit_test_setup_teardown(test_check_only, setup,
						tu_scratch_teardown),
		cmocka_unit_test_setup_teardown(test_big_member, setup,
						tu_scratch_teardown),
		cmocka_unit_test_setup_teardown(test_tar_hostile_paths, setup,
						tu_scratch_teardown),
		cmocka_unit_test_setup_teardown(test_tar_hostile_kinds, setup,
						tu_scratch_teardown),
		cmocka_unit_test_setup_teardown(test_tar_hostile_tree, setup,
						tu_scratch_teardown),
		cmocka_unit_test_setup_teardown(test_tar_layout, setup,
						tu_scratch_teardown),
		cmocka_unit_test_setup_teardown(test_tar_manifest, setup,
						tu_scratch_teardown),
		cmocka_unit_test_setup_teardown(test_tar_nul_and_size, setup,
						tu_scratch_teardown),
		cmocka_unit_test_setup_teardown(test_tar_limits, setup,
						tu_scratch_teardown),
		cmocka_unit_test_setup_teardown(test_unreadable_tars, setup,
						tu_scratch_teardown),
		cmocka_unit_test_setup_teardown(test_dir_refusals, setup,
						tu_scratch_teardown),
		cmocka_unit_test_setup_teardown(test_dir_manifest, setup,
						tu_scratch_teardown),
		cmocka_unit_test_setup_teardown(test_dir_sql_text, setup,
						tu_scratch_teardown),
		cmocka_unit_test_setup_teardown(test_tar_round_trip, setup,
						tu_scratch_teardown),
		cmocka_unit_test_setup_teardown(test_copy_from_reader, setup,
						tu_scratch_teardown),
		cmocka_unit_test_setup_teardown(test_hash_mismatch, setup,
						tu_scratch_teardown),
		cmocka_unit_test_setup_teardown(test_short_source, setup,
						tu_scratch_teardown),
		cmocka_unit_test_setup_teardown(test_reader_errors, setup,
						tu_scratch_teardown),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);

	ns_error_clear();
	return r;
}
