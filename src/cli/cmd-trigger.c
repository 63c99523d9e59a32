#include "commands.h"
#include "common.h"
#include "trigger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] = "trigger show|verify FILE [--key PEM]";

/* The registry's record of this trigger, when there is a registry here.
 * Found by what the trigger says it is, not by how its path is spelt:
 * an edited id or environment then meets another record's hash, or none. */
static int check_registry(const struct cli *c, const struct ns_trigger *t,
			  const char *file)
{
	json_t *row = NULL;
	int ret;

	if (!c)
		return 0; /* no registry here: the file speaks for itself */
	ret = ns_registry_query_row(c->reg, &row,
				    "SELECT json_sha256 FROM triggers WHERE "
				    "enhancement = ? AND revision = ? AND "
				    "environment = ? ORDER BY id DESC",
				    "Iis", ns_enh_parse(t->id), t->revision,
				    t->environment);
	if (!ret && !row) {
		ns_error_set(
			"%s: TRIGGER.json names %s r%d for %s, which "
			"was never scheduled in this registry (%s): "
			"TRIGGER.json was altered, or comes from elsewhere",
			file, t->id, t->revision, t->environment,
			c->cfg.registry);
		ret = NS_EINVALID;
	} else if (!ret && strcmp(json_string_value(
					  json_object_get(row, "json_sha256")),
				  t->json_sha256)) {
		ns_error_set("%s: TRIGGER.json was altered after it was "
			     "scheduled (the registry recorded another hash)",
			     file);
		ret = NS_EINVALID;
	}
	json_decref(row);
	return ret;
}

/* the key to hold the signature against: --key, else the configuration's
 * (c: the home here, or NULL); *k NULL when neither says one */
static int signature_key(struct ns_key **k, const char **what,
			 const char *key_opt, const struct cli *c)
{
	*k = NULL;
	if (key_opt) {
		*what = "--key";
		return ns_key_load_public(k, key_opt, "--key");
	}
	return c ? ns_config_verify_key(&c->cfg, k, what) : 0;
}

int cmd_trigger(int argc, char **argv)
{
	const char *pos[2], *key_opt = NULL, *what = NULL;
	struct ns_trigger t = NS_TRIGGER_INIT;
	struct ns_limits lim = NS_LIMITS_DEFAULT;
	struct ns_key *key = NULL;
	struct cli c = CLI_INIT, *home;
	struct cli_opt opts[] = { { "key", 1, &key_opt, NULL },
				  { NULL, 0, NULL, NULL } };
	char *text;
	int n, ret;

	if (cli_parse(argc, argv, opts, pos, 2, &n, usage) < 0)
		return 2;
	if (n != 2 || (strcmp(pos[0], "show") && strcmp(pos[0], "verify")))
		return cli_usage(usage);
	/* a nightshift home here, or none: the file speaks for itself */
	home = cli_open(&c) == 0 ? &c : NULL;
	ret = cli_path_arg(strcmp(pos[0], "show") ? "trigger verify"
						  : "trigger show",
			   pos[1]);
	if (!ret)
		ret = signature_key(&key, &what, key_opt, home);
	if (!ret)
		ret = ns_trigger_load(&t, pos[1], &lim);
	if (!ret && key)
		ret = ns_trigger_check_signature(&t, key, what);
	if (!ret)
		ret = check_registry(home, &t, pos[1]);
	cli_close(&c);
	if (ret < 0) {
		ns_key_free(key);
		ns_trigger_release(&t);
		return cli_fail(ret);
	}
	if (!strcmp(pos[0], "show")) {
		text = ns_trigger_json_text(&t);
		printf("%s\n", text);
		free(text);
	} else {
		printf("%s: OK — %s r%d for %s, %zu payload members, payload "
		       "sha256 %s\n",
		       pos[1], t.id, t.revision, t.environment, t.nr,
		       t.payload_sha256);
		if (key)
			printf("signed by key %s (%s)\n", t.sig_key, what);
		else if (t.sig)
			printf("signed by key %s, not checked: no key to "
			       "check it with (--key, or [security] "
			       "trigger-verify-key)\n",
			       t.sig_key);
		else
			printf("not signed\n");
	}
	ns_key_free(key);
	ns_trigger_release(&t);
	return 0;
}
