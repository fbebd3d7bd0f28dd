# Sourced (`. scripts/use-node24.sh`): puts Node 24, the version trendcast, its functions and its images run on,
# first on PATH. Where the machine's Node is older, the npm registry's `node` package brings the binary and its
# headers into ~/.cache/trendcast/node24 (no other download). Native addons (the cdktf CLI's node-pty has no prebuilt
# binary for Node 24) then compile against those headers, not a system Node's (npm_config_nodedir).
TRENDCAST_NODE_MAJOR=24
if [ "$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)" -lt "$TRENDCAST_NODE_MAJOR" ]; then
  trendcast_node_prefix="${TRENDCAST_NODE_HOME:-$HOME/.cache/trendcast/node$TRENDCAST_NODE_MAJOR}"
  if [ ! -x "$trendcast_node_prefix/node_modules/.bin/node" ]; then
    echo "node: installing node@$TRENDCAST_NODE_MAJOR from the npm registry into $trendcast_node_prefix"
    npm install --prefix "$trendcast_node_prefix" --no-save --no-audit --no-fund --loglevel=error \
      "node@$TRENDCAST_NODE_MAJOR"
  fi
  export PATH="$trendcast_node_prefix/node_modules/.bin:$PATH"
fi
# The headers of the Node now first on PATH: beside its binary (an official build), or in the registry package.
trendcast_node_headers=$(node -p '
  const { dirname, join } = require("node:path"); const { existsSync, realpathSync } = require("node:fs");
  const home = dirname(dirname(realpathSync(process.execPath)));
  const arch = `node-${process.platform}-${process.arch}`;
  [home, join(home, "node_modules", arch)].find((d) => existsSync(join(d, "include/node/node_version.h"))) ?? ""')
if [ -n "$trendcast_node_headers" ]; then export npm_config_nodedir="$trendcast_node_headers"; fi
node --version
