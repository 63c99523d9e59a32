/* testutil: scratch directories and small files for the unit tests */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "testutil.h"
#include "xalloc.h"

int tu_try_mkdirs(const char *path)
{
	char *copy = xstrdup(path);
	int error = 0;

	/* each prefix ending before a slash, then the whole path */
	for (char *p = *copy ? copy + 1 : copy;; p++) {
		char c = *p;

		if (c && c != '/')
			continue;
		*p = '\0';
		if (*copy && mkdir(copy, 0755) < 0 && errno != EEXIST)
			error = -1;
		*p = c;
		if (error || !c)
			break;
	}
	free(copy);
	return error;
}

void tu_mkdirs(const char *path)
{
	if (tu_try_mkdirs(path) < 0)
		fail_msg("mkdir -p %s: %s", path, strerror(errno));
}

char *tu_scratch_new(const char *tag)
{
	const char *base = getenv("NS_TEST_TMP");
	char *dir, *real = NULL;

	if (!base || !*base)
		base = "/tmp";
	dir = xprintf("%s/ns-%s-XXXXXX", base, tag);
	if (tu_try_mkdirs(base) < 0 || !mkdtemp(dir)) {
		fprintf(stderr, "cannot make %s: %s\n", dir, strerror(errno));
	} else if (!(real = realpath(dir, NULL))) {
		fprintf(stderr, "cannot resolve %s: %s\n", dir,
			strerror(errno));
		rmdir(dir);
	}
	free(dir);
	return real;
}

static int rm_one(const char *path, const struct stat *sb, int flag,
		  struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

int tu_try_rm_rf(const char *path)
{
	if (!tu_exists(path))
		return 0;
	return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int tu_scratch_free(char *dir)
{
	int r;

	if (!dir)
		return 0;
	/* a test of refused writes may have taken the write bit away */
	chmod(dir, 0700);
	r = tu_try_rm_rf(dir);
	free(dir);
	return r;
}

int tu_scratch_teardown(void **state)
{
	int r = tu_scratch_free(*state);

	*state = NULL;
	ns_error_clear();
	return r;
}

char *tu_at(const char *dir, const char *rel)
{
	return xprintf("%s/%s", dir, rel);
}

int tu_try_put(const char *path, const void *data, size_t len, unsigned mode)
{
	char *parent = xstrdup(path);
	char *slash = strrchr(parent, '/');
	int fd = -1, error = -1, saved;
	ssize_t n;

	if (slash && slash != parent) {
		*slash = '\0';
		if (tu_try_mkdirs(parent) < 0)
			goto done;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		goto done;
	n = write(fd, data, len);
	if (n != (ssize_t)len) {
		if (n >= 0)
			errno = EIO;
		goto done;
	}
	if (close(fd) < 0) {
		fd = -1;
		goto done;
	}
	fd = -1;
	if (chmod(path, mode) < 0)
		goto done;
	error = 0;
done:
	saved = errno;
	if (fd >= 0)
		close(fd);
	free(parent);
	errno = saved;
	return error;
}

void tu_put_len(const char *path, const void *data, size_t len, unsigned mode)
{
	if (tu_try_put(path, data, len, mode) < 0)
		fail_msg("cannot write %s: %s", path, strerror(errno));
}

void tu_put(const char *path, const char *text, unsigned mode)
{
	tu_put_len(path, text, strlen(text), mode);
}

void tu_put_at(const char *dir, const char *rel, const char *text,
	       unsigned mode)
{
	char *path = tu_at(dir, rel);

	tu_put(path, text, mode);
	free(path);
}

char *tu_slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;

	if (!fp)
		fail_msg("cannot open %s: %s", path, strerror(errno));
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	assert_true(n >= 0);
	buf = xmalloc((size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	buf[n] = '\0';
	fclose(fp);
	if (len)
		*len = (size_t)n;
	return buf;
}

int tu_exists(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0;
}

int tu_count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return n;
}

void tu_assert_file(const char *path, const char *text)
{
	char *got = tu_slurp(path, NULL);

	assert_string_equal(got, text);
	free(got);
}

void tu_assert_error_has(const char *needle)
{
	const char *msg = ns_error_last();

	if (!strstr(msg, needle))
		fail_msg("error message '%s' does not contain '%s'", msg,
			 needle);
}
