#include "fuzz.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *path;

static void remove_file(void)
{
	if (path)
		unlink(path);
	free(path);
}

const char *fuzz_tmp(void)
{
	const char *dir = getenv("TMPDIR");

	return dir && *dir ? dir : "/tmp";
}

const char *fuzz_file(const uint8_t *data, size_t size, const char *suffix)
{
	int fd;

	if (!path) {
		size_t n = strlen(fuzz_tmp()) + strlen(suffix) + 32;

		path = malloc(n);
		if (!path)
			abort();
		snprintf(path, n, "%s/ns-fuzz-%ld%s", fuzz_tmp(),
			 (long)getpid(), suffix);
		atexit(remove_file);
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return NULL;
	for (size_t off = 0; off < size;) {
		ssize_t n = write(fd, data + off, size - off);
		if (n <= 0) {
			close(fd);
			return NULL;
		}
		off += (size_t)n;
	}
	close(fd);
	return path;
}

char *fuzz_str(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}
