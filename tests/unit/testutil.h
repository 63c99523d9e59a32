/*
 * testutil: the fixture plumbing the cmocka unit tests share.
 *
 * A test that touches the file system works in a scratch directory of its
 * own: its setup makes one with tu_scratch_new() below $NS_TEST_TMP (or
 * /tmp), and its teardown removes it whole with tu_scratch_free(), or is
 * tu_scratch_teardown() when the directory is all the state there is.
 * The other helpers make directories, write small files and read them
 * back, all by plain paths, so that a test can spell what it expects as a
 * string join.
 *
 * The rules:
 * - tu_mkdirs, tu_put*, tu_slurp, tu_count_entries and tu_assert_* fail
 *   the running test (fail_msg) on any surprise, so they belong in a test,
 *   a setup or a teardown.
 * - The others never touch cmocka. The tu_try_* return -1 with errno set
 *   instead, for code that also runs in a child process outside the
 *   runner (migrate's crash loop re-executes the test program).
 * - Every char * returned is the caller's to free.
 */
#ifndef NS_TESTUTIL_H
#define NS_TESTUTIL_H

#include <stddef.h>

/* mkdir -p, each new directory 0755 */
int tu_try_mkdirs(const char *path);
void tu_mkdirs(const char *path);

/*
 * A new empty directory $NS_TEST_TMP/ns-TAG-XXXXXX, named by its real
 * path: the engine makes relative paths absolute and verify commands see
 * the physical directory, so with no symbolic link in the name what a test
 * expects is a plain join. NULL (with the reason on stderr) if it cannot
 * be made, for a setup to return -1; never fails the test itself.
 */
char *tu_scratch_new(const char *tag);

/*
 * Removes dir and everything below it, even when a test left dir itself
 * unwritable, then frees the name. 0, or -1 if something stayed behind.
 * NULL is a no-op.
 */
int tu_scratch_free(char *dir);

/* a cmocka teardown for a test whose *state is its scratch directory:
 * removes it, and forgets the last error message so that it neither leaks
 * into the next test nor is reported as a leak */
int tu_scratch_teardown(void **state);

/* removes path and everything below it, if it exists: 0 or -1 */
int tu_try_rm_rf(const char *path);

/* dir/rel */
char *tu_at(const char *dir, const char *rel);

/*
 * Writes a file whole, making its parent directories first. The mode is
 * set exactly, whatever the umask; an existing file is truncated.
 */
int tu_try_put(const char *path, const void *data, size_t len, unsigned mode);
void tu_put_len(const char *path, const void *data, size_t len, unsigned mode);
void tu_put(const char *path, const char *text, unsigned mode);
/* tu_put() of dir/rel */
void tu_put_at(const char *dir, const char *rel, const char *text,
	       unsigned mode);

/* a whole file, with a NUL after its bytes; its length in *len unless
 * len is NULL */
char *tu_slurp(const char *path, size_t *len);

/* whether path names anything, a dangling symbolic link included */
int tu_exists(const char *path);

/* entries of a directory but . and .. */
int tu_count_entries(const char *dir);

/* the file at path holds exactly text */
void tu_assert_file(const char *path, const char *text);

/* ns_error_last() contains needle */
void tu_assert_error_has(const char *needle);

#endif
