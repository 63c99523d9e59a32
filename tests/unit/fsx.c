/* fsx: root-confined lookups, durable writes, locks */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "fsx.h"
#include "hash.h"
#include "testutil.h"
#include "xalloc.h"

/* ---- fixtures ------------------------------------------------------ */

struct fx {
	char *dir;  /* the scratch directory */
	char *root; /* dir/root, the target root */
	struct ns_root r;
};

static int setup(void **state)
{
	struct fx *fx = xcalloc(1, sizeof(*fx));
	struct ns_root init = NS_ROOT_INIT;

	fx->dir = tu_scratch_new("fsx");
	if (!fx->dir)
		return -1;
	fx->root = tu_at(fx->dir, "root");
	tu_mkdirs(fx->root);
	fx->r = init;
	if (ns_fsx_root_open(&fx->r, fx->root) < 0)
		return -1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	int r;

	ns_fsx_root_release(&fx->r);
	r = tu_scratch_free(fx->dir);
	free(fx->root);
	free(fx);
	ns_error_clear();
	return r;
}

/* the scratch directory joined with rel; the caller frees */
static char *at(const struct fx *fx, const char *rel)
{
	return tu_at(fx->dir, rel);
}

static void put(const struct fx *fx, const char *rel, const char *text,
		unsigned mode)
{
	tu_put_at(fx->dir, rel, text, mode);
}

static void mkdirs_at(const struct fx *fx, const char *rel)
{
	char *path = at(fx, rel);

	tu_mkdirs(path);
	free(path);
}

static int exists_at(const struct fx *fx, const char *rel)
{
	char *path = at(fx, rel);
	int r = tu_exists(path);

	free(path);
	return r;
}

static void sha_of(char out[NS_HEX_LEN + 1], const char *text)
{
	ns_sha256_buf(out, text, strlen(text));
}

/* a byte source over a string, handing out at most `chunk` at a time */
struct src {
	const char *p;
	size_t left, chunk;
	int fail_after; /* fail on this call (1-based), 0: never */
	int calls;
};

static ssize_t src_read(void *ctx, void *buf, size_t n)
{
	struct src *s = ctx;

	if (++s->calls == s->fail_after) {
		ns_error_set("source broke");
		return -1;
	}
	if (n > s->left)
		n = s->left;
	if (s->chunk && n > s->chunk)
		n = s->chunk;
	memcpy(buf, s->p, n);
	s->p += n;
	s->left -= n;
	return (ssize_t)n;
}

static struct src src_of(const char *text, size_t chunk)
{
	struct src s = { text, strlen(text), chunk, 0, 0 };
	return s;
}

/* ---- lookups beneath the root -------------------------------------- */

static void test_root_open_missing(void **state)
{
	struct fx *fx = *state;
	struct ns_root r = NS_ROOT_INIT;
	char *p = at(fx, "no-such-root");

	/* the environment's fault (a file system not mounted), not the
	 * enhancement's: an error, not invalid input */
	assert_int_equal(ns_fsx_root_open(&r, p), NS_ERROR);
	tu_assert_error_has(p);
	assert_int_equal(r.fd, -1);
	ns_fsx_root_release(&r); /* safe on one never opened */
	free(p);
}

static void test_parent(void **state)
{
	struct fx *fx = *state;
	const char *base = NULL;
	struct stat st;
	int dfd = -1;

	put(fx, "root/a/b/c.txt", "deep\n", 0644);
	put(fx, "root/top.txt", "top\n", 0644);

	assert_int_equal(ns_fsx_parent(&dfd, &fx->r, "a/b/c.txt", &base), 0);
	assert_string_equal(base, "c.txt");
	assert_int_equal(fstatat(dfd, base, &st, 0), 0);
	assert_int_equal(st.st_size, 5);
	close(dfd);

	/* a name at the top: the root itself (a descriptor of its own) */
	assert_int_equal(ns_fsx_parent(&dfd, &fx->r, "top.txt", &base), 0);
	assert_string_equal(base, "top.txt");
	assert_int_not_equal(dfd, fx->r.fd);
	assert_int_equal(fstatat(dfd, base, &st, 0), 0);
	close(dfd);

	/* the parent need not hold the last component */
	assert_int_equal(ns_fsx_parent(&dfd, &fx->r, "a/b/new.txt", &base), 0);
	assert_string_equal(base, "new.txt");
	close(dfd);

	/* a directory on the way is missing */
	assert_int_equal(ns_fsx_parent(&dfd, &fx->r, "a/nope/x", &base), 1);
	assert_int_equal(ns_fsx_parent(&dfd, &fx->r, "nope/x/y", &base), 1);

	/* a regular file on the way */
	assert_int_equal(ns_fsx_parent(&dfd, &fx->r, "top.txt/x", &base),
			 NS_EINVALID);
	tu_assert_error_has("not a directory");
	tu_assert_error_has("top.txt");
}

static void test_stat_and_hash(void **state)
{
	struct fx *fx = *state;
	char got[NS_HEX_LEN + 1], want[NS_HEX_LEN + 1];
	struct stat st;

	put(fx, "root/a/b/c.txt", "hello, world\n", 0640);
	assert_int_equal(ns_fsx_stat(&st, &fx->r, "a/b/c.txt"), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(st.st_size, 13);
	assert_int_equal(ns_fsx_stat(&st, &fx->r, "a/b"), 0);
	assert_true(S_ISDIR(st.st_mode));

	assert_int_equal(ns_fsx_hash(got, &fx->r, "a/b/c.txt"), 0);
	sha_of(want, "hello, world\n");
	assert_string_equal(got, want);
	assert_string_equal(got, "853ff93762a06ddbf722c4ebe9ddd66d"
				 "8f63ddaea97f521c3ecc20da7c976020");

	/* absent: the file, or a directory on the way */
	assert_int_equal(ns_fsx_stat(&st, &fx->r, "a/b/none"), 1);
	assert_int_equal(ns_fsx_stat(&st, &fx->r, "a/x/none"), 1);
	assert_int_equal(ns_fsx_hash(got, &fx->r, "a/b/none"), 1);
	assert_int_equal(ns_fsx_hash(got, &fx->r, "zz/none"), 1);

	/* an empty file hashes as the empty string does */
	put(fx, "root/empty", "", 0644);
	assert_int_equal(ns_fsx_hash(got, &fx->r, "empty"), 0);
	assert_string_equal(got, "e3b0c44298fc1c149afbf4c8996fb924"
				 "27ae41e4649b934ca495991b7852b855");
}

/* a symbolic link anywhere on the way is refused, wherever it points */
static void test_symlink_component_inside(void **state)
{
	struct fx *fx = *state;
	char *link = at(fx, "root/alias");
	char got[NS_HEX_LEN + 1];
	const char *base;
	struct stat st;
	int dfd;

	put(fx, "root/real/dir/f.txt", "inside\n", 0644);
	assert_int_equal(symlink("real", link), 0);

	assert_int_equal(ns_fsx_stat(&st, &fx->r, "alias/dir/f.txt"),
			 NS_EINVALID);
	tu_assert_error_has("symbolic link");
	tu_assert_error_has("alias");
	ns_error_clear();
	assert_int_equal(ns_fsx_hash(got, &fx->r, "alias/dir/f.txt"),
			 NS_EINVALID);
	tu_assert_error_has("symbolic link");
	ns_error_clear();
	assert_int_equal(ns_fsx_parent(&dfd, &fx->r, "alias/f", &base),
			 NS_EINVALID);
	tu_assert_error_has("symbolic link");
	ns_error_clear();
	/* a link deeper down, pointing back up inside the root */
	free(link);
	link = at(fx, "root/real/up");
	assert_int_equal(symlink("..", link), 0);
	assert_int_equal(ns_fsx_stat(&st, &fx->r, "real/up/real/dir/f.txt"),
			 NS_EINVALID);
	tu_assert_error_has("symbolic link");
	free(link);
}

static void test_symlink_component_outside(void **state)
{
	struct fx *fx = *state;
	char *link = at(fx, "root/escape");
	char *abs = at(fx, "outside");
	char *abslink = at(fx, "root/absolute");
	char got[NS_HEX_LEN + 1];
	struct stat st;

	put(fx, "outside/secret.txt", "secret\n", 0644);
	assert_int_equal(symlink("../outside", link), 0);
	assert_int_equal(symlink(abs, abslink), 0);

	assert_int_equal(ns_fsx_stat(&st, &fx->r, "escape/secret.txt"),
			 NS_EINVALID);
	tu_assert_error_has("symbolic link");
	ns_error_clear();
	assert_int_equal(ns_fsx_hash(got, &fx->r, "escape/secret.txt"),
			 NS_EINVALID);
	tu_assert_error_has("symbolic link");
	ns_error_clear();
	assert_int_equal(ns_fsx_hash(got, &fx->r, "absolute/secret.txt"),
			 NS_EINVALID);
	tu_assert_error_has("symbolic link");
	free(link);
	free(abs);
	free(abslink);
}

/* the last component a symbolic link: refused, not followed */
static void test_symlink_last_component(void **state)
{
	struct fx *fx = *state;
	char *link = at(fx, "root/lnk.txt");
	char *dangling = at(fx, "root/dangling");
	char got[NS_HEX_LEN + 1];
	struct stat st;

	put(fx, "root/target.txt", "t\n", 0644);
	put(fx, "outside.txt", "o\n", 0644);
	assert_int_equal(symlink("target.txt", link), 0);
	assert_int_equal(symlink("../outside.txt", dangling), 0);

	assert_int_equal(ns_fsx_stat(&st, &fx->r, "lnk.txt"), NS_EINVALID);
	tu_assert_error_has("symbolic link");
	ns_error_clear();
	assert_int_equal(ns_fsx_hash(got, &fx->r, "lnk.txt"), NS_EINVALID);
	tu_assert_error_has("symbolic link");
	ns_error_clear();
	assert_int_equal(ns_fsx_hash(got, &fx->r, "dangling"), NS_EINVALID);
	tu_assert_error_has("symbolic link");
	free(link);
	free(dangling);
}

/*
 * ".." must not lead out of the root either: openat2(RESOLVE_BENEATH)
 * refuses it, and the component-by-component fallback must too.
 */
static void test_dotdot_stays_beneath(void **state)
{
	struct fx *fx = *state;
	char got[NS_HEX_LEN + 1];
	const char *base;
	struct stat st;
	int dfd = -1, r;

	put(fx, "outside.txt", "outside the root\n", 0644);
	put(fx, "root/a/in.txt", "in\n", 0644);

	r = ns_fsx_stat(&st, &fx->r, "../outside.txt");
	assert_int_not_equal(r, 0);
	assert_true(r < 0);
	r = ns_fsx_hash(got, &fx->r, "a/../../outside.txt");
	assert_int_not_equal(r, 0);
	assert_true(r < 0);
	r = ns_fsx_parent(&dfd, &fx->r, "../x", &base);
	if (r == 0)
		close(dfd);
	assert_true(r < 0);
}

/* a FIFO where a file should be must not hang the hash (the daemon runs
 * unattended) */
static void test_hash_fifo_does_not_hang(void **state)
{
	struct fx *fx = *state;
	char *fifo = at(fx, "root/pipe");
	pid_t pid;
	int status;

	assert_int_equal(mkfifo(fifo, 0644), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char got[NS_HEX_LEN + 1];
		alarm(5);
		_exit(ns_fsx_hash(got, &fx->r, "pipe") < 0 ? 0 : 1);
	}
	free(fifo);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		fail_msg("ns_fsx_hash on a FIFO blocked (killed by signal %d)",
			 WTERMSIG(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- writing ------------------------------------------------------- */

static void test_write_expected_hash(void **state)
{
	struct fx *fx = *state;
	const char *text = "#!/bin/sh\necho new content\n";
	char want[NS_HEX_LEN + 1];
	char *path = at(fx, "root/a/run.sh");
	struct src s = src_of(text, 5);
	const char *base;
	struct stat st;
	mode_t old = umask(077); /* the mode is set exactly, whatever umask */
	int dfd;

	mkdirs_at(fx, "root/a");
	sha_of(want, text);
	assert_int_equal(ns_fsx_parent(&dfd, &fx->r, "a/run.sh", &base), 0);
	assert_int_equal(ns_fsx_write(dfd, base, 0755, src_read, &s, want, NULL,
				      0, "a/run.sh"),
			 0);
	assert_true(s.calls > 2); /* it took several reads */
	tu_assert_file(path, text);
	assert_int_equal(lstat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);

	/* no expectation: written as given, mode exact, old bytes gone */
	s = src_of("x", 0);
	assert_int_equal(ns_fsx_write(dfd, base, 0640, src_read, &s, NULL, NULL,
				      0, "a/run.sh"),
			 0);
	tu_assert_file(path, "x");
	assert_int_equal(lstat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	close(dfd);
	umask(old);
	free(path);
}

static void test_write_mismatch_removes(void **state)
{
	struct fx *fx = *state;
	char wrong[NS_HEX_LEN + 1];
	struct src s = src_of("the bytes that arrived\n", 0);
	char *path = at(fx, "root/staged");

	sha_of(wrong, "the bytes that were promised\n");
	assert_int_equal(ns_fsx_write(fx->r.fd, "staged", 0644, src_read, &s,
				      wrong, NULL, 0, "root/staged"),
			 NS_EINVALID);
	tu_assert_error_has("root/staged");
	tu_assert_error_has("hash mismatch");
	assert_false(tu_exists(path));
	assert_int_equal(tu_count_entries(fx->root), 0);
	free(path);
}

static void test_write_source_failure(void **state)
{
	struct fx *fx = *state;
	struct src s = src_of("abcdefghij", 2);

	s.fail_after = 3;
	assert_true(ns_fsx_write(fx->r.fd, "partial", 0644, src_read, &s, NULL,
				 NULL, 0, "partial") < 0);
	tu_assert_error_has("source broke"); /* the source's message, kept */
	assert_int_equal(tu_count_entries(fx->root), 0);
}

/* writing never follows a symbolic link at the name */
static void test_write_refuses_symlink_name(void **state)
{
	struct fx *fx = *state;
	char *victim = at(fx, "victim.txt");
	char *link = at(fx, "root/name");
	struct src s = src_of("evil", 0);

	put(fx, "victim.txt", "precious\n", 0644);
	assert_int_equal(symlink(victim, link), 0);
	assert_true(ns_fsx_write(fx->r.fd, "name", 0644, src_read, &s, NULL,
				 NULL, 0, "name") < 0);
	tu_assert_file(victim, "precious\n");
	free(victim);
	free(link);
}

/* keep: a hard link on one filesystem, with the content's hash; the kept
 * bytes survive a new file renamed over the original, as migrate does */
static void test_keep_links_and_hashes(void **state)
{
	struct fx *fx = *state;
	char got[NS_HEX_LEN + 1], want[NS_HEX_LEN + 1];
	struct stat a, b;
	char *kept = at(fx, "root/kept");

	put(fx, "root/orig", "old bytes\n", 0640);
	ns_sha256_buf(want, "old bytes\n", 10);
	assert_int_equal(ns_fsx_keep(fx->r.fd, "kept", fx->r.fd, "orig", 0640,
				     got, NULL, "orig", NULL),
			 0);
	assert_string_equal(got, want);
	assert_int_equal(fstatat(fx->r.fd, "orig", &a, 0), 0);
	assert_int_equal(fstatat(fx->r.fd, "kept", &b, 0), 0);
	assert_int_equal(a.st_ino, b.st_ino); /* linked, not copied */
	put(fx, "root/new", "new bytes\n", 0644);
	assert_int_equal(renameat(fx->r.fd, "new", fx->r.fd, "orig"), 0);
	tu_assert_file(kept, "old bytes\n");
	assert_int_equal(ns_fsx_syncfs(fx->r.fd, "root"), 0);
	free(kept);
}

/* keep reuses the drift check's hash (ns_fsx_hash_seen) only for the very
 * inode it hashed, unchanged since: a file written in place, one written
 * in place with its modification time put back, one replaced by another
 * file of the same size, and one changed too recently to tell are read
 * again, and their hash is their new content's */
static void test_keep_reuses_seen_hash(void **state)
{
	static const char *const names[] = { "same", "inplace", "forged",
					     "replaced" };
	struct fx *fx = *state;
	struct ns_fsx_seen seen[4], fresh;
	char got[NS_HEX_LEN + 1], want[NS_HEX_LEN + 1], kept[16];
	struct timespec times[2];
	struct stat st;
	int fd;

	for (int i = 0; i < 4; i++) {
		char *rel = xprintf("root/%s", names[i]);
		put(fx, rel, "old bytes\n", 0644);
		free(rel);
	}
	/* the drift check of a file changed in the last second cannot be
	 * told from a change right after it: make these older than that */
	usleep(1100 * 1000);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(
			ns_fsx_hash_seen(got, &seen[i], &fx->r, names[i]), 0);
		assert_true(seen[i].valid);
	}
	ns_sha256_buf(want, "old bytes\n", 10);
	assert_string_equal(seen[0].sha256, want);

	/* changed between the drift check and the archive */
	fd = openat(fx->r.fd, "inplace", O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "NEW", 3, 0), 3);
	close(fd);
	assert_int_equal(fstatat(fx->r.fd, "forged", &st, 0), 0);
	fd = openat(fx->r.fd, "forged", O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "NEW", 3, 0), 3);
	times[0] = st.st_atim;
	times[1] = st.st_mtim;
	assert_int_equal(futimens(fd, times), 0);
	close(fd);
	put(fx, "root/other", "NEW bytes\n", 0644);
	assert_int_equal(renameat(fx->r.fd, "other", fx->r.fd, "replaced"), 0);

	for (int i = 0; i < 4; i++) {
		snprintf(kept, sizeof(kept), "kept%d", i);
		assert_int_equal(ns_fsx_keep(fx->r.fd, kept, fx->r.fd, names[i],
					     0644, got, &seen[i], names[i],
					     NULL),
				 0);
		ns_sha256_buf(want, i ? "NEW bytes\n" : "old bytes\n", 10);
		assert_string_equal(got, want);
		assert_int_equal(seen[i].used, i == 0);
	}

	/* just written: never reused, still right */
	put(fx, "root/fresh", "fresh\n", 0644);
	assert_int_equal(ns_fsx_hash_seen(got, &fresh, &fx->r, "fresh"), 0);
	assert_false(fresh.valid);
	assert_int_equal(ns_fsx_keep(fx->r.fd, "kept-fresh", fx->r.fd, "fresh",
				     0644, got, &fresh, "fresh", NULL),
			 0);
	assert_false(fresh.used);
	ns_sha256_buf(want, "fresh\n", 6);
	assert_string_equal(got, want);
}

/* a file with a second name (a release tree made with cp -al) is copied:
 * a write through the other name must not reach the kept bytes */
static void test_keep_copies_shared_inode(void **state)
{
	struct fx *fx = *state;
	char got[NS_HEX_LEN + 1];
	struct stat a, b;
	char *kept = at(fx, "root/kept"), *other = at(fx, "root/other");
	FILE *f;

	put(fx, "root/orig", "old bytes\n", 0640);
	assert_int_equal(linkat(fx->r.fd, "orig", fx->r.fd, "other", 0), 0);
	assert_int_equal(ns_fsx_keep(fx->r.fd, "kept", fx->r.fd, "orig", 0640,
				     got, NULL, "orig", NULL),
			 0);
	assert_int_equal(fstatat(fx->r.fd, "orig", &a, 0), 0);
	assert_int_equal(fstatat(fx->r.fd, "kept", &b, 0), 0);
	assert_int_not_equal(a.st_ino, b.st_ino);
	assert_int_equal(b.st_mode & 07777, 0640);
	f = fopen(other, "w");
	assert_non_null(f);
	fputs("written in place\n", f);
	fclose(f);
	tu_assert_file(kept, "old bytes\n");
	free(kept);
	free(other);
}

static void test_copy(void **state)
{
	struct fx *fx = *state;
	char *dst = at(fx, "root/copy.bin");
	struct stat st;

	put(fx, "root/orig.bin", "original bytes\n", 0600);
	assert_int_equal(ns_fsx_copy(fx->r.fd, "copy.bin", fx->r.fd, "orig.bin",
				     0751, NULL, NULL, 0, "copy.bin", NULL),
			 0);
	tu_assert_file(dst, "original bytes\n");
	assert_int_equal(lstat(dst, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0751);
	assert_int_equal(ns_fsx_copy(fx->r.fd, "c2", fx->r.fd, "absent", 0644,
				     NULL, NULL, 0, "c2", "absent"),
			 NS_ERROR);
	/* the message names the file copied, not the copy */
	tu_assert_error_has("cannot open 'absent' to copy it");
	free(dst);
}

static void test_rename_unlink(void **state)
{
	struct fx *fx = *state;
	char *from = at(fx, "root/.stage"), *to = at(fx, "root/final");

	put(fx, "root/.stage", "new\n", 0644);
	put(fx, "root/final", "old\n", 0644);
	assert_int_equal(ns_fsx_rename(fx->r.fd, ".stage", "final", "final"),
			 0);
	assert_false(tu_exists(from));
	tu_assert_file(to, "new\n");
	assert_int_equal(ns_fsx_rename(fx->r.fd, ".stage", "final", "final"),
			 NS_ERROR);
	tu_assert_error_has("final");
	tu_assert_file(to, "new\n");
	/* the apply's rename: the staged file already gone is 1, not an
	 * error, and the file in place stays */
	put(fx, "root/.stage", "newer\n", 0644);
	assert_int_equal(
		ns_fsx_rename_present(fx->r.fd, ".stage", "final", "final"), 0);
	tu_assert_file(to, "newer\n");
	assert_int_equal(
		ns_fsx_rename_present(fx->r.fd, ".stage", "final", "final"), 1);
	tu_assert_file(to, "newer\n");

	assert_int_equal(ns_fsx_unlink(fx->r.fd, "final", "final"), 0);
	assert_false(tu_exists(to));
	/* an absent file is not an error */
	assert_int_equal(ns_fsx_unlink(fx->r.fd, "final", "final"), 0);
	assert_int_equal(ns_fsx_fsync_dir(fx->r.fd, "root"), 0);
	free(from);
	free(to);
}

/* a copy and a directory put back get the owner asked for; setuid
 * survives the change of owner. Where the process may not give it (not
 * root: it asks for root's), the copy fails, names the file and the
 * owner, and leaves nothing behind. */
static void test_owner(void **state)
{
	struct fx *fx = *state;
	struct ns_owner other = { 1, 65534, 65534 };
	char *copy = at(fx, "root/copy.bin"), *d = at(fx, "root/d");
	struct stat st;

	put(fx, "root/orig.bin", "original bytes\n", 0600);
	if (geteuid() != 0) {
		other = (struct ns_owner){ 1, 0, 0 };
		assert_int_equal(ns_fsx_copy(fx->r.fd, "copy.bin", fx->r.fd,
					     "orig.bin", 04755, &other, NULL, 0,
					     "copy.bin", NULL),
				 NS_ERROR);
		tu_assert_error_has("cannot give 'copy.bin' its owner (uid 0, "
				    "gid 0");
		assert_int_equal(lstat(copy, &st), -1);
		assert_int_equal(ns_fsx_mkdir_mode(&fx->r, "d", 0750, &other),
				 NS_ERROR);
		tu_assert_error_has("its owner (uid 0, gid 0");
		goto out;
	}
	assert_int_equal(ns_fsx_copy(fx->r.fd, "copy.bin", fx->r.fd, "orig.bin",
				     04755, &other, NULL, 0, "copy.bin", NULL),
			 0);
	assert_int_equal(lstat(copy, &st), 0);
	assert_int_equal(st.st_uid, 65534);
	assert_int_equal(st.st_gid, 65534);
	assert_int_equal(st.st_mode & 07777, 04755);
	tu_assert_file(copy, "original bytes\n");
	/* in a set-group-ID directory a new file takes the directory's
	 * group: the owner asked for (root's group here) is given all the
	 * same */
	mkdirs_at(fx, "root/sg");
	assert_int_equal(chown(fx->root, 0, 0), 0);
	{
		char *sg = at(fx, "root/sg"), *f = at(fx, "root/sg/f");
		struct ns_owner root = { 1, 0, 0 };
		int dfd;

		assert_int_equal(chown(sg, 0, 65534), 0);
		assert_int_equal(chmod(sg, 02775), 0);
		dfd = open(sg, O_RDONLY | O_DIRECTORY);
		assert_true(dfd >= 0);
		assert_int_equal(ns_fsx_copy(dfd, "f", fx->r.fd, "orig.bin",
					     0644, &root, NULL, 0, "sg/f",
					     NULL),
				 0);
		close(dfd);
		assert_int_equal(lstat(f, &st), 0);
		assert_int_equal(st.st_gid, 0);
		free(sg);
		free(f);
	}
	/* a directory made, and one already there (a restore repeated) */
	assert_int_equal(ns_fsx_mkdir_mode(&fx->r, "d", 0750, &other), 0);
	assert_int_equal(lstat(d, &st), 0);
	assert_int_equal(st.st_uid, 65534);
	assert_int_equal(st.st_mode & 07777, 0750);
	assert_int_equal(chown(d, 0, 0), 0);
	assert_int_equal(ns_fsx_mkdir_mode(&fx->r, "d", 0750, &other), 0);
	assert_int_equal(lstat(d, &st), 0);
	assert_int_equal(st.st_uid, 65534);
	assert_int_equal(st.st_gid, 65534);
out:
	free(copy);
	free(d);
}

static void test_mkdir_rmdir(void **state)
{
	struct fx *fx = *state;
	char *d = at(fx, "root/d"), *e = at(fx, "root/d/e");
	struct stat st;

	assert_int_equal(ns_fsx_mkdir(&fx->r, "d"), 0);
	assert_int_equal(ns_fsx_mkdir(&fx->r, "d/e"), 0);
	assert_int_equal(lstat(e, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	/* again: already there is fine (recovery repeats steps) */
	assert_int_equal(ns_fsx_mkdir(&fx->r, "d/e"), 0);

	/* rmdir leaves a directory that is not empty */
	put(fx, "root/d/e/f", "f\n", 0644);
	assert_int_equal(ns_fsx_rmdir(&fx->r, "d/e"), 0);
	assert_true(tu_exists(e));
	assert_int_equal(ns_fsx_unlink(fx->r.fd, "d/e/f", "f"), 0);
	assert_false(exists_at(fx, "root/d/e/f"));
	assert_int_equal(ns_fsx_rmdir(&fx->r, "d/e"), 0);
	assert_false(tu_exists(e));
	assert_int_equal(ns_fsx_rmdir(&fx->r, "d"), 0);
	assert_false(tu_exists(d));
	/* absent, or its parent absent: nothing to do */
	assert_int_equal(ns_fsx_rmdir(&fx->r, "d"), 0);
	assert_int_equal(ns_fsx_rmdir(&fx->r, "d/e"), 0);
	/* a file is not removed by rmdir */
	put(fx, "root/file", "x", 0644);
	assert_int_equal(ns_fsx_rmdir(&fx->r, "file"), 0);
	assert_true(exists_at(fx, "root/file"));
	free(d);
	free(e);
}

static int count_or_stop(void *ctx, const char *name)
{
	int *n = ctx;

	(*n)++;
	return !strcmp(name, "stop") ? 7 : 0;
}

/* a directory a migration deletes: its entries listed, removed only when
 * empty, put back with exactly its mode whatever the umask */
static void test_directory_deleted_and_back(void **state)
{
	struct fx *fx = *state;
	char *d = at(fx, "root/d");
	mode_t old = umask(0077);
	struct stat st;
	int n = 0;

	assert_int_equal(ns_fsx_mkdir_mode(&fx->r, "d", 0750, NULL), 0);
	umask(old);
	assert_int_equal(lstat(d, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0750);
	/* again, with another mode: the mode is set (a restore repeated) */
	assert_int_equal(ns_fsx_mkdir_mode(&fx->r, "d", 0705, NULL), 0);
	assert_int_equal(lstat(d, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0705);

	put(fx, "root/d/a", "a\n", 0644);
	put(fx, "root/d/stop", "s\n", 0644);
	assert_int_equal(ns_fsx_each_entry(&fx->r, "d", count_or_stop, &n), 7);
	assert_true(n >= 1 && n <= 2);
	assert_true(ns_fsx_each_entry(&fx->r, "nosuch", count_or_stop, &n) < 0);

	/* not empty: refused, saying so, nothing removed */
	assert_int_equal(ns_fsx_rmdir_empty(&fx->r, "d"), NS_ERROR);
	tu_assert_error_has("something was put in it during the run");
	assert_true(tu_exists(d));
	assert_int_equal(ns_fsx_unlink(fx->r.fd, "d/a", "a"), 0);
	assert_int_equal(ns_fsx_unlink(fx->r.fd, "d/stop", "stop"), 0);
	n = 0;
	assert_int_equal(ns_fsx_each_entry(&fx->r, "d", count_or_stop, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(ns_fsx_rmdir_empty(&fx->r, "d"), 0);
	assert_false(tu_exists(d));
	/* gone already: done (recovery repeats the apply) */
	assert_int_equal(ns_fsx_rmdir_empty(&fx->r, "d"), 0);
	free(d);
}

/* mkdir below a missing directory fails and says why */
static void test_mkdir_missing_parent_message(void **state)
{
	struct fx *fx = *state;

	ns_error_set("stale message from before");
	assert_true(ns_fsx_mkdir(&fx->r, "no/such/dir") < 0);
	assert_false(strstr(ns_error_last(), "stale message"));
	tu_assert_error_has("no/such");
}

/* mkdir where a regular file is: the directory is not there afterwards, so
 * it must not report success */
static void test_mkdir_over_file(void **state)
{
	struct fx *fx = *state;

	put(fx, "root/plain", "I am a file\n", 0644);
	assert_true(ns_fsx_mkdir(&fx->r, "plain") < 0);
	tu_assert_error_has("plain");
}

/* ---- nightshift's own files ---------------------------------------- */

static void test_write_file(void **state)
{
	struct fx *fx = *state;
	char *path = at(fx, "own/state.json");
	char *dir = at(fx, "own");
	char *missing = at(fx, "nodir/x");
	char *blocker = at(fx, "own/busy");
	struct stat st;

	tu_mkdirs(dir);
	assert_int_equal(ns_fsx_write_file(path, "{\"a\":1}\n", 8), 0);
	tu_assert_file(path, "{\"a\":1}\n");
	assert_int_equal(lstat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	/* replaced whole; the temporary sibling is gone */
	assert_int_equal(ns_fsx_write_file(path, "b", 1), 0);
	tu_assert_file(path, "b");
	assert_int_equal(tu_count_entries(dir), 1);
	/* binary data with NUL bytes, length as given */
	assert_int_equal(ns_fsx_write_file(path, "x\0y", 3), 0);
	assert_int_equal(lstat(path, &st), 0);
	assert_int_equal(st.st_size, 3);

	/* cannot create: a failure with the path named */
	assert_int_equal(ns_fsx_write_file(missing, "z", 1), NS_ERROR);
	tu_assert_error_has(missing);

	/* cannot rename into place (a non-empty directory is there): the
	 * temporary is removed, the directory untouched */
	put(fx, "own/busy/inner", "i", 0644);
	assert_int_equal(ns_fsx_write_file(blocker, "z", 1), NS_ERROR);
	tu_assert_error_has(blocker);
	assert_int_equal(tu_count_entries(dir), 2);
	assert_int_equal(lstat(blocker, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	free(path);
	free(dir);
	free(missing);
	free(blocker);
}

static void test_append(void **state)
{
	struct fx *fx = *state;
	char *path = at(fx, "j/run.jnl");
	char *missing = at(fx, "nodir/run.jnl");

	mkdirs_at(fx, "j");
	assert_int_equal(ns_fsx_append(path, "RUNDIR /x\n"), 0);
	assert_int_equal(ns_fsx_append(path, "PREPARED\n"), 0);
	assert_int_equal(ns_fsx_append(path, "DONE note\n"), 0);
	tu_assert_file(path, "RUNDIR /x\nPREPARED\nDONE note\n");

	assert_int_equal(ns_fsx_append(missing, "x\n"), NS_ERROR);
	tu_assert_error_has(missing);
	/* a full disk is a failure, not silence */
	assert_int_equal(ns_fsx_append("/dev/full", "x\n"), NS_ERROR);
	tu_assert_error_has("No space left");
	free(path);
	free(missing);
}

static void test_mkdir_p_and_remove_tree(void **state)
{
	struct fx *fx = *state;
	char *deep = at(fx, "own/a/b/c");
	char *top = at(fx, "own");
	char *under_file = at(fx, "own/file/x");
	struct stat st;

	assert_int_equal(ns_fsx_mkdir_p(deep, 0750), 0);
	assert_int_equal(lstat(deep, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(ns_fsx_mkdir_p(deep, 0750), 0); /* idempotent */
	put(fx, "own/a/b/c/f1", "1", 0644);
	put(fx, "own/a/f2", "2", 0600);
	put(fx, "own/file", "3", 0644);
	assert_int_equal(ns_fsx_mkdir_p(under_file, 0755), NS_ERROR);
	tu_assert_error_has("own/file");

	assert_int_equal(ns_fsx_remove_tree(top), 0);
	assert_false(tu_exists(top));
	assert_int_equal(ns_fsx_remove_tree(top), 0); /* absent: fine */
	free(deep);
	free(top);
	free(under_file);
}

/* flock locks belong to the open file description: a second open of the
 * same lock file in the same process is refused too */
static void test_lock(void **state)
{
	struct fx *fx = *state;
	char *path = at(fx, "billing-model.lock");
	int a = -1, b = -1;

	assert_int_equal(ns_fsx_lock(&a, path, "billing/model"), 0);
	assert_true(a >= 0);
	assert_int_equal(ns_fsx_lock(&b, path, "billing/model"), NS_ELOCKED);
	assert_int_equal(b, -1);
	tu_assert_error_has("billing/model");
	tu_assert_error_has("locked");
	tu_assert_error_has(path);

	/* released by closing; the lock file stays */
	assert_int_equal(close(a), 0);
	assert_true(tu_exists(path));
	assert_int_equal(ns_fsx_lock(&b, path, "billing/model"), 0);
	assert_int_equal(close(b), 0);
	assert_true(tu_exists(path));

	/* a lock that cannot be opened is an error, not "locked" */
	free(path);
	path = at(fx, "no/dir.lock");
	assert_int_equal(ns_fsx_lock(&a, path, "x"), NS_ERROR);
	tu_assert_error_has(path);
	free(path);
}

/* the descriptors this process has open */
static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* a flusher syncs through its own description of the directory while the
 * phase writes, and leaves every file and descriptor as it found them */
static void test_flusher(void **state)
{
	struct fx *fx = *state;
	char want[NS_HEX_LEN + 1], got[NS_HEX_LEN + 1];
	int before = open_fds(), fd;
	struct ns_fsx_flusher *fl = ns_fsx_flusher_start(fx->r.fd);
	struct timespec pause = { 0, 5000000 };

	assert_non_null(fl);
	assert_int_equal(open_fds(), before + 1);
	for (int i = 0; i < 20; i++) {
		char name[16];
		struct src s = src_of("flushed while written\n", 4);

		snprintf(name, sizeof(name), "f%d", i);
		assert_int_equal(ns_fsx_write(fx->r.fd, name, 0644, src_read,
					      &s, NULL, NULL, NS_FSX_NOSYNC,
					      name),
				 0);
		nanosleep(&pause, NULL);
	}
	ns_fsx_flusher_stop(fl);
	assert_int_equal(open_fds(), before);
	/* the caller's root is still open, and its own flush reports */
	assert_int_equal(ns_fsx_syncfs(fx->r.fd, fx->root), 0);
	sha_of(want, "flushed while written\n");
	assert_int_equal(ns_fsx_hash(got, &fx->r, "f19"), 0);
	assert_string_equal(got, want);

	/* not a directory: no flusher, nothing left open */
	put(fx, "root/plain", "x", 0644);
	fd = openat(fx->r.fd, "plain", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	before = open_fds();
	assert_null(ns_fsx_flusher_start(fd));
	assert_int_equal(open_fds(), before);
	close(fd);
	ns_fsx_flusher_stop(NULL);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_root_open_missing),
		T(test_parent),
		T(test_stat_and_hash),
		T(test_symlink_component_inside),
		T(test_symlink_component_outside),
		T(test_symlink_last_component),
		T(test_dotdot_stays_beneath),
		T(test_hash_fifo_does_not_hang),
		T(test_write_expected_hash),
		T(test_write_mismatch_removes),
		T(test_write_source_failure),
		T(test_write_refuses_symlink_name),
		T(test_keep_links_and_hashes),
		T(test_keep_reuses_seen_hash),
		T(test_keep_copies_shared_inode),
		T(test_copy),
		T(test_owner),
		T(test_rename_unlink),
		T(test_mkdir_rmdir),
		T(test_directory_deleted_and_back),
		T(test_mkdir_missing_parent_message),
		T(test_mkdir_over_file),
		T(test_write_file),
		T(test_append),
		T(test_mkdir_p_and_remove_tree),
		T(test_lock),
		T(test_flusher),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
