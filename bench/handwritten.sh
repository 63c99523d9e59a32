#!/bin/sh
# (b) The careful hand-written equivalent of one nightshift migration: what
# an operator would otherwise type. Save what will be touched, copy the new
# and replaced files into place, remove the deleted ones, flush to disk.
#
# usage: handwritten.sh ROOT CHANGES ARCHIVE
#   CHANGES/pkg/…          the enhancement (as submitted to nightshift):
#   CHANGES/pkg/files/…    the new and replaced files, mirrored under ROOT
#   CHANGES/touched.list   paths (relative to ROOT) to be modified or deleted
#   CHANGES/delete.list    paths to be deleted
#   ARCHIVE                the tar written with the touched files' old state
set -eu
root=$1 changes=$2 archive=$3

tar -C "$root" -cf "$archive" -T "$changes/touched.list"
cp -R "$changes/pkg/files/." "$root/"
(cd "$root" && xargs -r -d '\n' rm -f -- <"$changes/delete.list")
sync
