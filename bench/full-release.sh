#!/bin/sh
# (c) The full-release copy of a Capistrano-style deployment: a new release
# directory holding the whole tree (hard links, `cp -al`), the same changes
# applied there, flushed, and the `current` link switched to it.
#
# A replaced file is written as a new file and renamed over its name in the
# release, so the hard-linked original (the live release) is never written
# through. The new files are copied in one `cp -R` into a staging directory
# inside the release and renamed into place by one process, so the cost is
# that of the copy, not of starting a thousand `mv`s.
#
# usage: full-release.sh ROOT CHANGES RELEASE
#   CHANGES/pkg/…          the enhancement (as submitted to nightshift):
#   CHANGES/pkg/files/…    the new and replaced files, mirrored under ROOT
#   CHANGES/put.list       their paths (relative to ROOT)
#   CHANGES/delete.list    paths to be deleted
#   RELEASE                the new release directory (must not exist);
#                          RELEASE.current is the symbolic link switched
set -eu
root=$1 changes=$2 release=$3
stage=$release/.incoming

cp -al "$root" "$release"
mkdir "$stage"
cp -R "$changes/pkg/files/." "$stage/"
perl -MFile::Path=make_path -e '
	my ($rel, $stage) = @ARGV;
	while (my $p = <STDIN>) {
		chomp $p;
		(my $d = $p) =~ s{/[^/]*$}{};
		make_path("$rel/$d") if $d ne $p && !-d "$rel/$d";
		rename("$stage/$p", "$rel/$p") or die "rename $p: $!\n";
	}' "$release" "$stage" <"$changes/put.list"
rm -rf "$stage"
(cd "$release" && xargs -r -d '\n' rm -f -- <"$changes/delete.list")
sync
ln -sfn "$release" "$release.current.tmp"
mv -T "$release.current.tmp" "$release.current"
