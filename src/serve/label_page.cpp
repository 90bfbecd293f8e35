// The labeling page's HTML, CSS and JavaScript as raw strings (see label_page.h). Plain DOM code,
// no framework and nothing fetched from elsewhere; text from the model is only ever inserted with
// textContent, never parsed as HTML. The keyboard scheme is written on the page itself.
#include "lmforge/serve/label_page.h"

namespace lmforge {

const char* label_page_html() {
  return R"lmforge(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>lmforge label</title>
<link rel="stylesheet" href="/label.css">
<script src="/label.js" defer></script>
</head>
<body>
<header>
  <h1>lmforge label <span id="model"></span></h1>
  <div id="who" hidden>Labelling as <strong id="who-name"></strong>
    <button id="change-name" type="button">change name</button></div>
  <div id="progress-box">
    <progress id="progress-bar" max="1" value="0"></progress>
    <span id="progress" aria-live="polite"></span>
  </div>
</header>
<main>
<form id="name-form" hidden>
  <label for="name-input">Your name (asked once per browser session; stored with your
    rankings so that agreement between labelers can be measured)</label>
  <input id="name-input" autocomplete="name" required maxlength="100">
  <button type="submit" id="name-submit">Start labelling</button>
</form>
<p id="loading" hidden>Sampling the answers for the next prompt…</p>
<section id="task" hidden>
  <h2>Prompt</h2>
  <pre id="prompt"></pre>
  <h2>Answers: best at the top, worst at the bottom</h2>
  <div id="keys-help" class="help">
    <p>Drag an answer by its bar to move it. Keyboard: <kbd>Tab</kbd> or <kbd>↑</kbd>/<kbd>↓</kbd>
      focuses an answer; <kbd>Alt</kbd>+<kbd>↑</kbd>/<kbd>↓</kbd> (or <kbd>Ctrl</kbd>+<kbd>↑</kbd>/<kbd>↓</kbd>)
      moves it one place up or down; <kbd>Alt</kbd>+<kbd>Home</kbd>/<kbd>End</kbd> to the top or bottom;
      <kbd>1</kbd>…<kbd>9</kbd> moves it to that place; <kbd>T</kbd> toggles
      "tie with the one above"; <kbd>Ctrl</kbd>+<kbd>Enter</kbd> submits.
      The ▲ and ▼ buttons move an answer too.</p>
  </div>
  <ol id="answers" aria-describedby="keys-help"></ol>
  <div id="announce" class="sr-only" aria-live="assertive"></div>
  <div class="extras">
    <label class="check"><input type="checkbox" id="all-bad"> All answers are bad</label>
    <label for="better">A better answer, written by you (optional; it becomes the best one):</label>
    <textarea id="better" rows="4"></textarea>
  </div>
  <button id="submit" type="button">Submit ranking</button>
  <div id="error" role="alert"></div>
</section>
<section id="done" hidden>
  <h2>Nothing left for you to rank</h2>
  <p>Thank you. You ranked every prompt of this session (or the others are being ranked by
    someone else right now: reload later).</p>
</section>
</main>
</body>
</html>
)lmforge";
}

const char* label_page_css() {
  return R"lmforge(
[hidden] { display: none !important; }
body { font-family: system-ui, sans-serif; margin: 0; background: #f6f6f4; color: #1d1d1b; }
header { background: #20304a; color: #fff; padding: 0.6em 1.2em; }
header h1 { font-size: 1.2em; margin: 0 0 0.3em 0; }
#model { font-weight: normal; opacity: 0.8; }
#who button { margin-left: 0.5em; }
#progress-box { display: flex; gap: 0.8em; align-items: center; flex-wrap: wrap; }
#progress-bar { width: 12em; }
main { max-width: 60em; margin: 0 auto; padding: 1em; }
pre { white-space: pre-wrap; word-break: break-word; margin: 0; font-family: ui-monospace, monospace; }
#prompt { background: #fff; border: 1px solid #ccc; padding: 0.7em; }
.help { font-size: 0.9em; color: #444; }
kbd { border: 1px solid #999; border-radius: 3px; padding: 0 0.3em; background: #fff; font-size: 0.9em; }
ol#answers { list-style: none; padding: 0; margin: 0; }
li.answer { background: #fff; border: 2px solid #bbb; border-radius: 6px; margin: 0.5em 0; }
li.answer:focus { outline: 3px solid #2f6fde; border-color: #2f6fde; }
li.answer.dragging { opacity: 0.5; }
li.answer.tied { border-top: 4px double #c77d00; }
li.answer .bar { display: flex; gap: 0.6em; align-items: center; background: #eceae4; padding: 0.3em 0.6em; cursor: grab; }
li.answer .rank { font-weight: bold; min-width: 4.5em; }
li.answer.tied .rank { color: #a35f00; }
li.answer .grip { color: #777; }
li.answer .tie { margin-left: auto; font-size: 0.9em; }
li.answer pre { padding: 0.6em; }
.extras { margin: 1em 0; display: flex; flex-direction: column; gap: 0.4em; }
textarea { width: 100%; box-sizing: border-box; font-family: inherit; }
#submit { font-size: 1.05em; padding: 0.4em 1.2em; }
#error { color: #a00; margin-top: 0.5em; }
form#name-form { display: flex; flex-direction: column; gap: 0.5em; max-width: 30em; }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
)lmforge";
}

const char* label_page_js() {
  return R"lmforge('use strict';
// lmforge label page: asks the labeler's name once per browser session, shows one prompt and its
// answers, lets them be ordered by drag and drop or keyboard, and submits to /api/submit.
(function () {
  const KEY = 'lmforge-labeler';
  const $ = (id) => document.getElementById(id);
  const list = $('answers');
  let current = null;   // {prompt, answers, shownAt}
  let dragged = null;

  function labeler() { return sessionStorage.getItem(KEY) || ''; }

  function show(which) {
    for (const id of ['name-form', 'task', 'done', 'loading']) $(id).hidden = id !== which;
  }

  function showProgress(p) {
    if (!p) return;
    $('model').textContent = p.model ? '· ' + p.model : '';
    $('progress-bar').max = Math.max(1, p.total);
    $('progress-bar').value = p.labelled;
    let s = 'Labelled ' + p.labelled + '/' + p.total + ' prompts · ' + p.rankings + ' rankings';
    if (p.mine !== undefined) s += ' · you: ' + p.mine + ' done, ' + p.remaining_for_me + ' left';
    const a = p.agreement;
    if (a && a.concordant_fraction !== null && a.concordant_fraction !== undefined) {
      s += ' · agreement: ' + Math.round(100 * a.concordant_fraction) +
           '% of answer pairs ordered alike (mean Kendall τ ' + a.kendall_tau.toFixed(2) +
           ', ' + a.prompts + ' prompts ranked twice or more)';
    } else {
      s += ' · agreement: none yet (no prompt ranked by two labelers)';
    }
    $('progress').textContent = s;
  }

  function items() { return Array.from(list.children); }

  function announce(text) { $('announce').textContent = text; }

  // Renumbers the places and keeps the tie boxes consistent (the top answer cannot tie upward).
  function renumber() {
    let group = 0;  // place of the first answer of the current tie group
    items().forEach((li, i) => {
      const tie = li.querySelector('.tie-box');
      if (i === 0) tie.checked = false;
      tie.disabled = i === 0;
      if (!tie.checked) group = i;
      li.querySelector('.rank').textContent =
          '#' + (i + 1) + (tie.checked ? ' = #' + (group + 1) : '');
      li.classList.toggle('tied', tie.checked);
      li.setAttribute('aria-label', 'Answer at place ' + (i + 1) + ' of ' + list.children.length +
                      (tie.checked ? ', tied with the one above' : ''));
    });
  }

  function moveTo(li, place) {
    const all = items();
    place = Math.max(0, Math.min(all.length - 1, place));
    const from = all.indexOf(li);
    if (from === place) return;
    list.removeChild(li);
    const rest = items();
    list.insertBefore(li, rest[place] || null);
    renumber();
    li.focus();
    announce('Moved to place ' + (place + 1) + ' of ' + all.length);
  }

  function makeItem(a) {
    const li = document.createElement('li');
    li.className = 'answer';
    li.tabIndex = 0;
    li.draggable = true;
    li.dataset.id = String(a.id);
    const bar = document.createElement('div');
    bar.className = 'bar';
    const rank = document.createElement('span');
    rank.className = 'rank';
    const grip = document.createElement('span');
    grip.className = 'grip';
    grip.setAttribute('aria-hidden', 'true');
    grip.textContent = '⠿ drag';
    const up = document.createElement('button');
    up.type = 'button'; up.className = 'up'; up.textContent = '▲'; up.title = 'Move up';
    up.setAttribute('aria-label', 'Move up');
    up.addEventListener('click', () => moveTo(li, items().indexOf(li) - 1));
    const down = document.createElement('button');
    down.type = 'button'; down.className = 'down'; down.textContent = '▼'; down.title = 'Move down';
    down.setAttribute('aria-label', 'Move down');
    down.addEventListener('click', () => moveTo(li, items().indexOf(li) + 1));
    const tie = document.createElement('label');
    tie.className = 'tie';
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.className = 'tie-box';
    box.addEventListener('change', renumber);
    tie.append(box, ' tie with the one above');
    bar.append(rank, grip, up, down, tie);
    const text = document.createElement('pre');
    text.className = 'text';
    text.textContent = a.text === '' ? '(empty answer)' : a.text;
    li.append(bar, text);

    li.addEventListener('keydown', (e) => {
      if (e.target !== li) return;
      const i = items().indexOf(li);
      const mod = e.altKey || e.ctrlKey;
      if (mod && e.key === 'ArrowUp') { moveTo(li, i - 1); e.preventDefault(); }
      else if (mod && e.key === 'ArrowDown') { moveTo(li, i + 1); e.preventDefault(); }
      else if (mod && e.key === 'Home') { moveTo(li, 0); e.preventDefault(); }
      else if (mod && e.key === 'End') { moveTo(li, items().length - 1); e.preventDefault(); }
      else if (!mod && e.key === 'ArrowUp') { if (i > 0) items()[i - 1].focus(); e.preventDefault(); }
      else if (!mod && e.key === 'ArrowDown') {
        if (i + 1 < items().length) items()[i + 1].focus();
        e.preventDefault();
      } else if (!mod && /^[1-9]$/.test(e.key)) { moveTo(li, Number(e.key) - 1); e.preventDefault(); }
      else if (!mod && (e.key === 't' || e.key === 'T') && i > 0) {
        box.checked = !box.checked;
        renumber();
        announce(box.checked ? 'Tied with the one above' : 'No longer tied');
        e.preventDefault();
      }
    });
    li.addEventListener('dragstart', (e) => {
      dragged = li;
      li.classList.add('dragging');
      e.dataTransfer.effectAllowed = 'move';
      e.dataTransfer.setData('text/plain', li.dataset.id);
    });
    li.addEventListener('dragend', () => {
      li.classList.remove('dragging');
      dragged = null;
      renumber();
    });
    return li;
  }

  // While dragging, the dragged answer goes before the answer under the pointer when the pointer
  // is on its upper half, after it otherwise.
  function placeDragged(e) {
    if (!dragged) return;
    const over = e.target instanceof Element ? e.target.closest('li.answer') : null;
    if (!over || over === dragged) return;
    const r = over.getBoundingClientRect();
    const before = e.clientY < r.top + r.height / 2;
    list.insertBefore(dragged, before ? over : over.nextSibling);
  }
  list.addEventListener('dragover', (e) => {
    if (!dragged) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = 'move';
    placeDragged(e);
  });
  list.addEventListener('drop', (e) => {
    if (!dragged) return;
    e.preventDefault();
    placeDragged(e);
    const li = dragged;
    renumber();
    announce('Moved to place ' + (items().indexOf(li) + 1));
  });

  async function api(path, body) {
    const r = await fetch(path, body === undefined ? {} : {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    });
    let j = null;
    try { j = await r.json(); } catch (e) { j = null; }
    if (!r.ok) {
      const err = new Error(j && j.error ? j.error.message : 'HTTP ' + r.status);
      err.status = r.status;
      throw err;
    }
    return j;
  }

  async function loadNext() {
    $('error').textContent = '';
    show('loading');
    let j;
    try {
      j = await api('/api/next?labeler=' + encodeURIComponent(labeler()));
    } catch (e) {
      show('task');
      $('error').textContent = 'Could not load the next prompt: ' + e.message;
      return;
    }
    showProgress(j.progress);
    if (j.done) { current = null; show('done'); return; }
    current = { prompt: j.prompt, answers: j.answers, shownAt: Date.now() };
    $('prompt').textContent = j.prompt.text;
    $('prompt').title = j.prompt.rendered;
    list.replaceChildren(...j.answers.map(makeItem));
    $('all-bad').checked = false;
    $('better').value = '';
    renumber();
    show('task');
    document.body.dataset.promptId = String(j.prompt.id);
    items()[0].focus();
  }

  async function submit() {
    if (!current) return;
    const all = items();
    const body = {
      labeler: labeler(),
      prompt_id: current.prompt.id,
      order: all.map((li) => li.dataset.id),
      ties: all.map((li, i) => i > 0 && li.querySelector('.tie-box').checked),
      all_bad: $('all-bad').checked,
      better: $('better').value,
      duration_ms: Date.now() - current.shownAt,
    };
    $('submit').disabled = true;
    try {
      const j = await api('/api/submit', body);
      showProgress(j.progress);
      document.body.dataset.submitted = String(Number(document.body.dataset.submitted || 0) + 1);
      await loadNext();
    } catch (e) {
      if (e.status === 409) { await loadNext(); $('error').textContent = e.message; }
      else $('error').textContent = 'Not saved: ' + e.message;
    } finally {
      $('submit').disabled = false;
    }
  }

  function start() {
    if (!labeler()) {
      $('who').hidden = true;
      show('name-form');
      $('name-input').focus();
      api('/api/progress').then(showProgress, () => {});
      return;
    }
    $('who-name').textContent = labeler();
    $('who').hidden = false;
    loadNext();
  }

  $('name-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const name = $('name-input').value.trim();
    if (!name) return;
    sessionStorage.setItem(KEY, name);
    start();
  });
  $('change-name').addEventListener('click', () => {
    sessionStorage.removeItem(KEY);
    $('name-input').value = '';
    start();
  });
  $('submit').addEventListener('click', submit);
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && e.ctrlKey && !$('task').hidden) { e.preventDefault(); submit(); }
  });
  start();
})();
)lmforge";
}

}  // namespace lmforge
