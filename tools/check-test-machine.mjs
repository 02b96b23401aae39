// The first step of `npm test`: what the tests need from this machine beyond `npm install`. The Redis tests
// start their own redis-server (from the PATH) and the demo's browser test drives Chromium
// ($CHROMIUM_PATH, else /usr/bin/chromium); without them those tests fail (never skip) minutes later.
// This says at once, in its first line, what is missing and the one command that installs it.
// (.ci/run installs both before it runs `npm test`.)
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

function executable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

const onPath = (command) => (process.env.PATH ?? "").split(delimiter).some((dir) => executable(join(dir, command)));

const chromium = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const missing = [
  !onPath("redis-server") && { what: "redis-server (on the PATH)", apt: "redis-server", brew: "redis" },
  !executable(chromium) && {
    what: `Chromium (at ${chromium}; set CHROMIUM_PATH)`,
    apt: "chromium",
    brew: "--cask chromium",
  },
].filter(Boolean);

if (missing.length > 0) {
  const sudo = process.getuid?.() === 0 ? "" : "sudo ";
  const install = onPath("apt-get")
    ? `${sudo}apt-get update && ${sudo}apt-get install -y ${missing.map((m) => m.apt).join(" ")}`
    : onPath("brew")
      ? missing.map((m) => `brew install ${m.brew}`).join(" && ")
      : `install ${missing.map((m) => m.apt).join(" and ")} with your package manager`;
  console.error(`npm test needs ${missing.map((m) => m.what).join(" and ")}, missing here; install with: ${install}`);
  console.error("(The Redis tests start their own redis-server; the demo's browser test drives Chromium.)");
  process.exit(1);
}
