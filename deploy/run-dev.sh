#!/usr/bin/env bash
# Runs keystoned for local development: installs missing Debian packages
# (deploy/install-deps.sh), builds into build/, and starts
# build/daemon/keystoned with deploy/keystoned.yaml, which keeps its data in
# ./data and serves the DynamoDB API on http://127.0.0.1:8000 and metrics on
# http://127.0.0.1:9464/metrics. Extra arguments go to keystoned
# (e.g. --log-format json). Ctrl-C stops it cleanly.
#
#   deploy/run-dev.sh
#   aws dynamodb list-tables --endpoint-url http://127.0.0.1:8000   # any credentials
#   build/daemon/keystone put users '{"pk":"u1","sk":"a","name":"Ann"}' --simple
set -euo pipefail
cd "$(dirname "$0")/.."

bash deploy/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build keystoned keystone
exec build/daemon/keystoned --config deploy/keystoned.yaml "$@"
