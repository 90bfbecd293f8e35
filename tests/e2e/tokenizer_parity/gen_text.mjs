// Deterministic varied text for tokenizer tests: English-like prose with contractions, numbers,
// punctuation runs, whitespace runs, code, emoji (ZWJ, skin tones, flags), CJK, Cyrillic, Arabic,
// Devanagari, combining marks and Unicode spaces, plus the Debian license texts when present.
// Characters are drawn only from long-assigned Unicode blocks so that engines built on different
// Unicode versions (PCRE2, Rust regex) agree on their properties.
import fs from "node:fs";
import path from "node:path";

export function makeRng(seed) {
  let s = seed >>> 0;
  return () => {
    // mulberry32
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = ("the of and to in is that it was for on are as with his they at be this from have " +
  "or by one had not but what all were when we there can an your which their said if do will each " +
  "about how up out them then she many some so these would other into has more her two like him see " +
  "time could no make than first been its who now people my made over did down only way find use " +
  "may water long little very after words called just where most know tokenizer gradient transformer " +
  "attention encoder decoder optimizer learning Paris London Tokyo NASA GPU CPU JSON HTTP").split(" ");
const CONTRACTIONS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'LL", "’s"];
const PUNCT = [".", ",", "!", "?", "...", ";", ":", "--", "—", "(", ")", "\"", "'", "[", "]", "{",
  "}", "<", ">", "/", "\\", "*", "&", "%", "$", "#", "@", "^", "~", "`", "|", "+", "=", "_", "«",
  "»", "¿", "¡", "§", "°", "€", "£", "¥", "©", "™", "•", "→", "≤", "≥", "∑", "∞"];
const EMOJI = ["😀", "😂", "👍", "👍🏽", "🚀", "❤️", "🇫🇷", "🇯🇵", "👨‍👩‍👧", "🧑‍💻", "✨", "🎉",
  "🙏🏿", "☕", "⚡", "🔥"];
const SPACES = [" ", "  ", "   ", "\t", " \t ", "\u00a0", "\u3000", "\u2003", "        ", "\r",
  " \r", "\u200b", "\u2028"];
const CODE = ["for (int i = 0; i < n; ++i) {", "  x[i] += 2.5f * y[i];", "}", "def f(x):",
  "    return x**2 + 1", "if (a && b || !c) { return -1; }", "const s = `${a}-${b}`;",
  "#include <vector>", "SELECT * FROM t WHERE id = 42;", "arr.map((v) => v * 2)",
  "<div class=\"x\">&nbsp;</div>", "0x1F 0b1010 1e-9 3.14159 -273.15", "a_b_c = {'k': [1, 2, 3]}"];
const RANGES = [[0x4e00, 0x9fa5], [0x3041, 0x3093], [0x30a1, 0x30f3], [0xac00, 0xd7a3],
  [0x0410, 0x044f], [0x0391, 0x03a9], [0x0627, 0x064a], [0x0905, 0x0939], [0x00c0, 0x00ff],
  [0x0e01, 0x0e2e]];
const COMBINING = ["\u0301", "\u0308", "\u0323", "\u0336", "\u0300\u0301", "\u20dd", "\u093f"];

function pick(rng, arr) { return arr[Math.floor(rng() * arr.length)]; }

function word(rng) {
  let w = pick(rng, WORDS);
  const r = rng();
  if (r < 0.1) w = w[0].toUpperCase() + w.slice(1);
  else if (r < 0.13) w = w.toUpperCase();
  if (rng() < 0.06) w += pick(rng, CONTRACTIONS);
  if (rng() < 0.03) w += pick(rng, COMBINING);
  return w;
}

function number(rng) {
  const r = rng();
  if (r < 0.3) return String(Math.floor(rng() * 100));
  if (r < 0.5) return String(Math.floor(rng() * 1e9));
  if (r < 0.6) return "9".repeat(1 + Math.floor(rng() * 60));
  if (r < 0.75) return (rng() * 1000).toFixed(Math.floor(rng() * 5));
  if (r < 0.85) return `${1900 + Math.floor(rng() * 150)}-0${1 + Math.floor(rng() * 9)}-1${Math.floor(rng() * 10)}`;
  return "١٢٣" + String(Math.floor(rng() * 10)) + "٤";  // Arabic-Indic digits
}

function script(rng) {
  const [lo, hi] = pick(rng, RANGES);
  let s = "";
  const n = 1 + Math.floor(rng() * 12);
  for (let i = 0; i < n; i++) s += String.fromCodePoint(lo + Math.floor(rng() * (hi - lo + 1)));
  return s;
}

function line(rng) {
  const r = rng();
  if (r < 0.08) return pick(rng, CODE);
  if (r < 0.1) return pick(rng, SPACES).repeat(1 + Math.floor(rng() * 40)) + word(rng);
  if (r < 0.11) return "";
  let s = "";
  const n = 3 + Math.floor(rng() * 30);
  for (let i = 0; i < n; i++) {
    const k = rng();
    let t;
    if (k < 0.6) t = word(rng);
    else if (k < 0.7) t = number(rng);
    else if (k < 0.8) t = pick(rng, PUNCT).repeat(1 + Math.floor(rng() * 3));
    else if (k < 0.86) t = script(rng);
    else if (k < 0.9) t = pick(rng, EMOJI);
    else if (k < 0.95) t = pick(rng, SPACES);
    else if (k < 0.97) t = "<|endoftext|>";
    else t = word(rng) + pick(rng, PUNCT) + word(rng);
    s += (i && rng() < 0.85 ? " " : "") + t;
  }
  if (rng() < 0.1) s += pick(rng, SPACES);
  return s;
}

// Returns the text as lines (no '\n' inside any line), about `bytes` bytes in total.
export function makeLines(bytes, seed = 20240601) {
  const rng = makeRng(seed);
  const lines = [];
  let total = 0;
  const licenses = "/usr/share/common-licenses";
  if (fs.existsSync(licenses)) {
    for (const f of fs.readdirSync(licenses).sort()) {
      const p = path.join(licenses, f);
      if (!fs.statSync(p).isFile()) continue;
      for (const l of fs.readFileSync(p, "utf8").split("\n")) {
        lines.push(l);
        total += Buffer.byteLength(l) + 1;
      }
    }
  }
  while (total < bytes) {
    const l = line(rng);
    lines.push(l);
    total += Buffer.byteLength(l) + 1;
  }
  return lines;
}
