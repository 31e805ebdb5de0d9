#!/bin/sh
# The consumer test: builds and runs tests/consumer/main.cpp the ways a team's project
# would use delta —
#   1. this (static) build installed into a scratch prefix: find_package(delta), then
#      pkg-config alone;
#   2. delta as a subproject, shared (BUILD_SHARED_LIBS=ON), configured so that GoogleTest,
#      Google Benchmark and CLI11 cannot be found (a consumer must not need them); its
#      libdelta.so is checked for its soname and for exporting nothing but delta's public
#      API, then installed and used again through find_package and pkg-config;
#   3. cpack -G DEB of this build, listed with dpkg-deb.
#   run.sh <delta build dir> <delta source dir> <scratch dir>
set -eu
build="$1"; source="$2"; work="$3"
here="$source/tests/consumer"
rm -rf "$work"; mkdir -p "$work"

# check_installed <prefix> <library file>: the files an install must hold.
check_installed() {
  for file in include/delta/delta.hpp include/delta/version.hpp include/delta/export.hpp \
              lib/cmake/delta/deltaConfig.cmake lib/pkgconfig/delta.pc \
              share/doc/delta/LICENSE "lib/$2"; do
    test -e "$1/$file" || { echo "consumer: $file was not installed in $1" >&2; exit 1; }
  done
  for layer in common pg schema runtime jobs resources client admin; do
    if test -e "$1/lib/libdelta_$layer.a"; then
      echo "consumer: the internal per-layer archives were installed in $1" >&2; exit 1
    fi
  done
}

# use_installed <prefix> <name>: builds and runs the consumer with find_package(delta),
# then with pkg-config alone.
use_installed() {
  # An installation built with delta::prometheus is used with it too.
  prometheus=OFF
  test ! -e "$1/lib/cmake/delta/deltaPrometheusTargets.cmake" || prometheus=ON
  echo "== $2: find_package(delta) (delta::prometheus: $prometheus)"
  cmake -S "$here" -B "$work/$2_find_package" -G Ninja -DWITH_PROMETHEUS=$prometheus \
        -DCMAKE_PREFIX_PATH="$1" -DCMAKE_BUILD_TYPE=Debug >/dev/null
  cmake --build "$work/$2_find_package" >/dev/null
  "$work/$2_find_package/consumer"
  echo "== $2: pkg-config delta"
  # shellcheck disable=SC2046
  c++ -std=c++20 -o "$work/$2_pkg_config" "$here/main.cpp" \
      $(PKG_CONFIG_PATH="$1/lib/pkgconfig" pkg-config --cflags --libs delta)
  LD_LIBRARY_PATH="$1/lib" "$work/$2_pkg_config"
}

cmake --install "$build" --prefix "$work/static" >/dev/null
check_installed "$work/static" libdelta.a
use_installed "$work/static" static

echo "== add_subdirectory(delta), shared, without GoogleTest, Google Benchmark or CLI11"
sub="$work/subproject"
cmake -S "$here/subproject" -B "$sub" -G Ninja -DDELTA_SOURCE_DIR="$source" \
      -DCMAKE_BUILD_TYPE=Debug -DBUILD_SHARED_LIBS=ON -DDELTA_INSTALL=ON \
      -DCMAKE_DISABLE_FIND_PACKAGE_GTest=ON -DCMAKE_DISABLE_FIND_PACKAGE_benchmark=ON \
      -DCMAKE_DISABLE_FIND_PACKAGE_CLI11=ON >/dev/null
cmake --build "$sub" -j "$(nproc)" >/dev/null
test ! -e "$sub/delta/tests" || { echo "consumer: the subproject built delta's tests" >&2; exit 1; }
"$sub/consumer"
soname=$(readelf -d "$sub/delta/libdelta.so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
version=$(sed -n 's/^Version: //p' "$sub/delta/generated/delta.pc")
expected="libdelta.so.$(echo "$version" | cut -d. -f1-2)"
test "$soname" = "$expected" || { echo "consumer: soname is '$soname', not $expected" >&2; exit 1; }
sh "$here/check_exports.sh" "$sub/delta/libdelta.so"
cmake --install "$sub" --prefix "$work/shared" >/dev/null
check_installed "$work/shared" "$soname"
use_installed "$work/shared" shared

echo "== cpack -G DEB"
(cd "$build" && cpack -G DEB -B "$work/deb" >/dev/null)
deb=$(ls "$work"/deb/delta_*_amd64.deb 2>/dev/null | head -n 1)
test -n "$deb" || { echo "consumer: cpack made no delta_<version>_amd64.deb" >&2; exit 1; }
listing=$(dpkg-deb -c "$deb")
for file in ./usr/include/delta/delta.hpp ./usr/lib/cmake/delta/deltaConfig.cmake \
            ./usr/lib/pkgconfig/delta.pc ./usr/bin/delta ./usr/lib/libdelta.a; do
  echo "$listing" | grep -q " $file\$" || { echo "consumer: $deb lacks $file" >&2; exit 1; }
done
echo "consumer: static and shared, installed and as a subproject, all work; $(basename "$deb") holds the headers, the library, the package files and the command"
