#!/bin/sh
# The consumer test: installs the built delta into a scratch prefix, then builds and runs
# tests/consumer/main.cpp three ways: with find_package(delta), with pkg-config alone, and
# with delta as a subproject configured so that GoogleTest, Google Benchmark and CLI11
# cannot be found (a consumer must not need them).
#   run.sh <delta build dir> <delta source dir> <scratch dir>
set -eu
build="$1"; source="$2"; work="$3"
rm -rf "$work"; mkdir -p "$work"
prefix="$work/prefix"
cmake --install "$build" --prefix "$prefix" >/dev/null
for file in include/delta/delta.hpp include/delta/version.hpp lib/cmake/delta/deltaConfig.cmake \
            lib/pkgconfig/delta.pc share/doc/delta/LICENSE; do
  test -f "$prefix/$file" || { echo "consumer: $file was not installed" >&2; exit 1; }
done

echo "== find_package(delta)"
cmake -S "$source/tests/consumer" -B "$work/find_package" -G Ninja \
      -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$work/find_package" >/dev/null
"$work/find_package/consumer"

echo "== pkg-config delta"
# shellcheck disable=SC2046
c++ -std=c++20 -o "$work/pkg_config_consumer" "$source/tests/consumer/main.cpp" \
    $(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs delta)
"$work/pkg_config_consumer"

echo "== add_subdirectory(delta) without GoogleTest, Google Benchmark or CLI11"
cmake -S "$source/tests/consumer/subproject" -B "$work/subproject" -G Ninja \
      -DDELTA_SOURCE_DIR="$source" -DCMAKE_BUILD_TYPE=Debug \
      -DCMAKE_DISABLE_FIND_PACKAGE_GTest=ON -DCMAKE_DISABLE_FIND_PACKAGE_benchmark=ON \
      -DCMAKE_DISABLE_FIND_PACKAGE_CLI11=ON >/dev/null
cmake --build "$work/subproject" -j "$(nproc)" >/dev/null
test ! -e "$work/subproject/delta/tests" || { echo "consumer: the subproject built delta's tests" >&2; exit 1; }
"$work/subproject/consumer"
echo "== cpack -G DEB"
(cd "$build" && cpack -G DEB -B "$work/deb" >/dev/null)
deb=$(ls "$work"/deb/delta_*_amd64.deb 2>/dev/null | head -n 1)
test -n "$deb" || { echo "consumer: cpack made no delta_<version>_amd64.deb" >&2; exit 1; }
listing=$(dpkg-deb -c "$deb")
for file in ./usr/include/delta/delta.hpp ./usr/lib/cmake/delta/deltaConfig.cmake \
            ./usr/lib/pkgconfig/delta.pc ./usr/bin/delta ./usr/lib/libdelta_client.a; do
  echo "$listing" | grep -q " $file\$" || { echo "consumer: $deb lacks $file" >&2; exit 1; }
done
echo "consumer: all three ways work, and $(basename "$deb") holds the headers, libraries, package files and the command"
