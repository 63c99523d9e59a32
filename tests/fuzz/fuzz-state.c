/* what a run leaves for recovery and rollback, as a disk may return it:
 * a journal (first byte even) or an archive's plan.json (odd) */
#include "archive.h"
#include "fuzz.h"
#include "journal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *dir;

static void remove_dir(void)
{
	char *p = malloc(strlen(dir) + 16);

	if (p) {
		sprintf(p, "%s/plan.json", dir);
		unlink(p);
		free(p);
	}
	rmdir(dir);
	free(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FILE *f;
	char *path;

	if (size < 1)
		return 0;
	if (!(data[0] & 1)) {
		struct ns_journal j = NS_JOURNAL_INIT;
		const char *p = fuzz_file(data + 1, size - 1, ".jnl");
		if (p && ns_journal_read(&j, p) == 0)
			ns_journal_release(&j);
		return 0;
	}
	if (!dir) {
		dir = malloc(strlen(fuzz_tmp()) + 32);
		if (!dir)
			abort();
		sprintf(dir, "%s/ns-fuzz-XXXXXX", fuzz_tmp());
		if (!mkdtemp(dir))
			abort();
		atexit(remove_dir);
	}
	path = malloc(strlen(dir) + 16);
	if (!path)
		abort();
	sprintf(path, "%s/plan.json", dir);
	if ((f = fopen(path, "wb"))) {
		struct ns_plan plan = NS_PLAN_INIT;
		fwrite(data + 1, 1, size - 1, f);
		fclose(f);
		if (ns_plan_load(&plan, dir) == 0)
			ns_plan_release(&plan);
	}
	free(path);
	return 0;
}
