// End-to-end test of `lmforge serve` with the official OpenAI Node client (openai@6.49.0, the last
// release that runs on Node 20). Usage: node openai_client.cjs LMFORGE_BINARY NODE_PREFIX
// (NODE_PREFIX holds node_modules/openai). It writes a random tiny model (make_tiny_model.py),
// starts the server on a free port with an API key, and checks: list models; chat completion;
// streaming chat (same text as non-streaming at temperature 0); completion with logprobs; n > 1;
// the error cases (unknown model 404, bad key 401, prompt over the context 400, malformed JSON
// 400, missing field 400) each in OpenAI's error JSON while the server keeps serving; a client
// that disconnects mid-stream frees its slot; a bounded load test (200 requests, 16 at a time)
// with no failure, printing latency percentiles. Any failed check exits non-zero.
'use strict';
const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');

const [bin, prefix] = process.argv.slice(2);
if (!bin || !prefix) {
  console.error('usage: node openai_client.cjs LMFORGE_BINARY NODE_PREFIX');
  process.exit(2);
}
const OpenAI = require(path.join(prefix, 'node_modules', 'openai'));
const KEY = 'sk-lmforge-test';
let failures = 0;
function check(cond, what) {
  if (cond) {
    console.log('ok   ' + what);
  } else {
    failures++;
    console.log('FAIL ' + what);
  }
}

async function startServer(modelDir) {
  const srv = spawn(bin, ['serve', '--model', modelDir, '--port', '0', '--api-key', KEY,
                          '--parallel', '4'], { stdio: ['ignore', 'inherit', 'pipe'],
                          env: { ...process.env, OMP_NUM_THREADS: '1' } });
  let err = '';
  const port = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('server did not start: ' + err)), 30000);
    srv.stderr.on('data', (d) => {
      err += d.toString();
      const m = err.match(/http:\/\/127\.0\.0\.1:(\d+)\/v1/);
      if (m) { clearTimeout(t); resolve(Number(m[1])); }
    });
    srv.on('exit', (code) => reject(new Error('server exited ' + code + ': ' + err)));
  });
  return { srv, port };
}

async function raw(port, pathname, body, key = KEY) {
  const r = await fetch(`http://127.0.0.1:${port}${pathname}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + key },
    body,
  });
  let j = null;
  try { j = await r.json(); } catch (e) { /* checked by the caller */ }
  return { status: r.status, json: j };
}

function isErrorShape(j) {
  return j && j.error && typeof j.error.message === 'string' && typeof j.error.type === 'string' &&
         'param' in j.error && 'code' in j.error;
}

async function expectApiError(what, fn, status, code) {
  try {
    await fn();
    check(false, what + ': expected an error');
  } catch (e) {
    check(e.status === status, `${what}: HTTP ${e.status} (want ${status})`);
    if (code) check(e.code === code, `${what}: code ${e.code} (want ${code})`);
  }
}

async function main() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lmforge-e2e-'));
  const modelDir = path.join(tmp, 'tiny');
  execFileSync('/usr/bin/python3', [path.join(__dirname, 'make_tiny_model.py'), modelDir, '1024'],
               { stdio: 'inherit' });
  const { srv, port } = await startServer(modelDir);
  const client = new OpenAI({ apiKey: KEY, baseURL: `http://127.0.0.1:${port}/v1`, maxRetries: 0 });
  try {
    const models = await client.models.list();
    check(models.data.length === 1 && models.data[0].id === 'tiny', 'models.list: one model "tiny"');
    const model = models.data[0].id;
    const messages = [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'Hello there' }];

    const chat = await client.chat.completions.create({ model, messages, max_tokens: 12, temperature: 0 });
    const c0 = chat.choices[0];
    check(c0.message.role === 'assistant' && typeof c0.message.content === 'string', 'chat: assistant message');
    check(['stop', 'length'].includes(c0.finish_reason), 'chat: finish_reason ' + c0.finish_reason);
    check(chat.usage.completion_tokens <= 12 && chat.usage.prompt_tokens > 0 &&
          chat.usage.total_tokens === chat.usage.prompt_tokens + chat.usage.completion_tokens, 'chat: usage');

    const stream = await client.chat.completions.create({ model, messages, max_tokens: 12, temperature: 0, stream: true });
    let text = '', chunks = 0, finish = null;
    for await (const ch of stream) {
      chunks++;
      text += ch.choices[0]?.delta?.content ?? '';
      if (ch.choices[0]?.finish_reason) finish = ch.choices[0].finish_reason;
    }
    check(chunks >= 2 && finish !== null, `streaming chat: ${chunks} chunks, finish ${finish}`);
    check(text === c0.message.content, 'streaming chat text equals the non-streaming one (temperature 0)');

    const cmpl = await client.completions.create({ model, prompt: 'The cat sat on the', max_tokens: 8,
                                                   temperature: 0, logprobs: 2 });
    const k0 = cmpl.choices[0];
    check(typeof k0.text === 'string' && cmpl.object === 'text_completion', 'completion: text');
    check(k0.logprobs && k0.logprobs.token_logprobs.length === cmpl.usage.completion_tokens &&
          k0.logprobs.top_logprobs.every((t) => Object.keys(t).length >= 1), 'completion: logprobs');
    const seeded = (s) => client.completions.create({ model, prompt: 'Once', max_tokens: 10, seed: s, n: 2 });
    const [a, b] = [await seeded(7), await seeded(7)];
    check(a.choices.length === 2 && a.choices[0].text === b.choices[0].text &&
          a.choices[1].text === b.choices[1].text, 'completion: n=2, a seed reproduces the text');

    await expectApiError('unknown model', () => client.chat.completions.create({ model: 'nope', messages }), 404, 'model_not_found');
    const bad = new OpenAI({ apiKey: 'sk-wrong', baseURL: `http://127.0.0.1:${port}/v1`, maxRetries: 0 });
    await expectApiError('wrong API key', () => bad.models.list(), 401, 'invalid_api_key');
    await expectApiError('prompt longer than the context',
      () => client.completions.create({ model, prompt: 'word '.repeat(1100), max_tokens: 4 }), 400, 'context_length_exceeded');
    let r = await raw(port, '/v1/chat/completions', '{"model": "tiny", "messages": [');
    check(r.status === 400 && isErrorShape(r.json), 'malformed JSON: 400 with the error shape');
    r = await raw(port, '/v1/chat/completions', JSON.stringify({ model }));
    check(r.status === 400 && isErrorShape(r.json) && r.json.error.param === 'messages', 'missing messages: 400, param "messages"');
    r = await raw(port, '/health');
    check(r.status === 200 && r.json.status === 'ok', 'server still healthy after the errors');

    // A client that disconnects mid-stream frees its slot: a 1000-token stream is dropped after
    // two chunks; the server must count it cancelled (not finished) and end with no active slot.
    const before = (await raw(port, '/health')).json.cancelled;
    // On a fast machine the stream can end before the server sees the client leave (then that
    // attempt tested nothing): up to 5 attempts, each must leave no active slot.
    let h = null;
    for (let attempt = 0; attempt < 5 && !(h && h.cancelled > before); attempt++) {
    // (A raw request, so that the socket is closed the moment the first chunk arrives: the SDK's
    // fetch would keep draining the body into its buffer after an abort.)
    await new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/chat/completions',
                                 headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + KEY } },
                               (res) => res.once('data', () => { req.destroy(); resolve(); }));
      req.on('error', () => resolve());
      req.end(JSON.stringify({ model, messages, max_tokens: 1000, stream: true }));
      setTimeout(() => reject(new Error('no first chunk')), 10000);
    });
    for (let i = 0; i < 100; i++) {
      h = (await raw(port, '/health')).json;
      if (h.active === 0 && h.cancelled > before) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    }
    check(h.active === 0 && h.cancelled >= before + 1,
          `an aborted stream is cancelled and frees its slot (active ${h.active}, cancelled ${h.cancelled - before})`);

    // Load: 200 requests, 16 at a time.
    const lat = [];
    let errors = 0, next = 0;
    const t0 = Date.now();
    async function worker(w) {
      while (next < 200) {
        const i = next++;
        const s = Date.now();
        try {
          if (i % 2) await client.completions.create({ model, prompt: 'Hello ' + i, max_tokens: 16 });
          else await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi ' + i }], max_tokens: 16 });
          lat.push(Date.now() - s);
        } catch (e) { errors++; console.log('load error', w, i, e.message); }
      }
    }
    await Promise.all(Array.from({ length: 16 }, (_, w) => worker(w)));
    lat.sort((x, y) => x - y);
    const pct = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
    console.log(`load: 200 requests, 16 concurrent, ${((Date.now() - t0) / 1000).toFixed(2)} s; ` +
                `latency ms p50 ${pct(0.5)} p90 ${pct(0.9)} p99 ${pct(0.99)} max ${lat[lat.length - 1]}`);
    check(errors === 0 && lat.length === 200, 'load test: no failures');
  } finally {
    srv.kill('SIGTERM');
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  if (failures) {
    console.log(failures + ' check(s) failed');
    process.exit(1);
  }
  console.log('all checks passed');
}

main().catch((e) => { console.error(e); process.exit(1); });
