/* a package handed in as a tar: read and checked (not stored) */
#include "fuzz.h"
#include "package.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* small caps, so that the size and count refusals are reached */
	const struct ns_limits lim = { 1 << 16, 1 << 20, 64, 256 };
	struct ns_package pkg = NS_PACKAGE_INIT;
	const char *path = fuzz_file(data, size, ".tar");

	if (path && ns_package_read(&pkg, path, &lim, NULL) == 0)
		ns_package_release(&pkg);
	return 0;
}
