# shared by the PostgreSQL kill-point tests (t5120, t5121), sourced after
# tests/e2e/lib.sh: the scene kept in $TPL is put back for each kill
# point, the database made again as pg_scene made it (one psql is much
# quicker than a new database from a template)

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
