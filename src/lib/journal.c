#include "journal.h"
#include "error.h"
#include "fsx.h"
#include "step.h"
#include "strbuf.h"
#include "xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const names[] = {
	"NONE", "PREPARED",	"AUTOCOMMIT",  "COMMITTED", "APPLIED",
	"DONE", "ROLLING_BACK", "ROLLED_BACK", "BLOCKED",
};

const char *ns_journal_state_name(enum ns_jstate s)
{
	return names[s];
}

int ns_journal_final(enum ns_jstate s)
{
	return s == NS_J_DONE || s == NS_J_ROLLED_BACK || s == NS_J_BLOCKED;
}

int ns_journal_begin(const char *path, const char *rundir)
{
	char *line = xprintf("RUNDIR %s\n", rundir);
	int ret = ns_fsx_append(path, line);

	free(line);
	return ret;
}

/* 1 when the file does not end with a newline: a record was torn */
static int torn(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret = 0;
	char c;

	if (fd < 0)
		return 0;
	if (lseek(fd, -1, SEEK_END) >= 0 && read(fd, &c, 1) == 1)
		ret = c != '\n';
	close(fd);
	return ret;
}

int ns_journal_mark(const char *path, enum ns_jstate s, const char *note)
{
	struct strbuf sb = STRBUF_INIT;
	int ret;

	/* the torn half stays a line of its own, which the reader skips */
	if (torn(path))
		strbuf_addch(&sb, '\n');
	strbuf_addstr(&sb, names[s]);
	if (note) {
		strbuf_addch(&sb, ' ');
		for (const char *p = note; *p; p++)
			strbuf_addch(&sb, *p == '\n' ? ' ' : *p);
	}
	strbuf_addch(&sb, '\n');
	ret = ns_fsx_append(path, sb.buf);
	strbuf_release(&sb);
	return ret;
}

static enum ns_jstate parse_state(const char *line, size_t n, const char **note)
{
	for (size_t s = 1; s < sizeof(names) / sizeof(*names); s++) {
		size_t k = strlen(names[s]);
		if (n >= k && !strncmp(line, names[s], k) &&
		    (n == k || line[k] == ' ')) {
			*note = n > k ? line + k + 1 : NULL;
			return (enum ns_jstate)s;
		}
	}
	return NS_J_NONE;
}

int ns_journal_read(struct ns_journal *out, const char *path)
{
	struct strbuf sb = STRBUF_INIT;
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret = NS_ERROR;
	char *p, *nl;

	memset(out, 0, sizeof(*out));
	if (fd < 0 || strbuf_read_fd(&sb, fd) < 0) {
		ns_error_set("cannot read the journal '%s': %s", path,
			     strerror(errno));
		goto done;
	}
	out->path = xstrdup(path);
	/* only whole lines count: a torn last line was never durable */
	for (p = sb.buf; (nl = strchr(p, '\n')); p = nl + 1) {
		const char *note = NULL;
		enum ns_jstate s;

		if (!strncmp(p, "RUNDIR ", 7)) {
			free(out->rundir);
			out->rundir = xstrndup(p + 7, (size_t)(nl - p - 7));
			continue;
		}
		s = parse_state(p, (size_t)(nl - p), &note);
		if (s == NS_J_NONE)
			continue;
		out->from = out->state;
		free(out->from_note);
		out->from_note = out->note;
		out->state = s;
		out->note = note ? xstrndup(note, (size_t)(nl - note)) : NULL;
	}
	ret = 0;
done:
	if (fd >= 0)
		close(fd);
	strbuf_release(&sb);
	return ret;
}

void ns_journal_release(struct ns_journal *j)
{
	free(j->path);
	free(j->rundir);
	free(j->note);
	free(j->from_note);
	memset(j, 0, sizeof(*j));
}

int ns_journal_retire(const char *path, const char *rundir, const char *name)
{
	char *dst = xprintf("%s/%s", rundir, name);
	int ret = 0;

	if (ns_step("rename") < 0 || rename(path, dst) < 0) {
		ns_error_set("cannot retire the journal '%s' into '%s': %s",
			     path, dst, strerror(errno));
		ret = NS_ERROR;
	}
	free(dst);
	return ret;
}

int ns_journal_is_backout(const char *path)
{
	size_t n = strlen(path), k = strlen(NS_JOURNAL_BACKOUT);

	return n > k && !strcmp(path + n - k, NS_JOURNAL_BACKOUT);
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int ns_journal_list(char ***out, size_t *nr, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t alloc = 0;

	*out = NULL;
	*nr = 0;
	if (!d) {
		if (errno == ENOENT)
			return 0;
		ns_error_set("cannot read the journal directory '%s': %s", dir,
			     strerror(errno));
		return NS_ERROR;
	}
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (n < 5 || strcmp(de->d_name + n - 4, ".jnl"))
			continue;
		ALLOC_GROW(*out, *nr, alloc);
		(*out)[(*nr)++] = xprintf("%s/%s", dir, de->d_name);
	}
	closedir(d);
	if (*nr)
		qsort(*out, *nr, sizeof(**out), cmp);
	return 0;
}
