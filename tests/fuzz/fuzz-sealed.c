/*
 * a trigger whose seals hold, as window run loads it: fuzz-trigger's
 * mutations mostly break a member's hash and stop at that check; here the
 * target seals what the fuzzer made, so that what comes after it (the
 * fields of TRIGGER.json, enhancement.ini in a trigger, the SQL, member
 * names and modes) is reached. Someone who can write the spool of an
 * unsigned setup can do the same.
 *
 * The input: TRIGGER.json's text, then NAME and CONTENT pairs, each part
 * ended by a NUL byte. A NAME starting with '+' is a member of mode 0755
 * (0644 otherwise); one starting with '!' goes into the tar as it is,
 * after "!", unlisted (an extra member, a TRIGGER.sig). When the text is a
 * JSON object its "members" and "payload_sha256" are set to what the
 * listed members hash to; any other text is written as it is.
 */
#include "fuzz.h"
#include "hash.h"
#include "package.h"
#include "trigger.h"

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define MEMBERS_MAX 64

struct part {
	const uint8_t *p;
	size_t n;
};

/* the next NUL-ended part of the input (the last may lack its NUL) */
static int next_part(struct part *out, const uint8_t **data, size_t *size)
{
	const uint8_t *end;

	if (!*size)
		return 0;
	end = memchr(*data, 0, *size);
	out->p = *data;
	out->n = end ? (size_t)(end - *data) : *size;
	*data += out->n + (end ? 1 : 0);
	*size -= out->n + (end ? 1 : 0);
	return 1;
}

static void add(struct archive *a, const char *name, const void *buf,
		size_t len, unsigned mode)
{
	struct archive_entry *e = archive_entry_new();

	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, mode);
	archive_entry_set_size(e, (la_int64_t)len);
	if (archive_write_header(a, e) == ARCHIVE_OK && len)
		archive_write_data(a, buf, len);
	archive_entry_free(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct ns_limits lim = { 1 << 16, 1 << 20, 64, 256 };
	struct ns_trigger t = NS_TRIGGER_INIT;
	struct ns_member m[MEMBERS_MAX];
	struct part text = { (const uint8_t *)"", 0 }, name;
	struct part body[MEMBERS_MAX], raw[MEMBERS_MAX];
	char *raw_name[MEMBERS_MAX];
	size_t nm = 0, nraw = 0, tar_size;
	char *json = NULL, *tar;
	const char *path;
	struct archive *a;
	json_t *o;
	size_t used = 0;

	/* room for every header (a pax one too) and padding */
	tar_size = 2 * size + (MEMBERS_MAX + 4) * 4096;
	next_part(&text, &data, &size);
	while (next_part(&name, &data, &size) && nm + nraw < MEMBERS_MAX) {
		struct part b = { (const uint8_t *)"", 0 };
		char *s = fuzz_str(name.p, name.n);

		next_part(&b, &data, &size);
		if (s[0] == '!') {
			raw_name[nraw] = s;
			raw[nraw++] = b;
			continue;
		}
		m[nm].mode = s[0] == '+' ? 0755 : 0644;
		m[nm].path = s[0] == '+' ? strdup(s + 1) : s;
		if (s[0] == '+')
			free(s);
		if (!m[nm].path)
			abort();
		m[nm].size = b.n;
		ns_sha256_buf(m[nm].sha256, b.p, b.n);
		body[nm++] = b;
	}

	/* the seals: what the listed members hash to */
	o = json_loadb((const char *)text.p, text.n, 0, NULL);
	if (json_is_object(o)) {
		char digest[NS_HEX_LEN + 1];

		json_object_set_new(o, "members",
				    ns_trigger_members_json(m, nm));
		ns_package_digest(digest, m, nm);
		json_object_set_new(o, "payload_sha256", json_string(digest));
		json = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
	}
	json_decref(o);

	tar_size += json ? strlen(json) : 0;
	if (!(tar = malloc(tar_size)))
		abort();
	a = archive_write_new();
	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_open_memory(a, tar, tar_size, &used) != ARCHIVE_OK)
		abort();
	if (json)
		add(a, "TRIGGER.json", json, strlen(json), 0644);
	else
		add(a, "TRIGGER.json", text.p, text.n, 0644);
	for (size_t i = 0; i < nraw; i++)
		add(a, raw_name[i] + 1, raw[i].p, raw[i].n, 0644);
	for (size_t i = 0; i < nm; i++) {
		char *p = malloc(strlen(m[i].path) + 9);

		if (!p)
			abort();
		strcpy(p, "payload/");
		strcat(p, m[i].path);
		add(a, p, body[i].p, body[i].n, m[i].mode);
		free(p);
	}
	archive_write_close(a);
	archive_write_free(a);

	path = fuzz_file((const uint8_t *)tar, used, ".trigger");
	if (path && ns_trigger_load(&t, path, &lim) == 0) {
		free(ns_trigger_json_text(&t));
		ns_trigger_release(&t);
	}
	free(json);
	free(tar);
	for (size_t i = 0; i < nm; i++)
		free(m[i].path);
	for (size_t i = 0; i < nraw; i++)
		free(raw_name[i]);
	return 0;
}
