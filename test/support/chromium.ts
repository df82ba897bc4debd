import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CHROMIUM = '/usr/bin/chromium';
const INSTALL_TIMEOUT_MS = 10 * 60_000;

/**
 * The dashboard test drives Debian's chromium (playwright-core downloads no browser). A fresh CI machine does
 * not have it: as root with apt-get available, install it once (`apt-get update && apt-get install -y chromium`,
 * at most 10 minutes); otherwise fail with what to run.
 */
export function ensureChromium(): string {
  if (existsSync(CHROMIUM)) return CHROMIUM;
  const hint = `the dashboard test needs Debian's chromium at ${CHROMIUM}: run \`sudo apt-get update && sudo apt-get install -y chromium\``;
  if (process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get')) throw new Error(hint);
  console.log(`${CHROMIUM} is missing: installing Debian's chromium with apt-get (once per machine)...`);
  const started = Date.now();
  const install = spawnSync('sh', ['-c', 'apt-get update -qq && apt-get install -y -qq chromium'], {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    timeout: INSTALL_TIMEOUT_MS,
    encoding: 'utf8',
  });
  if (install.status !== 0 || !existsSync(CHROMIUM)) {
    const why = install.error ? install.error.message : `exit ${install.status}: ${(install.stderr || install.stdout).slice(-2000)}`;
    throw new Error(`installing chromium failed (${why}); ${hint}`);
  }
  console.log(`chromium installed in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return CHROMIUM;
}

/** Headless, no sandbox (root in CI), nothing that reaches the network, a fresh profile. */
export function chromiumLaunchOptions(executablePath: string) {
  return {
    executablePath,
    userDataDir: mkdtempSync(join(tmpdir(), 'modelgate-chromium-')),
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  };
}
