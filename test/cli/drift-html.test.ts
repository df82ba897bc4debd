// `modelgate drift --html`: the report as a person opens it, in headless Chromium from a file (the browser the
// dashboard test drives): the summary first, drifted features marked with their charts, no script, no
// request, and text from the data (a column named `<script>`) shown as text.
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCsv } from '../../lambdas/core/csv';
import { featureTable, h, toMarkup } from '../../local/dashboard/drift-view.js';
import { chromiumLaunchOptions, ensureChromium } from '../support/chromium';
import { runCli } from '../support/cli';

const root = fileURLToPath(new URL('../..', import.meta.url));
const directory = mkdtempSync(join(tmpdir(), 'modelgate-drift-html-'));
const XSS = '<script>document.title="pwned"</script>';
let browser: BrowserContext;
let userDataDir: string;

beforeAll(async () => {
  const { userDataDir: profile, ...launch } = chromiumLaunchOptions(ensureChromium());
  userDataDir = profile;
  browser = await chromium.launchPersistentContext(userDataDir, { ...launch, headless: true, viewport: { width: 1200, height: 900 } });
}, 120_000);
afterAll(async () => {
  await browser?.close();
  rmSync(userDataDir, { recursive: true, force: true });
  rmSync(directory, { recursive: true, force: true });
});

function file(name: string, text: string): string {
  const path = join(directory, name);
  writeFileSync(path, text);
  return path;
}

/** The fixture's current rows after an upstream release sends charges in cents and tenure in days (bench/time-to-page.ts). */
function unitChange(csv: string): string {
  const table = parseCsv(csv);
  const scale: Record<string, number> = { MonthlyCharges: 100, TotalCharges: 100, tenure: 30 };
  const rows = table.rows.map((cells) => cells.map((cell, i) => (scale[table.header[i]!] && cell !== '' ? String(Number(cell) * scale[table.header[i]!]!) : cell)));
  const quote = (cell: string) => (/[",]/.test(cell) ? `"${cell.replaceAll('"', '""')}"` : cell);
  return [table.header, ...rows].map((cells) => cells.map(quote).join(',')).join('\n');
}

/** Opens the report from its file; fails on any request but the file itself, any script error or dialog. */
async function open(path: string) {
  const page = await browser.newPage();
  const unexpected: string[] = [];
  page.on('request', (request) => {
    if (request.url() !== pathToFileURL(path).href) unexpected.push(`request ${request.url()}`);
  });
  page.on('pageerror', (error) => unexpected.push(error.message));
  page.on('dialog', (dialog) => unexpected.push(`dialog ${dialog.message()}`));
  await page.goto(pathToFileURL(path).href);
  return { page, unexpected };
}

describe('toMarkup', () => {
  it('escapes text and attribute values from data, in the feature table too', () => {
    expect(toMarkup(h('td', { title: `"it's" <b>` }, '<script>&'))).toBe('<td title="&quot;it&#39;s&quot; &lt;b&gt;">&lt;script&gt;&amp;</td>');
    const view = {
      name: XSS,
      kind: 'categorical' as const,
      method: 'chisquare' as const,
      statistic: 1,
      pValue: 0.5,
      threshold: 0.05,
      status: 'no-drift' as const,
      values: 40,
      minimum: 30,
      missing: 0,
      distribution: { kind: 'categorical' as const, bins: [{ label: '<img src=x onerror=alert(1)>', reference: 1, current: 1 }], referenceValues: 40, currentValues: 40 },
    };
    const markup = toMarkup(featureTable([view]));
    expect(markup).not.toContain('<script');
    expect(markup).not.toContain('<img');
    expect(markup).toContain('data-feature="&lt;script&gt;document.title=&quot;pwned&quot;&lt;/script&gt;"');
  });
});

describe.concurrent('modelgate drift --reference --current --html, opened in headless Chromium', () => {
  it('the summary first: the verdict, the drifted features and the samples; then every feature with its chart', async () => {
    // Run where the files are, as a person would: the report names them as given.
    file('telco-reference.csv', readFileSync(join(root, 'test/fixtures/drift/telco-reference.csv'), 'utf8'));
    file('telco-cents.csv', unitChange(readFileSync(join(root, 'test/fixtures/drift/telco-current.csv'), 'utf8')));
    const args = ['drift', '--reference', 'telco-reference.csv', '--current', 'telco-cents.csv', '--exclude', 'customerID,Churn', '--html', 'drift-report.html'];
    const run = await runCli(args, { cwd: directory });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('report written to drift-report.html');
    const report = join(directory, 'drift-report.html');
    const html = readFileSync(report, 'utf8');
    expect(html).not.toMatch(/<script|<link|src=|href=/i);
    const { page, unexpected } = await open(report);
    try {
      const section = page.locator('section').first();
      // What the person paged reads first comes before the table.
      await expect(section.locator('.summary, table').first().getAttribute('class')).resolves.toBe('summary');
      await expect(section.locator('.summary .verdict').textContent()).resolves.toMatch(/^(DATASET DRIFT|no dataset drift) \d+\.\d% of 19 assessed features drifted/);
      const drifted = await section.locator('.summary ul.drifted li strong').allTextContents();
      expect(drifted).toEqual(expect.arrayContaining(['MonthlyCharges', 'TotalCharges', 'tenure']));
      await expect(section.locator('.summary dl').textContent()).resolves.toMatch(/^referencetelco-reference\.csv, \d+ rowscurrenttelco-cents\.csv, 1200 rows$/);
      for (const name of ['MonthlyCharges', 'tenure']) {
        const row = section.locator(`tr[data-feature="${name}"]`);
        await expect(row.getAttribute('data-status')).resolves.toBe('drift');
        expect(await row.locator('svg.distribution rect').count()).toBeGreaterThan(4);
      }
      await expect(section.locator('tr[data-feature="Contract"]').getAttribute('data-status')).resolves.toBe('no-drift');
      // Most drifted first.
      expect((await section.locator('tbody tr').first().getAttribute('data-status')) ?? '').toBe('drift');
      expect(await page.locator('script').count()).toBe(0);
      expect(unexpected).toEqual([]);
      const screenshot = join(directory, 'drift-report.png');
      await page.screenshot({ path: screenshot, fullPage: true });
      // The docs' picture: MODELGATE_SCREENSHOTS=docs/images npx vitest run test/cli/drift-html.test.ts
      if (process.env.MODELGATE_SCREENSHOTS) copyFileSync(screenshot, join(process.env.MODELGATE_SCREENSHOTS, 'drift-report.png'));
      expect(existsSync(screenshot)).toBe(true);
    } finally {
      await page.close();
    }
  });

  it(`a column named ${XSS} and categories that look like markup are shown as text, never run`, async () => {
    const rows = (values: readonly string[]) => values.map((v, i) => `${i},"${v}"`).join('\n');
    const reference = file('xss-reference.csv', `${XSS.replaceAll('"', '""').replace(/^/, '"').concat('"')},plan\n${rows(new Array(40).fill('<b>basic</b>'))}\n`);
    const current = file('xss-current.csv', `${XSS.replaceAll('"', '""').replace(/^/, '"').concat('"')},plan\n${rows(new Array(40).fill('<img src=x onerror=alert(1)>'))}\n`);
    const report = join(directory, 'xss.html');
    const run = await runCli(['drift', '--reference', reference, '--current', current, '--html', report], { cwd: root });
    expect(run.code).toBe(0);
    const { page, unexpected } = await open(report);
    try {
      await expect(page.locator('tbody tr strong').allTextContents()).resolves.toEqual(expect.arrayContaining([XSS, 'plan']));
      await expect(page.locator('tr[data-feature="plan"] svg title').allTextContents()).resolves.toEqual(
        expect.arrayContaining([expect.stringContaining('<img src=x onerror=alert(1)>: reference 0.0%, current 100.0%')]),
      );
      await expect(page.title()).resolves.toMatch(/^Drift of /);
      expect(await page.locator('script, img').count()).toBe(0);
      expect(unexpected).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
