// End-to-end test of `lmforge label` in real headless Chromium (Debian /usr/bin/chromium driven by
// npm playwright-core@1.65.1, pinned in package-lock.json). Usage:
//   node label_page.cjs LMFORGE_BINARY NODE_PREFIX        (NODE_PREFIX holds node_modules)
// It writes a random tiny model (../make_tiny_model.py) and three prompts, starts the server on a
// free port, and as labeler "ann": enters the name, reorders answers by drag and drop and by
// keyboard (Alt/Ctrl+arrows, number keys, T for a tie), submits with Ctrl+Enter, ranks a second
// prompt with a written better answer, marks the third "all bad", and sees "nothing left". Then
// "bob" (a second browser context, so a new session) gets the least-labelled prompt and the page
// reports agreement. After SIGTERM it checks the database through `lmforge label export` and
// `label stats`, and that bad databases exit 2. Any failed check exits non-zero.
'use strict';
const { spawn, spawnSync, execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const [bin, prefix] = process.argv.slice(2);
if (!bin || !prefix) {
  console.error('usage: node label_page.cjs LMFORGE_BINARY NODE_PREFIX');
  process.exit(2);
}
const { chromium } = require(path.join(prefix, 'node_modules', 'playwright-core'));
let failures = 0;
function check(cond, what) {
  console.log((cond ? 'ok   ' : 'FAIL ') + what);
  if (!cond) failures++;
}
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

async function startServer(args) {
  const srv = spawn(bin, ['label', ...args], {
    stdio: ['ignore', 'inherit', 'pipe'], env: { ...process.env, OMP_NUM_THREADS: '1' },
  });
  let err = '';
  const port = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('server did not start: ' + err)), 60000);
    srv.stderr.on('data', (d) => {
      err += d.toString();
      const m = err.match(/http:\/\/127\.0\.0\.1:(\d+)\//);
      if (m) { clearTimeout(t); resolve(Number(m[1])); }
    });
    srv.on('exit', (code) => { clearTimeout(t); reject(new Error('server exited ' + code + ': ' + err)); });
  });
  srv.stderr.on('data', (d) => process.stderr.write(d));
  return { srv, port };
}

async function order(page) {
  return page.$$eval('#answers > li.answer', (ls) => ls.map((l) => l.dataset.id));
}

async function ties(page) {
  return page.$$eval('#answers > li.answer', (ls) => ls.map((l) => l.querySelector('.tie-box').checked));
}

async function waitForPrompt(page, submitted) {
  await page.waitForFunction((n) => (document.body.dataset.submitted || '0') === String(n) &&
    (!document.getElementById('task').hidden || !document.getElementById('done').hidden), submitted);
}

async function main() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lmforge-label-e2e-'));
  const modelDir = path.join(tmp, 'tiny');
  execFileSync('/usr/bin/python3', [path.join(__dirname, '..', 'make_tiny_model.py'), modelDir, '256'],
               { stdio: 'inherit' });
  const prompts = path.join(tmp, 'prompts.jsonl');
  fs.writeFileSync(prompts, ['The cat', 'Once upon a time', 'Hello there'].map(
    (p) => JSON.stringify({ prompt: p })).join('\n') + '\n');
  const db = path.join(tmp, 'feedback.sqlite');
  const { srv, port } = await startServer(['--model', modelDir, '--prompts', prompts, '--db', db,
    '--port', '0', '--samples', '3', '--max-tokens', '8', '--seed', '7']);
  const base = `http://127.0.0.1:${port}`;
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  const external = [];
  try {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    page.on('request', (r) => { if (!r.url().startsWith(base)) external.push(r.url()); });
    page.on('pageerror', (e) => check(false, 'page error: ' + e.message));
    await page.goto(base + '/');
    check(await page.isVisible('#name-form'), 'the page asks for the labeler name');
    await page.fill('#name-input', 'ann');
    await page.click('#name-submit');
    await page.waitForSelector('#task:not([hidden]) #answers > li.answer');
    check((await page.textContent('#who-name')) === 'ann', 'name shown');
    const help = await page.textContent('#keys-help');
    check(/Alt/.test(help) && /Ctrl/.test(help) && /tie/.test(help), 'keyboard keys documented on the page');
    const first = await (await fetch(`${base}/api/next?labeler=ann`)).json();
    const prompt0 = first.prompt.id;
    check(first.prompt.text === 'The cat', 'least-labelled first, file order on ties: ' + first.prompt.text);
    check((await page.textContent('#prompt')) === 'The cat', 'prompt shown');
    const text = Object.fromEntries(first.answers.map((a) => [a.id, a.text]));
    const [x, y, z] = await order(page);
    check(same([x, y, z], first.answers.map((a) => a.id)), 'three answers in the served order');
    check(new Set(Object.values(text)).size === 3, 'answers are distinct');

    // Drag the last answer onto the upper half of the first one: it becomes the best.
    const li = page.locator('#answers > li.answer');
    await li.nth(2).locator('.grip').dragTo(li.nth(0), { targetPosition: { x: 40, y: 4 } });
    check(same(await order(page), [z, x, y]), 'drag and drop moved the last answer to the top');
    check((await li.nth(0).locator('.rank').textContent()) === '#1', 'places renumbered after the drop');

    // Keyboard: x is at place 2. Alt+Down -> [z,y,x]; Ctrl+Up -> [z,x,y]; "3" -> [z,y,x].
    await li.nth(1).focus();
    await page.keyboard.press('Alt+ArrowDown');
    check(same(await order(page), [z, y, x]), 'Alt+ArrowDown moves the focused answer down');
    check(await page.evaluate(() => document.activeElement.dataset.id) === String(x), 'focus follows the moved answer');
    await page.keyboard.press('Control+ArrowUp');
    check(same(await order(page), [z, x, y]), 'Ctrl+ArrowUp moves it up');
    await page.keyboard.press('3');
    check(same(await order(page), [z, y, x]), 'number key 3 moves it to place 3');
    await page.keyboard.press('t');
    check(same(await ties(page), [false, false, true]), 'T marks a tie with the one above');
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('t');  // the top answer cannot tie upward
    check(same(await ties(page), [false, false, true]), 'the top answer cannot tie');
    await page.keyboard.press('Control+Enter');
    await waitForPrompt(page, 1);
    const second = await (await fetch(`${base}/api/next?labeler=ann`)).json();
    check(second.prompt.id !== prompt0 && (await page.textContent('#prompt')) === second.prompt.text,
          'after submitting, the next prompt is shown');
    const order1 = await order(page);
    const better = 'A much better answer.';
    await page.fill('#better', better);
    await page.click('#submit');
    await waitForPrompt(page, 2);
    await page.check('#all-bad');
    await page.click('#submit');
    await waitForPrompt(page, 3);
    check(await page.isVisible('#done'), 'after every prompt: nothing left to rank');
    check(/Labelled 3\/3/.test(await page.textContent('#progress')), 'progress shows 3/3 labelled');

    // A second labeler in a new session gets the least-labelled prompt (all have one: file order),
    // puts the answers in the opposite order, and the page reports agreement.
    const ctx2 = await browser.newContext();
    const page2 = await ctx2.newPage();
    page2.on('pageerror', (e) => check(false, 'page error (bob): ' + e.message));
    await page2.goto(base + '/');
    await page2.fill('#name-input', 'bob');
    await page2.press('#name-input', 'Enter');
    await page2.waitForSelector('#task:not([hidden]) #answers > li.answer');
    check(await page2.evaluate(() => document.body.dataset.promptId) === prompt0,
          'bob gets the least-labelled prompt first');
    // Keyboard only: make the order [x, y, z] (ann: z > y = x).
    for (const [id, place] of [[x, 1], [y, 2], [z, 3]]) {
      await page2.focus(`#answers > li.answer[data-id="${id}"]`);
      await page2.keyboard.press(String(place));
    }
    check(same(await order(page2), [x, y, z]), 'bob ordered by number keys');
    await page2.click('#submit');
    await waitForPrompt(page2, 1);
    const prog = await page2.textContent('#progress');
    // ann: z > {y, x} tied; bob: x > y > z. Comparable pairs: (z,y) and (z,x), both discordant.
    check(/agreement: 0% of answer pairs/.test(prog), 'agreement shown on the page: ' + prog);
    const p = await (await fetch(`${base}/api/progress`)).json();
    check(p.rankings === 4 && p.labelled === 3 && p.agreement.concordant === 0 &&
          p.agreement.discordant === 2 && p.agreement.kendall_tau === -1, 'progress API: ' + JSON.stringify(p.agreement));
    const dup = await fetch(`${base}/api/submit`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ labeler: 'ann', prompt_id: prompt0, order: [x, y, z] }) });
    check(dup.status === 409, 'ranking the same prompt twice is refused (409)');
    const bad = await fetch(`${base}/api/submit`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ labeler: 'eve', prompt_id: prompt0, order: [x, y] }) });
    check(bad.status === 400, 'an order that is not a permutation is refused (400)');
    check(external.length === 0, 'no request left the server: ' + external.join(' '));

    srv.kill('SIGTERM');
    const code = await new Promise((r) => srv.on('exit', (c) => r(c)));
    check(code === 0, 'server stops cleanly on SIGTERM');

    // The database, through the exporter.
    const out = path.join(tmp, 'rankings.jsonl');
    execFileSync(bin, ['label', 'export', '--db', db, '--output', out], { stdio: 'inherit' });
    const lines = fs.readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    check(lines.length === 3, 'export: 3 rankings (the "all bad" one without an answer left out)');
    const annFirst = lines.find((l) => l.labeler === 'ann' && l.prompt === 'The cat');
    check(annFirst && same(annFirst.responses, [text[z], text[y], text[x]]), 'export: ann\'s drag+keyboard order');
    check(annFirst && same(annFirst.ties, [[1, 2]]), 'export: the tie');
    const annSecond = lines.find((l) => l.labeler === 'ann' && l.prompt === second.prompt.text);
    const t2 = Object.fromEntries(second.answers.map((a) => [a.id, a.text]));
    check(annSecond && same(annSecond.responses, [better, ...order1.map((id) => t2[id])]),
          'export: the written answer is the best');
    const bobFirst = lines.find((l) => l.labeler === 'bob');
    check(bobFirst && same(bobFirst.responses, [text[x], text[y], text[z]]), 'export: bob\'s keyboard order');
    const stats = spawnSync(bin, ['label', 'stats', '--db', db], { encoding: 'utf8' });
    check(stats.status === 0 && /labelled: 3\/3 prompts, 4 rankings \(1 all bad, 1 with a written/.test(stats.stdout),
          'label stats: ' + stats.stdout.split('\n')[1]);

    // Bad databases: clear message, exit 2.
    const junk = path.join(tmp, 'junk.sqlite');
    fs.writeFileSync(junk, 'x'.repeat(4096));
    const r1 = spawnSync(bin, ['label', 'export', '--db', junk, '--output', path.join(tmp, 'x.jsonl')], { encoding: 'utf8' });
    check(r1.status === 2 && /not a SQLite database/.test(r1.stderr), 'a non-database file exits 2');
    const r2 = spawnSync(bin, ['label', 'stats', '--db', path.join(tmp, 'none.sqlite')], { encoding: 'utf8' });
    check(r2.status === 2 && /file not found/.test(r2.stderr), 'a missing database exits 2');
  } finally {
    await browser.close();
    srv.kill('SIGTERM');
  }
  fs.rmSync(tmp, { recursive: true, force: true });
  if (failures > 0) {
    console.log(`${failures} check(s) failed`);
    process.exit(1);
  }
  console.log('all label page checks passed');
}

main().catch((e) => { console.error(e); process.exit(1); });
