#!/bin/sh
# Checks what a shared libdelta.so exports: only names of namespace delta, none of its
# internals, and the public API a consumer links (a sample that must be there).
#   check_exports.sh <libdelta.so>
set -eu
lib="$1"
symbols=$(nm -D --defined-only -C "$lib" | cut -d' ' -f3-)
test -n "$symbols" || { echo "check_exports: $lib exports nothing" >&2; exit 1; }

# The owner of each symbol: the name without what the compiler says it is ("vtable for",
# "typeinfo for", a thunk), and without a function template's return type.
owners=$(echo "$symbols" | sed -E \
  -e 's/^(vtable|VTT|typeinfo|typeinfo name|construction vtable|guard variable) for //' \
  -e 's/^(non-virtual|virtual|covariant return) thunk to //' \
  -e 's/^[^(<]*[ *&](delta::)/\1/')

outside=$(echo "$owners" | grep -v '^delta::' || true)
if [ -n "$outside" ]; then
  echo "check_exports: $lib exports names outside namespace delta:" >&2
  echo "$outside" | head -n 20 >&2
  exit 1
fi

# Internal namespaces, and the classes the public headers only name as internal.
internal=$(echo "$owners" | grep -E '^delta::(internal|runtime|resources|schema)::|^delta::jobs::JobsEngine\b|^delta::pg::(Connection|PoolImpl|ResultHandle)\b' || true)
if [ -n "$internal" ]; then
  echo "check_exports: $lib exports delta's internals:" >&2
  echo "$internal" | head -n 20 >&2
  exit 1
fi

for expected in 'delta::Client::start()' 'delta::migrate(' 'typeinfo for delta::DatabaseError' \
                'delta::pg::Pool::Pool(' 'delta::jobs::complete()' 'vtable for delta::jobs::WorkerBase'; do
  echo "$symbols" | grep -qF "$expected" || {
    echo "check_exports: $lib does not export $expected" >&2; exit 1; }
done
echo "check_exports: $(echo "$symbols" | wc -l) symbols, all of the public API of namespace delta"
