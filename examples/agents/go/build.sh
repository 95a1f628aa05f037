#!/bin/sh
# Builds agov-go offline from Debian's packages (GOPATH mode: no module downloads):
#   apt-get install golang-go golang-github-nats-io-go-nats-dev golang-github-vmihailenco-msgpack.v5-dev
# Usage: examples/agents/go/build.sh [OUTPUT]   (default: ./agov-go beside this script)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-"$here/agov-go"}
cd "$here"
GO111MODULE=off GOPATH=${GOPATH:-/usr/share/gocode} GOFLAGS= go build -o "$out" .
echo "$out"
