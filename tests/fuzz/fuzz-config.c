/* nightshift.conf: every text must load or be refused with a message */
#include "config.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ns_config c;
	const char *path = fuzz_file(data, size, ".conf");

	if (path && ns_config_load(&c, path) == 0)
		ns_config_release(&c);
	return 0;
}
