/* bench/iopattern.c — nightshift's file I/O for one migration, and nothing
 * else (no hashing, no trigger, no registry, no journal), in four modes:
 *
 *   0  durable the way nightshift did it until it batched its durability
 *      (commit 8a3e60c and before): fsync every archived file
 *      and the archive directory; fsync every staged file, then every
 *      directory that got one; after the renames and unlinks, fsync every
 *      directory touched (src/lib/fsx.c ns_fsx_write, src/lib/migrate.c
 *      stage/fsync_dirs/apply, src/lib/archive.c ns_archive_take)
 *   1  the same writes, made durable by one syncfs(2) per phase (after the
 *      archive, after the staging, after the renames): the same ordering
 *      guarantees at the three points the journal records
 *   2  as 1, but the archive is a hard link to each old file instead of a
 *      copy (valid when the archive is on the target's filesystem: nightshift
 *      replaces a file by renaming a new one over it, so the old inode is
 *      never written again and the link keeps it); nightshift until the
 *      flusher (ns_fsx_keep, ns_fsx_syncfs)
 *   3  as 2, but while the staging and the renames run, a second thread
 *      calls syncfs(2) every 2 ms, so that the disk writes while the
 *      files are written; each phase still ends in its own syncfs. This is
 *      what nightshift does now (ns_fsx_flusher_start)
 *
 * It tells how much of a migration's time is the fsync pattern, and what a
 * migration with nightshift's guarantees costs at least on this machine.
 * bench/migrate compiles and runs it; it is a measuring tool, not a
 * migration tool (no crash safety of its own, no checks).
 *
 * usage: iopattern MODE ROOT CHANGES ARCHIVE_DIR
 *   CHANGES/touched.list, put.list, delete.list, newdirs.list and
 *   CHANGES/pkg/files/… as bench/migrate writes them; prints
 *   "archive S stage S apply S" in seconds. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int mode;
static char buf[1 << 16];

static void die(const char *what)
{
	fprintf(stderr, "iopattern: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void copy(int sdir, const char *sname, int ddir, const char *dname)
{
	int s = openat(sdir, sname, O_RDONLY | O_CLOEXEC);
	int d = openat(ddir, dname, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		       0600);
	ssize_t n;

	if (s < 0)
		die(sname);
	if (d < 0)
		die(dname);
	while ((n = read(s, buf, sizeof(buf))) > 0)
		if (write(d, buf, (size_t)n) != n)
			die(dname);
	if (n < 0)
		die(sname);
	if (fchmod(d, 0644) < 0 || (mode == 0 && fsync(d) < 0))
		die(dname);
	close(s);
	if (close(d) < 0)
		die(dname);
}

static char **list(const char *dir, const char *name, size_t *nr)
{
	char path[4096], line[4096];
	char **v = NULL;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!(f = fopen(path, "r")))
		die(path);
	*nr = 0;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (!(v = realloc(v, (*nr + 1) * sizeof(*v))) ||
		    !(v[*nr] = strdup(line)))
			die("memory");
		(*nr)++;
	}
	fclose(f);
	return v;
}

/* the directory of PATH below ROOT, opened; *base is the last component */
static int parent(int root, const char *path, const char **base)
{
	const char *slash = strrchr(path, '/');
	char dir[4096];
	int fd;

	*base = slash ? slash + 1 : path;
	if (!slash)
		return dup(root);
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if ((fd = openat(root, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		die(dir);
	return fd;
}

/* 1 when paths i and i+1 of V are in different directories (V sorted) */
static int last_in_dir(char **v, size_t nr, size_t i)
{
	const char *a, *b;

	if (i + 1 >= nr)
		return 1;
	a = strrchr(v[i], '/');
	b = strrchr(v[i + 1], '/');
	if (!a || !b)
		return !a != !b;
	return a - v[i] != b - v[i + 1] || strncmp(v[i], v[i + 1],
						   (size_t)(a - v[i]));
}

static void flush(int fd, const char *what)
{
	if (mode > 0 && syncfs(fd) < 0)
		die(what);
}

/* mode 3: the second thread, syncing through a description of its own */
static pthread_t flusher;
static pthread_mutex_t flock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t fwake = PTHREAD_COND_INITIALIZER;
static int fstop, ffd = -1;

static void *flush_loop(void *arg)
{
	struct timespec at;

	(void)arg;
	pthread_mutex_lock(&flock);
	while (!fstop) {
		pthread_mutex_unlock(&flock);
		syncfs(ffd);
		clock_gettime(CLOCK_REALTIME, &at);
		if ((at.tv_nsec += 2000000) >= 1000000000) {
			at.tv_sec++;
			at.tv_nsec -= 1000000000;
		}
		pthread_mutex_lock(&flock);
		while (!fstop && !pthread_cond_timedwait(&fwake, &flock, &at))
			;
	}
	pthread_mutex_unlock(&flock);
	return NULL;
}

static void flusher_start(int dir)
{
	if (mode != 3)
		return;
	fstop = 0;
	if ((ffd = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    pthread_create(&flusher, NULL, flush_loop, NULL))
		die("flusher");
}

static void flusher_stop(void)
{
	if (mode != 3)
		return;
	pthread_mutex_lock(&flock);
	fstop = 1;
	pthread_cond_signal(&fwake);
	pthread_mutex_unlock(&flock);
	pthread_join(flusher, NULL);
	close(ffd);
}

int main(int argc, char **argv)
{
	size_t nt, np, nd, nn;
	char **touched, **put, **del, **newdirs, path[4096];
	int root, src, adir;
	double t0, t1, t2, t3;

	if (argc != 5) {
		fprintf(stderr, "usage: iopattern MODE ROOT CHANGES ARCHIVE\n");
		return 2;
	}
	mode = atoi(argv[1]);
	touched = list(argv[3], "touched.list", &nt);
	put = list(argv[3], "put.list", &np);
	del = list(argv[3], "delete.list", &nd);
	newdirs = list(argv[3], "newdirs.list", &nn);
	if ((root = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		die(argv[2]);
	snprintf(path, sizeof(path), "%s/pkg/files", argv[3]);
	if ((src = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		die(path);
	if (mkdir(argv[4], 0700) < 0 ||
	    (adir = open(argv[4], O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		die(argv[4]);

	/* archive: a copy of every file to be modified or deleted */
	t0 = now();
	for (size_t i = 0; i < nt; i++) {
		const char *base;
		char name[32];
		int d = parent(root, touched[i], &base);

		snprintf(name, sizeof(name), "%zu", i);
		if (mode >= 2) {
			if (linkat(d, base, adir, name, 0) < 0)
				die(touched[i]);
		} else {
			copy(d, base, adir, name);
		}
		close(d);
	}
	if (mode == 0 && fsync(adir) < 0)
		die(argv[4]);
	flush(adir, argv[4]);

	/* staging: new files as hidden siblings */
	t1 = now();
	flusher_start(root);
	for (size_t i = 0; i < nn; i++)
		if (mkdirat(root, newdirs[i], 0755) < 0 ||
		    (mode == 0 && fsync(root) < 0))
			die(newdirs[i]);
	for (size_t i = 0; i < np; i++) {
		const char *base;
		char name[64];
		int d = parent(root, put[i], &base);

		snprintf(name, sizeof(name), ".iopattern.s%zu", i);
		copy(src, put[i], d, name);
		if (mode == 0 && last_in_dir(put, np, i) && fsync(d) < 0)
			die(put[i]);
		close(d);
	}
	flusher_stop();
	flush(root, argv[2]);

	/* apply: rename into place, unlink the deleted */
	t2 = now();
	flusher_start(root);
	for (size_t i = 0; i < np; i++) {
		const char *base;
		char name[64];
		int d = parent(root, put[i], &base);

		snprintf(name, sizeof(name), ".iopattern.s%zu", i);
		if (renameat(d, name, d, base) < 0)
			die(put[i]);
		if (mode == 0 && last_in_dir(put, np, i) && fsync(d) < 0)
			die(put[i]);
		close(d);
	}
	for (size_t i = 0; i < nd; i++) {
		const char *base;
		int d = parent(root, del[i], &base);

		if (unlinkat(d, base, 0) < 0)
			die(del[i]);
		if (mode == 0 && last_in_dir(del, nd, i) && fsync(d) < 0)
			die(del[i]);
		close(d);
	}
	flusher_stop();
	flush(root, argv[2]);
	t3 = now();
	printf("archive %.4f stage %.4f apply %.4f\n", t1 - t0, t2 - t1,
	       t3 - t2);
	return 0;
}
