#include "lazylib.h"
#include "error.h"

#include <dlfcn.h>

int ns_lazylib_load(struct ns_lazylib *l, const char *const *names,
		    void **const *slots, size_t nr)
{
	void *h;

	if (l->state > 0)
		return 0;
	if (l->state < 0) {
		ns_error_set("%s: cannot load %s (tried before)", l->needed_for,
			     l->soname);
		return NS_ERROR;
	}
	l->state = -1;
	if (!(h = dlopen(l->soname, RTLD_NOW | RTLD_LOCAL))) {
		ns_error_set("%s need %s, which cannot be loaded: %s",
			     l->needed_for, l->soname, dlerror());
		return NS_ERROR;
	}
	for (size_t i = 0; i < nr; i++) {
		if (!(*slots[i] = dlsym(h, names[i]))) {
			ns_error_set("%s need %s: %s", l->needed_for, l->soname,
				     dlerror());
			return NS_ERROR;
		}
	}
	/* never closed: the process may call into it until it exits */
	l->state = 1;
	return 0;
}
