/* a trigger file as window run loads it */
#include "fuzz.h"
#include "trigger.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct ns_limits lim = { 1 << 16, 1 << 20, 64, 256 };
	struct ns_trigger t = NS_TRIGGER_INIT;
	const char *path = fuzz_file(data, size, ".trigger");

	if (path && ns_trigger_load(&t, path, &lim) == 0)
		ns_trigger_release(&t);
	return 0;
}
