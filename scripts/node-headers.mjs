#!/usr/bin/env node
// Prints the directory that holds this Node's C headers (include/node/node_api.h),
// so node-gyp builds offline instead of downloading them.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";

const candidates = [
  process.env.npm_config_nodedir,
  join(dirname(process.execPath), ".."),
  "/usr",
  "/usr/local",
].filter(Boolean);
const found = candidates.find((d) => existsSync(join(d, "include/node/node_api.h")));
if (!found) {
  process.stderr.write(
    "node-headers: no Node.js headers found (include/node/node_api.h). Install them with your Node.js " +
      "(Debian/Ubuntu: apt-get install libnode-dev) and run again.\n",
  );
  process.exit(1);
}
console.log(found);
