#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The one entry point on a fresh Debian 12 machine (as root): installs every
# package avtb needs, builds it, and runs either the reference scenario or the
# whole test suite. See README.md.
#
#   ./setup.sh reference   install, build, run scenarios/reference.yaml in a sandbox
#   ./setup.sh test        install, build, run every test (unit, VM, fuzz smoke)
#   ./setup.sh deps        install the Debian packages only
#   ./setup.sh build       install and build only
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build="${AVTB_BUILD_DIR:-$here/build}"

# Every Debian package avtb, its guest image and its tests use.
packages=(
  # toolchain (valgrind: the unit suites under memcheck, ctest -L valgrind)
  gcc make cmake pkg-config clang libclang-rt-14-dev valgrind
  # libraries avtb links
  libvirt-dev libguestfs-dev libyaml-dev libjansson-dev libpcap-dev libevent-dev
  libssl-dev libnftables-dev libnetfilter-conntrack-dev check zlib1g-dev libbrotli-dev libzstd-dev libarchive-dev libhyperscan-dev
  libseccomp-dev
  # virtualisation: libvirtd, QEMU, the libguestfs appliance and its kernel
  libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils libguestfs-tools
  linux-image-amd64 iptables nftables dnsmasq-base
  # NTFS (Windows guests) in the libguestfs appliance, which supermin builds
  # from the host's packages
  ntfs-3g
  # the reference guest image recipe
  busybox-static e2fsprogs cpio gzip kmod xz-utils
  # the sandbox and the end-to-end tests
  iproute2 util-linux procps python3 curl openssl tshark
  # the honey document format tests: the software that opens each format
  # (and clamscan: ClamAV is installed by av_product_deps, below)
  unzip libxml2-utils poppler-utils p7zip-full libreoffice-writer-nogui
  libreoffice-calc-nogui libreoffice-draw-nogui
  # the report tests: JSON Schema validation (report.json, STIX) and
  # report.html rendered in headless Chromium
  python3-jsonschema chromium fonts-dejavu-core
)

log() { printf 'setup: %s\n' "$*" >&2; }

need_root() {
  if [ "$(id -u)" != 0 ]; then
    log "run this as root: it installs packages and starts a private libvirtd"
    exit 2
  fi
}

deps() {
  need_root
  local missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
      missing+=("$p")
  done
  if [ ${#missing[@]} -ne 0 ]; then
    log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
  else
    log "all ${#packages[@]} Debian packages present"
  fi
  av_product_deps
}

# ClamAV, the real product the reference guest carries (guests/products/clamav:
# build-image copies its programs and libraries from this machine). Its
# packages would start clamd and freshclam on this host; a policy-rc.d that
# exits 101 keeps invoke-rc.d and deb-systemd-invoke from starting anything
# while they install. The host never runs them: only the guest does.
av_packages=(clamav clamav-daemon clamdscan clamav-freshclam)

av_product_deps() {
  local missing=() p policy=/usr/sbin/policy-rc.d saved=""
  for p in "${av_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
      missing+=("$p")
  done
  if [ ${#missing[@]} -ne 0 ]; then
    log "installing (no services started): ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    if [ -e "$policy" ]; then
      saved="$policy.avtb-saved"
      mv "$policy" "$saved"
    fi
    printf '#!/bin/sh\n# setup.sh: no service starts while ClamAV installs\nexit 101\n' >"$policy"
    chmod 0755 "$policy"
    local rc=0
    apt-get install -y -q --no-install-recommends \
      "${missing[@]}" || rc=$?
    rm -f "$policy"
    [ -z "$saved" ] || mv "$saved" "$policy"
    [ $rc -eq 0 ] || exit $rc
  fi
  # A daemon left from an earlier install would fetch signatures from the
  # internet on this host; say so rather than kill what someone else runs.
  p=$(for d in clamd freshclam clamonacc; do pgrep -x "$d"; done || true)
  [ -z "$p" ] || log "warning: ClamAV daemons run on this host (pids $(tr '\n' ' ' <<<"$p")); avtb does" \
    "not need them: stop them with 'invoke-rc.d clamav-daemon stop; invoke-rc.d clamav-freshclam stop'"
}

do_build() {
  local werror=OFF
  [ "${CI:-}" = true ] && werror=ON
  log "building in $build"
  cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAVTB_WERROR=$werror >/dev/null
  cmake --build "$build" -j "$(nproc)"
}

reference() {
  local out="${AVTB_OUT:-$here/avtb-runs}" rc=0
  log "running scenarios/reference.yaml in a private libvirtd (evidence under $out)"
  "$here/orchestrator/scripts/avtb-sandbox" run -- \
    "$build/avtb" run "$here/scenarios/reference.yaml" --out "$out" || rc=$?
  case $rc in
    0) log "reference run finished: all expectations held" ;;
    1) log "reference run finished: avtb found exfiltration, as the leaky fixture product is built to do" ;;
    *) log "reference run failed with exit code $rc (2: scenario error, 3: infrastructure; see above)"
       exit $rc ;;
  esac
  log "report: $(ls -dt "$out"/reference-*/ | head -n1)report.html (and report.json beside it)"
}

run_tests() {
  local rc=0
  # The release build runs the tests that boot no guest; the sanitizer build
  # then runs the whole suite, guests and faults included, so every error
  # path a fault takes (teardown under a signal, a dead sink, a full disk)
  # also runs under ASan+UBSan and LeakSanitizer. Running vm and faults in
  # both builds would cost 23 more minutes.
  log "the tests that boot no guest (ctest, release build)"
  (cd "$build" && ctest --output-on-failure -LE 'vm|faults|valgrind') || rc=$?

  log "the whole suite under ASan+UBSan: unit, root, end-to-end (vm) and fault tests"
  cmake -S "$here" -B "$build-asan" -DAVTB_SANITIZE=ON -DAVTB_WERROR=ON \
    -DCMAKE_BUILD_TYPE=Debug >/dev/null
  cmake --build "$build-asan" -j "$(nproc)" >/dev/null
  (cd "$build-asan" && ctest --output-on-failure --timeout 1800 -LE valgrind) || rc=$?

  # --no-tests=error: a build that found no valgrind has no valgrind_* tests,
  # and that must fail CI rather than pass it empty. AVTB_VALGRIND=0 skips
  # the pass on a developer's machine, never in CI.
  if [ "${AVTB_VALGRIND:-1}" = 0 ] && [ "${CI:-}" != true ]; then
    log "unit tests under Valgrind memcheck: skipped (AVTB_VALGRIND=0)"
  else
    log "unit tests again under Valgrind memcheck"
    (cd "$build" && ctest --output-on-failure --no-tests=error -L valgrind -j "$(nproc)") || rc=$?
  fi

  log "fuzz harnesses: smoke run under ASan+UBSan"
  CC=clang cmake -S "$here" -B "$build-fuzz" -DAVTB_FUZZ=ON -DCMAKE_C_COMPILER=clang \
    -DCMAKE_BUILD_TYPE=Debug >/dev/null
  cmake --build "$build-fuzz" -j "$(nproc)" >/dev/null
  "$here/tests/fuzz/smoke" "$build-fuzz/tests/fuzz" "${AVTB_FUZZ_SECONDS:-20}" || rc=$?
  return $rc
}

case "${1:-}" in
  deps) deps ;;
  build) deps; do_build ;;
  reference) deps; do_build; reference ;;
  test) deps; do_build; run_tests ;;
  *) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
