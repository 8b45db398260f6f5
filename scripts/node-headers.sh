# Sourced by the scripts that build against Node (build-addon.sh, build-native.sh): when npm's `nodedir` is not set,
# point it at the running Node's own headers if its installation has them (Debian's and nodesource's nodejs put them
# in <prefix>/include/node). node-gyp and cmake-js would otherwise download the headers from nodejs.org, which a
# machine with only the npm registry and Debian's archive cannot reach.
if [ -z "${npm_config_nodedir:-}" ]; then
    node_prefix="$(node -p "require('path').resolve(process.execPath, '..', '..')")"
    if [ -f "$node_prefix/include/node/node_api.h" ] && [ -f "$node_prefix/include/node/common.gypi" ]; then
        export npm_config_nodedir="$node_prefix"
    fi
fi
