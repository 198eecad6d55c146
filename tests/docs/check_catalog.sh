#!/bin/bash
# check_catalog.sh SOURCE_DIR: the journal catalog (systemd/socketd.catalog)
# and the code agree: every MESSAGE_ID socketd can write (the 32-hex-digit
# ids in quotes in daemon/ and lib/, today all in daemon/systemd_glue.cpp) has exactly one catalog entry, and every
# entry is an id the code writes. Then journalctl compiles the catalog in a
# scratch root (`journalctl --root DIR --update-catalog`) and lists each
# entry with its subject, so a syntax error in the file fails here, not at
# install time.
# Exit status: 0 agree, 1 they do not.
set -uo pipefail
SRC=${1:?usage: check_catalog.sh SOURCE_DIR}
CATALOG=$SRC/systemd/socketd.catalog
rc=0

code_ids=$(grep -rhoE --include='*.cpp' --include='*.hpp' '"[0-9a-f]{32}"' "$SRC/daemon" "$SRC/lib" | tr -d '"' | sort)
catalog_ids=$(grep -oE '^-- [0-9a-f]{32}( |$)' "$CATALOG" | awk '{print $2}' | sort)
[[ -n $code_ids ]] || { echo "no MESSAGE_ID found in $SRC/daemon or $SRC/lib"; exit 1; }
echo "$(wc -l <<<"$code_ids") ids in the code, $(wc -l <<<"$catalog_ids") catalog entries"

dups=$(uniq -d <<<"$catalog_ids")
[[ -z $dups ]] || { echo "catalog entries given twice: $dups"; rc=1; }
dups=$(uniq -d <<<"$code_ids")
[[ -z $dups ]] || { echo "ids used for two events in the code: $dups"; rc=1; }
missing=$(comm -23 <(uniq <<<"$code_ids") <(uniq <<<"$catalog_ids"))
[[ -z $missing ]] || { echo "MESSAGE_IDs without a catalog entry in $CATALOG:"; echo "$missing"; rc=1; }
stale=$(comm -13 <(uniq <<<"$code_ids") <(uniq <<<"$catalog_ids"))
[[ -z $stale ]] || { echo "catalog entries for ids the code never writes:"; echo "$stale"; rc=1; }

# Each entry needs a Subject (what journalctl -x shows first) and a body.
awk '/^-- [0-9a-f]{32}/ { if (id && (!subject || !body)) { print "entry " id " lacks a Subject: or a text"; bad=1 }
                          id=$2; subject=0; body=0; header=1; next }
     id && /^Subject: ./ { subject=1 }
     id && header && /^$/ { header=0; next }
     id && !header && /[^ ]/ { body=1 }
     END { if (id && (!subject || !body)) { print "entry " id " lacks a Subject: or a text"; bad=1 } exit bad }' "$CATALOG" || rc=1

if command -v journalctl >/dev/null 2>&1; then
  root=$(mktemp -d)
  trap 'rm -rf "$root"' EXIT
  mkdir -p "$root/usr/lib/systemd/catalog" "$root/var/lib/systemd/catalog"
  cp "$CATALOG" "$root/usr/lib/systemd/catalog/"
  if ! journalctl --root "$root" --update-catalog; then
    echo "journalctl --update-catalog rejects $CATALOG"
    rc=1
  fi
  listed=$(journalctl --root "$root" --list-catalog | awk '{print $1}' | sort)
  if [[ $listed != "$catalog_ids" ]]; then
    echo "journalctl lists other ids than the file has:"; diff <(echo "$catalog_ids") <(echo "$listed")
    rc=1
  fi
  journalctl --root "$root" --list-catalog
else
  echo "note: no journalctl; the catalog was not compiled"
fi
((rc == 0)) && echo "catalog and code agree"
exit $rc
