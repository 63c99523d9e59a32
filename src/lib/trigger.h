/*
 * trigger — the self-contained file the migration daemon executes.
 *
 * A trigger is a tar: TRIGGER.json first (id, revision, system,
 * environment, target indicator, sites, window and earliest/latest start,
 * the ordered steps, the SHA-256 of every payload member and of the whole
 * payload, approvals, creator), then payload/... — the enhancement's
 * canonical payload, byte for byte.
 *
 * ns_trigger_load() trusts nothing: it reads TRIGGER.json, then hashes every
 * payload member against it and the whole payload against its digest; an
 * extra, missing, reordered or altered member is refused (NS_EINVALID,
 * naming the member). The SHA-256 of the TRIGGER.json bytes is kept so the
 * registry can prove the JSON itself was not edited after scheduling.
 *
 * Signed triggers ([security] trigger-signing-key): TRIGGER.sig follows
 * TRIGGER.json, {"key": "SHA256:…", "signature": "<hex>"}, the signature
 * of the TRIGGER.json bytes — which hold the hash of every payload member
 * and of the whole payload, so it covers the trigger entire. Loading
 * keeps it; ns_trigger_check_signature() holds it against a key.
 */
#ifndef NS_TRIGGER_H
#define NS_TRIGGER_H

#include <jansson.h>
#include <stddef.h>

#include "manifest.h"
#include "package.h"
#include "sign.h"

struct ns_trigger_spec {
	const char *id; /* "ENH-1" */
	int revision;
	const char *system, *environment,
		*target; /* target: model|production */
	const char **sites;
	size_t sites_nr;
	const char *window, *earliest, *latest;
	const char *creator, *created;
	json_t *approvals; /* borrowed; NULL for none */
	/* set when change management placed it in a blackout: the reason,
	 * written as "blackout_override" (absent otherwise) */
	const char *blackout_override;
	const struct ns_key *key; /* signs it (TRIGGER.sig); NULL: unsigned */
};

struct ns_trigger {
	char *path;
	json_t *json;
	char json_sha256[NS_HEX_LEN + 1];
	char payload_sha256[NS_HEX_LEN + 1];
	const char *id, *system, *environment, *target; /* borrowed from json */
	int revision;
	struct ns_member *members;
	size_t nr;
	/* the small members, loaded whole */
	char *ini, *deploy_sql, *revert_sql, *verify_sql;
	struct ns_manifest manifest;
	/* loaded with NS_TRIGGER_DEFER_FILES: the payload/files/ members'
	 * hashes are not checked yet */
	int files_unverified;
	char *json_text; /* the TRIGGER.json bytes, what a signature signs */
	size_t json_len;
	char *sig_key, *sig; /* TRIGGER.sig's key id and signature, or NULL */
};

#define NS_TRIGGER_INIT                                                        \
	{                                                                      \
		0                                                              \
	}

/* write the trigger for the payload tar at payload_path (members as listed
 * in pkg) to path: temporary sibling, fsync, rename */
int ns_trigger_write(char out_json_sha256[NS_HEX_LEN + 1], const char *path,
		     const struct ns_trigger_spec *spec,
		     const struct ns_package *pkg, const char *payload_path);
int ns_trigger_load(struct ns_trigger *out, const char *path,
		    const struct ns_limits *lim);
/* NS_TRIGGER_DEFER_FILES: check everything ns_trigger_load checks but
 * the hashes of the payload/files/ members (their names, order, modes and
 * sizes, the payload digest, the small members are checked), and skip
 * their bytes instead of reading them. For a caller that reads each of
 * them next against its recorded hash and refuses on a mismatch before
 * anything is visible: ns_migrate_site stages them so, and renames
 * nothing into place until every one of them checked out. It saves one
 * read and one SHA-256 of the whole payload per run. */
#define NS_TRIGGER_DEFER_FILES 1u
int ns_trigger_load_flags(struct ns_trigger *out, const char *path,
			  const struct ns_limits *lim, unsigned flags);
void ns_trigger_release(struct ns_trigger *t);
/* is t signed by k? NS_EINVALID, naming the file and what (the setting
 * that asks for k, for the message), when it is not signed, signed by
 * another key, or its signature does not match its TRIGGER.json */
int ns_trigger_check_signature(const struct ns_trigger *t,
			       const struct ns_key *k, const char *what);
/* TRIGGER.json's "members": each member's path, sha256, size and mode, in
 * the order given (the payload's); what a payload_sha256 digests
 * (ns_package_digest) */
json_t *ns_trigger_members_json(const struct ns_member *m, size_t nr);
/* the canonical JSON text (for `trigger show`); caller frees */
char *ns_trigger_json_text(const struct ns_trigger *t);

#endif
