// Opens lmforge's report card (report.html) in real headless Chromium (Debian /usr/bin/chromium
// driven by playwright-core 1.65.1) via file://, optionally checks it, and saves a screenshot.
// Used by the e2e test (tests/e2e/report/run.sh, with --check) and by
// scripts/screenshot-report.sh (screenshot only).
//
// usage: node report_page.cjs --modules DIR --html REPORT.html --screenshot OUT.png
//          [--check] [--stages a,b,c] [--expect-notice] [--dark] [--width N] [--height N]
//   --modules        directory holding node_modules/playwright-core
//   --check          fail (exit 1) unless: no console errors, page errors or network requests;
//                    every chart is an <svg> with non-empty path/polyline data and a visible box;
//                    the probe table has a row per --stages entry, in order; no <script>/<img>
//                    elements (injection attempts in the inputs stayed text); the dark colour
//                    scheme really switches the page colours; --expect-notice: the
//                    simulated-ranker notice is shown
//   --dark           screenshot in the dark colour scheme
//   --width N        viewport width (default 1200); --height N: clip the screenshot to the top
//                    N pixels (default: the full page)
'use strict';
const fs = require('fs');
const path = require('path');

function parseArgs(argv) {
  const a = { width: 1200, height: 0, stages: [], check: false, notice: false, dark: false };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = () => {
      if (i + 1 >= argv.length) throw new Error(`${k} needs a value`);
      return argv[++i];
    };
    if (k === '--modules') a.modules = v();
    else if (k === '--html') a.html = v();
    else if (k === '--screenshot') a.screenshot = v();
    else if (k === '--stages') a.stages = v().split(',').filter((s) => s.length > 0);
    else if (k === '--width') a.width = Number(v());
    else if (k === '--height') a.height = Number(v());
    else if (k === '--check') a.check = true;
    else if (k === '--expect-notice') a.notice = true;
    else if (k === '--dark') a.dark = true;
    else throw new Error(`unknown option ${k}`);
  }
  if (!a.modules || !a.html || !a.screenshot) throw new Error('--modules, --html and --screenshot are required');
  if (!(a.width > 0) || !(a.height >= 0)) throw new Error('--width and --height must be positive numbers');
  return a;
}

let failures = 0;
function check(cond, what) {
  console.log((cond ? 'ok   ' : 'FAIL ') + what);
  if (!cond) failures++;
}

async function main() {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error('report_page.cjs: ' + e.message);
    process.exit(2);
  }
  const html = path.resolve(args.html);
  if (!fs.existsSync(html)) {
    console.error(`report_page.cjs: ${html} does not exist (run \`lmforge report --dir DIR\` first)`);
    process.exit(2);
  }
  const { chromium } = require(path.join(path.resolve(args.modules), 'node_modules', 'playwright-core'));
  // Chromium's sandbox cannot start as root (containers, CI); elsewhere keep it.
  const launchArgs = process.getuid && process.getuid() === 0 ? ['--no-sandbox'] : [];
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: launchArgs });
  try {
    const page = await browser.newPage({ viewport: { width: args.width, height: 900 } });
    const problems = [];
    page.on('console', (m) => { if (m.type() === 'error') problems.push('console error: ' + m.text()); });
    page.on('pageerror', (e) => problems.push('page error: ' + e.message));
    page.on('dialog', (d) => { problems.push('dialog: ' + d.message()); d.dismiss(); });
    page.on('request', (r) => {
      if (!r.url().startsWith('file://')) problems.push('network request: ' + r.url());
    });
    const url = 'file://' + html;
    const resp = await page.goto(url, { waitUntil: 'load' });
    if (args.check) {
      check(resp === null || resp.ok(), 'page loads from ' + url);
      const info = await page.evaluate(() => {
        const charts = [...document.querySelectorAll('svg.lmf-chart')].map((svg) => {
          const box = svg.getBoundingClientRect();
          const d = [...svg.querySelectorAll('path')].map((p) => p.getAttribute('d') || '')
            .concat([...svg.querySelectorAll('polyline')].map((p) => p.getAttribute('points') || ''));
          return {
            title: svg.getAttribute('aria-label'),
            w: box.width, h: box.height,
            data: d.filter((s) => /[0-9]/.test(s)).length,
            ticks: svg.querySelectorAll('text.lmf-tick').length,
          };
        });
        const rows = [...document.querySelectorAll('table.probes tbody tr')].map((r) => r.getAttribute('data-stage'));
        const bodyBg = getComputedStyle(document.body).backgroundColor;
        return {
          title: document.title,
          charts, rows, bodyBg,
          scripts: document.querySelectorAll('script').length,
          imgs: document.querySelectorAll('img').length,
          notice: !!document.querySelector('#simulated-ranker'),
          h2: [...document.querySelectorAll('h2')].map((h) => h.textContent),
        };
      });
      check(info.title.length > 0, `document has a title (${JSON.stringify(info.title)})`);
      check(info.charts.length > 0, `${info.charts.length} charts`);
      for (const c of info.charts) {
        check(c.data > 0 && c.w > 50 && c.h > 50 && c.ticks >= 2,
              `chart "${c.title}": ${c.data} paths with data, ${c.ticks} tick labels, ${Math.round(c.w)}x${Math.round(c.h)} px`);
      }
      if (args.stages.length > 0) {
        check(JSON.stringify(info.rows) === JSON.stringify(args.stages),
              `probe table rows ${JSON.stringify(info.rows)} are the stages ${JSON.stringify(args.stages)}`);
      } else {
        check(info.rows.length > 0, `probe table has ${info.rows.length} rows`);
      }
      for (const h of ['What each stage did', 'Probes per stage', 'Training curves', 'Throughput and time', 'Samples before and after']) {
        check(info.h2.includes(h), `section "${h}"`);
      }
      check(info.scripts === 0 && info.imgs === 0, `no <script> or <img> elements (${info.scripts}, ${info.imgs})`);
      if (args.notice) check(info.notice, 'simulated-ranker notice shown');
      await page.emulateMedia({ colorScheme: 'dark' });
      const darkBg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      const lum = (rgb) => (rgb.match(/\d+/g) || [0, 0, 0]).slice(0, 3).map(Number).reduce((s, x) => s + x, 0);
      check(lum(info.bodyBg) > 600 && lum(darkBg) < 150,
            `light background ${info.bodyBg}, dark background ${darkBg}`);
      await page.emulateMedia({ colorScheme: 'light' });
    }
    if (args.dark) await page.emulateMedia({ colorScheme: 'dark' });
    const shot = { path: path.resolve(args.screenshot), fullPage: args.height === 0 };
    if (args.height > 0) {
      await page.setViewportSize({ width: args.width, height: args.height });
      shot.clip = { x: 0, y: 0, width: args.width, height: args.height };
    }
    await page.screenshot(shot);
    const png = fs.readFileSync(shot.path);
    const sig = png.subarray(0, 8).toString('hex') === '89504e470d0a1a0a';
    if (args.check) check(sig && png.length > 10000, `screenshot ${shot.path} (${png.length} bytes)`);
    else if (!sig) failures++;
    if (args.check) {
      check(problems.length === 0, 'no console errors, page errors, dialogs or network requests' +
            (problems.length ? ': ' + problems.join('; ') : ''));
    } else if (problems.length) {
      console.error('warning: ' + problems.join('; '));
    }
    if (!args.check) console.log('wrote ' + shot.path);
  } finally {
    await browser.close();
  }
  process.exit(failures ? 1 : 0);
}

main().catch((e) => {
  console.error('FAIL ' + (e && e.stack ? e.stack : e));
  process.exit(1);
});
