/* enhancement.ini: every text must parse or be refused with a message */
#include "fuzz.h"
#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ns_manifest m = NS_MANIFEST_INIT;

	if (ns_manifest_parse(&m, "enhancement.ini", (const char *)data, size,
			      1024) == 0)
		ns_manifest_release(&m);
	return 0;
}
