#!/bin/sh
# (b') Backing the hand-written migration out again from its tar: remove
# what was added, unpack the saved files, flush. Timed for information
# only (it is how the benchmark puts the tree back between runs).
#
# usage: handwritten-undo.sh ROOT CHANGES ARCHIVE
#   CHANGES/added.list     paths that did not exist before
#   CHANGES/newdirs.list   directories that did not exist before
set -eu
root=$1 changes=$2 archive=$3

(cd "$root" && xargs -r -d '\n' rm -f -- <"$changes/added.list")
(cd "$root" && xargs -r -d '\n' rmdir -- <"$changes/newdirs.list")
tar -C "$root" -xf "$archive"
sync
