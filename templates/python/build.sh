#!/bin/sh
# Builds {{name}}.wasm, the {{world}} component, from src/ and wit/.
# Needs componentize-py from requirements.txt on PATH.
set -eu
cd "$(dirname "$0")"
componentize-py --wit-path wit --world {{world}} --quiet \
    componentize --python-path src app --output {{name}}.wasm
