/*
 * iniparse — git-config style INI on top of inih.
 *
 * Parses a buffer (never a path: callers read files themselves, so a size
 * cap and a NUL check happen before parsing). Leading white space is not a
 * continuation line: the DESIGN's examples indent keys under a section.
 * The handler receives the 1-based line number of each key so that every
 * message can name "FILE:LINE". Returns 0, or NS_EINVALID with the message
 * "NAME:LINE: syntax error" or whatever the handler set.
 */
#ifndef NS_INIPARSE_H
#define NS_INIPARSE_H

#include <stddef.h>

/* return 0 to go on, or an NS_E* code (after ns_error_set) to stop; called
 * with key and value NULL at each section header, on its line */
typedef int (*ns_ini_handler)(void *data, const char *section, const char *key,
			      const char *value, int line);

int ns_ini_parse(const char *name, const char *buf, size_t len,
		 ns_ini_handler handler, void *data);

/* split a section name such as `environment "billing/model"` into kind and
 * quoted name; *name is NULL when there is none. Returns -1 when malformed. */
int ns_ini_section_split(char **kind, char **name, const char *section);

#endif
