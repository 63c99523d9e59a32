# shared by the PostgreSQL kill-point tests (t5120, t5121), sourced after
# tests/e2e/lib.sh: the scene kept in $TPL is put back for each kill
# point, the database made again as pg_scene made it (one psql is much
# quicker than a new database from a template)

# the scene's site: lib/tax.conf and old/legacy.txt below the root, a home
# (ns_home) whose site database is PGURL, customers (ann, bob) in it
pg_kill_site() {
	rm -rf "$T/site" "$T/home"
	mkdir -p "$T/site/root/lib" "$T/site/root/old"
	echo "tax = 19" >"$T/site/root/lib/tax.conf"
	echo "legacy" >"$T/site/root/old/legacy.txt"
	ns_home
	sed -i "s|database = sqlite:.*|database = $PGURL|" nightshift.conf
	pg_customers
}

reset() {
	cd "$T" || exit 1
	rm -rf "$T/site" "$T/home"
	cp -a "$TPL/site" "$TPL/home" "$T/"
	pg_customers
	cd "$T/home" || exit 1
}

site_state() { echo "$(tree_hash "$T/site/root") $(pg_dump_canon | sha256sum | cut -c1-64)"; }
registry_state() { sqlite3 "$T/home/nightshift.db" "SELECT state FROM enhancements WHERE id = 1"; }
leftovers() {
	find "$T/site" "$T/home" \( -name '.nightshift.*' -o -name '*.tmp-*' \) -print
	find "$T/home/journal" -name '*.jnl' -print
}
