import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderHtmlReport } from '../src/harness/html-report.js';
import type { RunResult } from '../src/harness/run-result.js';
import { runCli } from '../test/cli-run.js';

/**
 * The HTML report opened in a real headless Chromium (Debian's `chromium`, or CHROMIUM_PATH):
 * every plot draws its lines, the page logs no error and asks the network for nothing, and a
 * hostile scenario name stays text. Screenshots land in test-browser/out/ for a person to look at.
 */
const EXECUTABLE = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const OUT = fileURLToPath(new URL('./out/', import.meta.url));
/** The page script's first series colour (#1f77b4): every plot has at least one such line. */
const FIRST_SERIES_RGB = [0x1f, 0x77, 0xb4] as const;

// Browser globals used inside page.evaluate (this file is type-checked without the DOM library).
interface PixelBitmap {
  width: number;
  height: number;
}
declare const createImageBitmap: (blob: Blob) => Promise<PixelBitmap>;
declare class OffscreenCanvas {
  constructor(width: number, height: number);
  getContext(kind: '2d'): {
    drawImage(image: PixelBitmap, x: number, y: number): void;
    getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray };
  } | null;
}

let browser: Browser;
const dir = mkdtempSync(join(tmpdir(), 'ledgerctl-html-'));

beforeAll(async () => {
  if (!existsSync(EXECUTABLE)) {
    throw new Error(
      `no Chromium at ${EXECUTABLE}: install it (apt-get install -y chromium) or set CHROMIUM_PATH`,
    );
  }
  mkdirSync(OUT, { recursive: true });
  browser = await chromium.launch({
    executablePath: EXECUTABLE,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
});

afterAll(async () => {
  await browser?.close();
});

interface Opened {
  page: Page;
  errors: string[];
  requests: string[];
  dialogs: string[];
}

async function open(file: string): Promise<Opened> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const opened: Opened = { page, errors: [], requests: [], dialogs: [] };
  const url = pathToFileURL(file).href;
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') opened.errors.push(m.text());
  });
  page.on('pageerror', (e) => opened.errors.push(e.message));
  page.on('request', (r) => {
    if (r.url() !== url) opened.requests.push(r.url());
  });
  page.on('dialog', (d) => {
    opened.dialogs.push(d.message());
    void d.dismiss();
  });
  await page.goto(url);
  await page.waitForSelector('body[data-plots="drawn"]', { timeout: 10_000 });
  return opened;
}

/** Pixels of the first series' colour in a screenshot of the element, decoded by the browser itself. */
async function linePixels(page: Page, selector: string): Promise<number> {
  const png = await page.locator(selector).screenshot();
  const decoder = await browser.newPage();
  try {
    return await decoder.evaluate(
      async ({ b64, rgb }) => {
        const blob = await (await fetch(`data:image/png;base64,${b64}`)).blob();
        const bitmap = await createImageBitmap(blob);
        const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
        const ctx = canvas.getContext('2d')!;
        ctx.drawImage(bitmap, 0, 0);
        const { data } = ctx.getImageData(0, 0, bitmap.width, bitmap.height);
        let n = 0;
        for (let i = 0; i < data.length; i += 4) {
          if (
            Math.abs(data[i]! - rgb[0]) < 24 &&
            Math.abs(data[i + 1]! - rgb[1]) < 24 &&
            Math.abs(data[i + 2]! - rgb[2]) < 24
          )
            n++;
        }
        return n;
      },
      { b64: png.toString('base64'), rgb: FIRST_SERIES_RGB },
    );
  } finally {
    await decoder.close();
  }
}

describe('HTML report in headless Chromium', () => {
  let runJson: RunResult;

  it('a real load run (a rate ramp): the three plots draw their lines, no console error, no network request', async () => {
    const html = join(dir, 'load.html');
    const json = join(dir, 'load.json');
    const r = await runCli([
      'load',
      '--start-rate',
      '100',
      '--stage',
      '2s:300',
      '--stage',
      '2s:300',
      '--mix',
      'transfer=3,get=1',
      '--threshold',
      'p99(transfer) < 10s',
      '--no-status',
      '--html',
      html,
      '--json',
      json,
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    runJson = JSON.parse(readFileSync(json, 'utf8'));
    const { page, errors, requests } = await open(html);
    for (const id of ['plot-pct-0', 'plot-latency-0', 'plot-rate-0']) {
      await expect(page.locator(`#${id} canvas`).count()).resolves.toBe(1);
      // A drawn line is hundreds of pixels; axes and grid are grey and do not count.
      expect(await linePixels(page, `#${id} canvas`), id).toBeGreaterThan(200);
    }
    await expect(page.locator('#s0 .status').first().textContent()).resolves.toBe('pass');
    await expect(page.locator('#s0 h3', { hasText: 'by stage' }).count()).resolves.toBe(1);
    await page.screenshot({ path: join(OUT, 'load-report.png'), fullPage: true });
    expect(errors).toEqual([]);
    expect(requests).toEqual([]);
    await page.close();
  });

  it('a hostile scenario, group and message stay text: no script runs, no element appears', async () => {
    const evil = '<img src=x onerror="alert(1)"></script><script>alert(2)</script>\u2028';
    const hostile: RunResult = {
      ...runJson,
      scenario: evil,
      file: `${evil}.yaml`,
      groups: runJson.groups.map((g) => ({ ...g, name: evil, phase: evil })),
      notes: [evil],
      verdicts: [{ name: evil, passed: false, summary: evil, evidence: [evil] }],
      thresholds: [{ threshold: evil, limit: evil, observed: evil, status: 'fail', note: evil }],
    };
    const file = join(dir, 'hostile.html');
    // Two sections, as gate writes them.
    writeFileSync(file, renderHtmlReport([hostile, runJson], [1, 0]));
    const { page, errors, requests, dialogs } = await open(file);
    expect(dialogs).toEqual([]);
    await expect(page.locator('img').count()).resolves.toBe(0);
    await expect(page.locator('h1').textContent()).resolves.toContain('2 scenarios');
    await expect(page.locator('#s0 h2').textContent()).resolves.toContain(evil);
    await expect(page.locator('#s1 canvas').count()).resolves.toBe(3);
    expect(await linePixels(page, '#plot-pct-1 canvas')).toBeGreaterThan(200);
    await page.screenshot({ path: join(OUT, 'hostile-report.png'), fullPage: true });
    expect(errors).toEqual([]);
    expect(requests).toEqual([]);
    await page.close();
  });
});
