// Third-party readers against lmforge's GGUF export (cases written by tests/infer/export_gguf_test
// with LMFORGE_LLAMACPP_CASES set). For every case:
//  - @huggingface/gguf parses the file: every scalar metadata value, array length and tensor info
//    (name, shape, type, offset) equals what lmforge's reader saw;
//  - real llama.cpp (node-llama-cpp's prebuilt CPU build) loads it, tokenizes the prompt to our
//    ids, and (f32 cases) produces our greedy continuation token for token.
// Exits non-zero on the first mismatch with a message naming the case.
import fs from "node:fs";
import {gguf} from "@huggingface/gguf";
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

const cases = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
let failures = 0;
const fail = (name, msg) => {
  console.error(`FAIL ${name}: ${msg}`);
  failures++;
};
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

const llama = await getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.error});
for (const c of cases) {
  // 1. @huggingface/gguf
  const {metadata, tensorInfos} = await gguf(c.gguf, {allowLocalFile: true});
  for (const [k, want] of Object.entries(c.metadata)) {
    const got = metadata[k];
    if (want !== null && typeof want === "object" && "array_length" in want) {
      if (!Array.isArray(got) || got.length !== want.array_length)
        fail(c.name, `metadata ${k}: array of ${got?.length}, expected ${want.array_length}`);
    } else if (typeof want === "number" && !Number.isInteger(want)) {
      if (Math.abs(Number(got) - want) > 1e-6 * Math.abs(want)) fail(c.name, `metadata ${k}: ${got} != ${want}`);
    } else if (typeof got === "bigint" ? got !== BigInt(want) : got !== want) {
      fail(c.name, `metadata ${k}: ${got} != ${want}`);
    }
  }
  if (tensorInfos.length !== c.tensors.length) fail(c.name, `tensor count ${tensorInfos.length}`);
  for (let i = 0; i < c.tensors.length; i++) {
    const t = tensorInfos[i], w = c.tensors[i];
    const shape = t.shape.map(Number);
    if (t.name !== w.name || !same(shape, w.shape) || t.dtype !== w.dtype || Number(t.offset) !== w.offset)
      fail(c.name, `tensor ${i}: ${t.name} ${shape} type ${t.dtype} @${t.offset} != ${JSON.stringify(w)}`);
  }
  console.log(`${c.name}: @huggingface/gguf read ${Object.keys(metadata).length} keys, ${tensorInfos.length} tensors`);

  // 2. llama.cpp
  const model = await llama.loadModel({modelPath: c.gguf});
  const ids = Array.from(model.tokenize(c.prompt));
  if (!same(ids, c.prompt_ids)) fail(c.name, `llama.cpp tokenized to ${ids}, lmforge to ${c.prompt_ids}`);
  if (model.detokenize(c.prompt_ids) !== c.prompt) fail(c.name, `llama.cpp detokenized to '${model.detokenize(c.prompt_ids)}'`);
  if (c.greedy_ids) {
    const ctx = await model.createContext({contextSize: 256});
    const seq = ctx.getSequence();
    const out = [];
    for await (const t of seq.evaluate(c.prompt_ids, {temperature: 0})) {
      out.push(t);
      if (out.length >= c.greedy_ids.length) break;
    }
    if (!same(out, c.greedy_ids)) fail(c.name, `llama.cpp greedy ${out}\n  lmforge greedy ${c.greedy_ids}`);
    else console.log(`${c.name}: llama.cpp greedy continuation equals ours (${out.length} tokens): ${JSON.stringify(model.detokenize(out))}`);
    await ctx.dispose();
  } else {
    console.log(`${c.name}: llama.cpp loaded it and tokenized the prompt to our ids`);
  }
  await model.dispose();
}
if (failures) {
  console.error(`${failures} mismatches`);
  process.exit(1);
}
console.log(`ok: ${cases.length} GGUF files read by @huggingface/gguf and run by llama.cpp`);
