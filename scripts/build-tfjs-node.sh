#!/usr/bin/env bash
# npm run build:tfjs-node: makes the optional @tensorflow/tfjs-node load in this checkout, from registry parts only.
# Its own install downloads libtensorflow 2.9.1 from Google's storage, which is unreachable here: the install fails
# and npm removes the optional package. The same TensorFlow 2.9.1 runtime is in PyPI's tensorflow-cpu wheel: the C API library
# (tensorflow/python/_pywrap_tensorflow_internal.so, which exports every TF_/TFE_ function the binding calls), the
# framework library and the C headers. This lays them out where tfjs-node's install looks (deps/lib, deps/include),
# then runs that install, which compiles the binding (binding/*.cc) with node-gyp against this Node's headers.
# Idempotent: a second run only checks that tfjs-node loads. Linux x86-64 only (the wheel's platform).
set -euo pipefail
cd "$(dirname "$0")/.."

TFJS_NODE_VERSION=4.22.0 # needs libtensorflow 2.9.1 (its scripts/deps-constants.js)
WHEEL=tensorflow_cpu-2.9.1-cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64.whl
WHEEL_SHA256=6666ddeae45e1f41da788cb4bdea3435aba16edb0bc17b7ac00631c7c9eb052e # as PyPI's simple index lists it
CACHE="${TRENDCAST_TFJS_NODE_CACHE:-$HOME/.cache/trendcast/tfjs-node}"
PKG=node_modules/@tensorflow/tfjs-node
STAMP="$PKG/deps/trendcast-build"

if [ "$(uname -s)-$(uname -m)" != Linux-x86_64 ]; then
  echo "build:tfjs-node: only for Linux x86-64 (the TensorFlow wheel's platform), not $(uname -s)-$(uname -m)" >&2
  exit 1
fi
# Node 24 and its headers (npm_config_nodedir), found as CI finds them.
. scripts/use-node24.sh >/dev/null

# tfjs-node 4.22 calls util.isNullOrUndefined, which Node 23 removed (tensorflow/tfjs#8609); trainer/backend.ts
# defines it the same way before loading. LD_BIND_NOW: a symbol nothing provides fails here, not mid-training.
loads() {
  LD_BIND_NOW=1 TF_CPP_MIN_LOG_LEVEL=2 node -e '
    require("node:util").isNullOrUndefined ??= (value) => value === null || value === undefined;
    const tf = require("@tensorflow/tfjs-node");
    const sum = tf.tensor1d([1, 2, 3]).sum().dataSync()[0];
    if (tf.getBackend() !== "tensorflow" || sum !== 6) throw new Error(`backend ${tf.getBackend()}, 1 + 2 + 3 = ${sum}`);
    console.log(`@tensorflow/tfjs-node ${require("@tensorflow/tfjs-node/package.json").version} loads: TensorFlow ${tf.backend().binding.TF_Version}`);'
}
if [ "$(cat "$STAMP" 2>/dev/null)" = "$TFJS_NODE_VERSION $WHEEL_SHA256" ] && loads; then exit 0; fi

# 1. The package and its dependencies, at the versions and integrity hashes of package-lock.json, without the
#    install script that `npm ci` ran and failed (which is why npm removed them).
locked=$(node -p 'require("./package-lock.json").packages["node_modules/@tensorflow/tfjs-node"]?.version')
if [ "$locked" != "$TFJS_NODE_VERSION" ]; then
  echo "build:tfjs-node: package-lock.json has @tensorflow/tfjs-node $locked; this script lays out for $TFJS_NODE_VERSION" >&2
  exit 1
fi
if [ ! -f "$PKG/package.json" ] || [ ! -d node_modules/@mapbox/node-pre-gyp ]; then
  npm install --no-save --ignore-scripts --no-audit --no-fund --loglevel=error
fi

# 2. The wheel (207 MB), checked against its pinned hash; only unpacked, never imported (its Python is 3.10).
mkdir -p "$CACHE"
if ! echo "$WHEEL_SHA256  $CACHE/$WHEEL" | sha256sum -c --status 2>/dev/null; then
  rm -f "$CACHE/$WHEEL"
  echo "tensorflow-cpu==2.9.1 --hash=sha256:$WHEEL_SHA256" >"$CACHE/requirements.txt"
  python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.10 \
    --platform manylinux2014_x86_64 --require-hashes -r "$CACHE/requirements.txt" -d "$CACHE"
fi

# 3. The layout of Google's libtensorflow archive (lib/, include/), from the wheel.
LAYOUT="$CACHE/libtensorflow-2.9.1-$WHEEL_SHA256"
if [ ! -f "$LAYOUT/complete" ]; then
  rm -rf "$LAYOUT" && mkdir -p "$LAYOUT/lib" "$LAYOUT/include"
  python3 - "$CACHE/$WHEEL" "$LAYOUT" <<'PY'
import os, shutil, sys, zipfile
wheel, out = sys.argv[1:]
wanted = {
    "tensorflow/python/_pywrap_tensorflow_internal.so": "lib/_pywrap_tensorflow_internal.so",
    "tensorflow/libtensorflow_framework.so.2": "lib/libtensorflow_framework.so.2",
}
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        # The C API's headers, and the two string headers its tf_tstring.h includes.
        if (name.startswith("tensorflow/include/tensorflow/c/") and name.endswith(".h")) or name.startswith(
            "tensorflow/include/tensorflow/core/platform/ctstring"
        ):
            wanted[name] = "include/" + name[len("tensorflow/include/"):]
    for name, target in wanted.items():
        dest = os.path.join(out, target)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with z.open(name) as src, open(dest, "wb") as dst:
            shutil.copyfileobj(src, dst)
        os.chmod(dest, 0o755 if target.startswith("lib/") else 0o644)
PY
  (
    cd "$LAYOUT/lib"
    # The names tfjs-node's install checks (libtensorflow.so.2.9.1) and its binding links (-ltensorflow
    # -ltensorflow_framework); the binding then records the sonames, _pywrap_tensorflow_internal.so and
    # libtensorflow_framework.so.2, and finds them beside these through its rpath.
    ln -s _pywrap_tensorflow_internal.so libtensorflow.so.2.9.1
    ln -s _pywrap_tensorflow_internal.so libtensorflow.so
    ln -s libtensorflow_framework.so.2 libtensorflow_framework.so.2.9.1
    ln -s libtensorflow_framework.so.2 libtensorflow_framework.so
    # The wheel's library is also TensorFlow's Python extension: it refers to 187 CPython symbols that a Python
    # process provides and Node does not. A small library defines each of them as one that aborts with a message;
    # the C API never calls them (they serve the Python bindings), and the binding loads it beside TensorFlow.
    {
      echo '#include <stdio.h>'
      echo '#include <stdlib.h>'
      echo 'void trendcast_no_python(void) {'
      echo '  fputs("tfjs-node: TensorFlow called into Python, which this process does not have\n", stderr);'
      echo '  abort();'
      echo '}'
      nm -D --undefined-only _pywrap_tensorflow_internal.so | awk '{ print $NF }' | grep -E '^_?Py' | sort -u |
        sed 's/.*/void &(void) __attribute__((alias("trendcast_no_python")));/'
    } >trendcast_no_python.c
    cc -shared -fPIC -O2 -Wl,-soname,libtrendcast_no_python.so -o libtrendcast_no_python.so trendcast_no_python.c
  )
  touch "$LAYOUT/complete"
fi

# 4. Into the package (hard links where the cache is on the same file system), then its own install: it finds
#    deps/lib/libtensorflow.so.2.9.1, skips the download and builds the binding from source (no prebuilt binary:
#    one from Google's storage, where reachable, would link the real libtensorflow and not the library above).
rm -rf "$PKG/deps" "$PKG/lib" "$PKG/build"
mkdir -p "$PKG/deps"
if ! cp -al "$LAYOUT/lib" "$LAYOUT/include" "$PKG/deps/" 2>/dev/null; then
  rm -rf "$PKG/deps" && mkdir -p "$PKG/deps" && cp -a "$LAYOUT/lib" "$LAYOUT/include" "$PKG/deps/"
fi
LDFLAGS="-Wl,--no-as-needed -L$PWD/$PKG/deps/lib -ltrendcast_no_python" npm_config_build_from_source=true \
  npm rebuild @tensorflow/tfjs-node --foreground-scripts --loglevel=error
loads
echo "$TFJS_NODE_VERSION $WHEEL_SHA256" >"$STAMP"
