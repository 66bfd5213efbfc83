#!/usr/bin/env bash
# Checks the files in deploy/ that cannot be run here (no systemd, no docker
# engine). Exit 0: pass, 77: skipped (ctest SKIP_RETURN_CODE), else fail.
#
#   deploy_test.sh unit   SOURCE_DIR KEYSTONED   systemd-analyze verify
#   deploy_test.sh files  SOURCE_DIR KEYSTONED   scripts parse, Dockerfile
#                                                 sources exist, configs valid
set -euo pipefail
what="$1" src="$2" keystoned="$3"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

case "$what" in
  unit)
    if ! command -v systemd-analyze >/dev/null; then
      echo "SKIP: systemd-analyze is not installed"
      exit 77
    fi
    # The unit names the installed binary; verify it against the built one.
    sed "s|/usr/local/bin/keystoned|$keystoned|" "$src/deploy/keystoned.service" \
      > "$tmp/keystoned.service"
    set +e
    out="$(cd "$tmp" && systemd-analyze verify --man=no ./keystoned.service 2>&1)"
    rc=$?
    set -e
    echo "$out"
    # Unknown keys and bad values are only warnings: fail on any line about
    # the unit too.
    if [ $rc -ne 0 ] || grep -q "keystoned.service" <<<"$out"; then
      echo "FAIL: systemd-analyze verify (rc=$rc)"
      exit 1
    fi
    grep -q '^Type=notify$' "$tmp/keystoned.service"
    grep -q '^WatchdogSec=' "$tmp/keystoned.service"
    grep -q '^User=keystone$' "$tmp/keystoned.service"
    echo "PASS: systemd-analyze verify"
    ;;
  files)
    for script in "$src"/deploy/*.sh; do bash -n "$script"; done
    # Every COPY source of the Dockerfile (outside the build stage's "COPY .")
    # exists in the repository.
    grep -E '^COPY ' "$src/deploy/Dockerfile" | grep -v -- '--from=' | while read -r _ args; do
      for f in ${args% *}; do
        [ "$f" = "." ] && continue
        [ -e "$src/$f" ] || { echo "FAIL: Dockerfile copies missing $f"; exit 1; }
      done
    done
    # The runtime stage installs the package of every library the programs
    # link directly (debian:12-slim has only the C and C++ runtimes). Checked
    # on the release build, which is what the image holds; sanitizer builds
    # link differently.
    if ! readelf -d "$keystoned" | grep -qE 'NEEDED.*lib(a|t|ub)san'; then
      runtime_packages=$(sed -n '/^FROM debian:12-slim/,/^COPY/p' "$src/deploy/Dockerfile")
      for program in "$keystoned" "$(dirname "$keystoned")/keystone"; do
        for lib in $(readelf -d "$program" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
          package=$(dpkg -S "*/$lib" 2>/dev/null | grep -v i386 | head -n 1 | cut -d: -f1)
          case "$package" in libc6 | libgcc-s1 | libstdc++6) continue ;; esac
          [ -n "$package" ] || { echo "FAIL: no package owns $lib"; exit 1; }
          grep -qw -- "$package" <<< "$runtime_packages" ||
            { echo "FAIL: the image lacks $package ($lib, needed by $(basename "$program"))"; exit 1; }
        done
      done
    fi
    grep -q '^USER keystone' "$src/deploy/Dockerfile"
    grep -q '^FROM debian:12' "$src/deploy/Dockerfile"
    # The embedded default config is valid as run locally and in the image.
    "$keystoned" --check-config "$src/deploy/keystoned.yaml"
    KEYSTONE_DATA_DIR=/var/lib/keystone/data KEYSTONE_HTTP_LISTEN=0.0.0.0:8000 \
      KEYSTONE_METRICS_LISTEN=0.0.0.0:9464 \
      "$keystoned" --config "$src/deploy/keystoned.yaml" --print-config > "$tmp/image.yaml"
    grep -q 'listen: 0.0.0.0:8000' "$tmp/image.yaml"
    grep -q 'data_dir: /var/lib/keystone/data' "$tmp/image.yaml"
    echo "PASS: deploy files"
    ;;
  *)
    echo "usage: $0 unit|files SOURCE_DIR KEYSTONED" >&2
    exit 2
    ;;
esac
