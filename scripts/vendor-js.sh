#!/bin/sh
# Copy the browser builds the verify page needs from node_modules/ into
# cardservice/static/vendor/. The copies are committed: the pages then work with no
# internet and `make test` needs no npm. Run after changing a version in package.json:
#
#   npm ci --ignore-scripts && sh scripts/vendor-js.sh     (or: npm run vendor)
#
# --ignore-scripts: nothing here needs an install script, so none is run.
set -eu
cd "$(dirname "$0")/.."
if [ ! -d node_modules/zxing-wasm ] || [ ! -d node_modules/cborg ] || [ ! -d node_modules/axe-core ]; then
    npm ci --ignore-scripts
fi
out=cardservice/static/vendor
rm -rf "$out/zxing-wasm" "$out/cborg"

# zxing-wasm: the reader-only ES build and its WebAssembly (zxing-cpp, the decoder the
# server uses too). The layout under dist/ is kept, because index.js imports ../share.js.
z=node_modules/zxing-wasm
mkdir -p "$out/zxing-wasm/es/reader" "$out/zxing-wasm/reader"
cp "$z/dist/es/share.js" "$out/zxing-wasm/es/share.js"
cp "$z/dist/es/reader/index.js" "$out/zxing-wasm/es/reader/index.js"
cp "$z/dist/reader/zxing_reader.wasm" "$out/zxing-wasm/reader/zxing_reader.wasm"
cp "$z/LICENSE" "$out/zxing-wasm/LICENSE"
# The WebAssembly holds zxing-cpp (Apache-2.0); the npm package names that licence in
# its README but does not ship its text, so it is kept here from scripts/licenses/.
cp scripts/licenses/zxing-cpp-LICENSE "$out/zxing-wasm/LICENSE.zxing-cpp"

# cborg: a strict CBOR decoder (shortest-form integers and lengths, no indefinite
# lengths, no duplicate map keys), published as plain ES modules without a bundle; we
# copy lib/decode.js and the modules it imports, found by following its imports.
mkdir -p "$out/cborg/lib"
node -e '
const fs = require("fs"), path = require("path");
const src = "node_modules/cborg/lib", dst = process.argv[1];
const todo = ["decode.js"], seen = new Set();
while (todo.length) {
  const name = todo.pop();
  if (seen.has(name)) continue;
  seen.add(name);
  const text = fs.readFileSync(path.join(src, name), "utf8");
  for (const m of text.matchAll(/^import [^;]*? from \x27\.\/([\w.-]+)\x27/gm)) todo.push(m[1]);
  fs.writeFileSync(path.join(dst, name), text);
}
' "$out/cborg/lib"
cp node_modules/cborg/LICENSE "$out/cborg/LICENSE"

# Versions, for the reader of the tree (and the test that checks the copies are fresh).
node -e '
const fs = require("fs");
const lock = JSON.parse(fs.readFileSync("package-lock.json", "utf8"));
const v = (n) => lock.packages["node_modules/" + n].version;
fs.writeFileSync(process.argv[1], JSON.stringify({
  "zxing-wasm": v("zxing-wasm"), "cborg": v("cborg"),
}, null, 2) + "\n");
' "$out/VERSIONS.json"
# axe-core: the accessibility engine of the browser tests only (tests/e2e/axe.py); it is
# copied under tests/, so the service never serves it.
t=tests/e2e/vendor
rm -rf "$t/axe-core" && mkdir -p "$t/axe-core"
cp node_modules/axe-core/axe.min.js node_modules/axe-core/LICENSE \
   node_modules/axe-core/LICENSE-3RD-PARTY.txt "$t/axe-core/"
node -e '
const fs = require("fs");
const lock = JSON.parse(fs.readFileSync("package-lock.json", "utf8"));
fs.writeFileSync(process.argv[1], JSON.stringify({
  "axe-core": lock.packages["node_modules/axe-core"].version,
}, null, 2) + "\n");
' "$t/VERSIONS.json"

echo "vendored into $out:"
find "$out" -type f -exec ls -l {} + | awk '{print $5, $9}'
