#!/usr/bin/env python3
"""Data and the oracle ranker of bench/alignment_check.sh (not part of lmforge; python3 only).

A closed set of invented facts (each creature has a colour and a food), asked in 10 phrasings per
attribute, 3 of them held out. Subcommands:
  make OUT N_ENTITIES            write OUT/corpus.txt (statements), OUT/questions.txt, OUT/chat.jsonl (instruct data,
                                 phrasings 0-6), OUT/rlhf_prompts.jsonl, OUT/heldout.jsonl
  rank SAMPLES.jsonl OUT.jsonl   rank each prompt's sampled answers best to worst by the rule:
                                 right value, no other value of the attribute, about the asked
                                 creature (2) > right value otherwise (1) > wrong (0); shorter
                                 first within a grade
  score ANSWERS.jsonl            {"prompt","answer","reference","attribute"} per line: prints
                                 {"accuracy","mean_words","n"} (correct = grade 2)
  winrate ANSWERS.jsonl BASE.jsonl
                                 the ranker's judgement of each prompt's answer against the
                                 baseline's (same prompts, same order; the rank order above, ties
                                 when grade, words and length are equal): prints {"prompts",
                                 "differ","wins","losses","ties","win_rate"}, win_rate = wins /
                                 (wins + losses) over prompts whose answers differ (null if none)
"""
import json, random, re, sys

COLOURS = ["red", "blue", "green", "yellow", "black", "white", "orange", "purple"]
FOODS = ["fish", "bread", "apples", "rice", "grass", "seeds", "cheese", "honey"]
VALUES = {"colour": COLOURS, "food": FOODS}
ASK = {
    "colour": ["What colour is the {e}?", "Which colour does the {e} have?",
               "Tell me the colour of the {e}.", "The {e} is what colour?",
               "Name the colour of the {e}.", "What is the colour of the {e}?",
               "Do you know the colour of the {e}?",
               # held out
               "Say which colour the {e} is.", "I wonder what colour the {e} is.",
               "Give the colour of the {e}."],
    "food": ["What does the {e} eat?", "Which food does the {e} eat?",
             "Tell me what the {e} eats.", "The {e} eats what?",
             "Name the food of the {e}.", "What is the food of the {e}?",
             "Do you know what the {e} eats?",
             "Say which food the {e} eats.", "I wonder what the {e} eats.",
             "Give the food of the {e}."],
}
ANSWER = {"colour": "The {e} is {v}.", "food": "The {e} eats {v}."}
STATE = {"colour": ["The {e} is {v}.", "A {e} is always {v}.", "Every {e} you see is {v}.",
                    "The colour of the {e} is {v}."],
         "food": ["The {e} eats {v}.", "A {e} likes to eat {v}.", "Every {e} eats {v} each day.",
                  "The food of the {e} is {v}."]}
TRAIN_PHRASINGS, HELD_OUT = range(0, 7), range(7, 10)


def entities(n):
    rng = random.Random(7)
    a, b, c = "bcdfghklmnprstvz", "aeiou", "nrlkmpstx"
    out = set()
    while len(out) < n:
        out.add(rng.choice(a) + rng.choice(b) + rng.choice(c) + rng.choice(b) + rng.choice(c))
    return sorted(out)


def facts(n):
    rng = random.Random(11)
    return [(e, at, rng.choice(VALUES[at])) for e in entities(n) for at in ("colour", "food")]


def chat(q, a):
    return {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}


def make(out, n):
    fs = facts(n)
    rng = random.Random(3)
    with open(f"{out}/corpus.txt", "w") as f:
        docs = []
        for _ in range(40):
            lines = [rng.choice(STATE[at]).format(e=e, v=v) for e, at, v in fs]
            rng.shuffle(lines)
            docs.append(" ".join(lines[:12]) + "\n" + " ".join(lines[12:24]))
        f.write("\n\n".join(docs) + "\n")
    with open(f"{out}/questions.txt", "w") as f:  # the tokenizer sees every phrasing's words
        f.write("\n\n".join(ASK[at][p].format(e=e) for e, at, v in fs for p in range(10)) + "\n")
    with open(f"{out}/chat.jsonl", "w") as f:
        for e, at, v in fs:
            for p in TRAIN_PHRASINGS:
                f.write(json.dumps(chat(ASK[at][p].format(e=e), ANSWER[at].format(e=e, v=v))) + "\n")
    with open(f"{out}/rlhf_prompts.jsonl", "w") as f:
        for i, (e, at, v) in enumerate(fs):  # two training phrasings per fact
            for p in (i % 7, (i + 3) % 7):
                f.write(json.dumps({"prompt": ASK[at][p].format(e=e), "reference": v,
                                    "attribute": at}) + "\n")
    with open(f"{out}/heldout.jsonl", "w") as f:
        for e, at, v in fs:
            for p in HELD_OUT:
                f.write(json.dumps({"prompt": ASK[at][p].format(e=e), "reference": v,
                                    "attribute": at}) + "\n")


def asked_entity(prompt):
    # Every phrasing names its creature as "the {e}", and always last.
    return re.findall(r"\bthe (\w+)", prompt, flags=re.IGNORECASE)[-1].lower()


def grade(answer, reference, attribute, prompt):
    """2: the right value, no other value, about the asked creature; 1: the right value among
    others, or about another creature; 0: wrong."""
    words = [w.strip(".,!?;:").lower() for w in answer.split()]
    named = {w for w in words if w in VALUES[attribute]}
    if reference not in named:
        return 0
    return 2 if named == {reference} and asked_entity(prompt) in words else 1


def rank(samples, out):
    n = kept = 0
    with open(samples) as f, open(out, "w") as g:
        for line in f:
            s = json.loads(line)
            answers = []
            for a in s["answers"]:
                a = a.encode("utf-8", "surrogatepass").decode("utf-8", "replace").strip()
                if a and a not in answers:
                    answers.append(a)
            n += 1
            if len(answers) < 2:
                continue  # nothing to rank
            g_of = {a: grade(a, s["reference"], s["attribute"], s["prompt"]) for a in answers}
            answers.sort(key=lambda a: (-g_of[a], len(a.split()), len(a), a))
            grades = [g_of[a] for a in answers]
            g.write(json.dumps({"prompt": s["prompt"], "responses": answers,
                                "grades": grades}) + "\n")
            kept += 1
    print(json.dumps({"prompts": n, "rankings": kept}))


def order_key(answer, s):
    """The ranker's order (best first): grade, then fewer words, then fewer characters."""
    return (-grade(answer, s["reference"], s["attribute"], s["prompt"]), len(answer.split()),
            len(answer))


def winrate(path, base_path):
    n = differ = wins = losses = ties = 0
    with open(path) as f, open(base_path) as g:
        for la, lb in zip(f, g):
            a, b = json.loads(la), json.loads(lb)
            if a["prompt"] != b["prompt"]:
                sys.exit(f"winrate: line {n + 1}: the two files ask different prompts")
            n += 1
            if a["answer"] == b["answer"]:
                continue
            differ += 1
            ka, kb = order_key(a["answer"], a), order_key(b["answer"], a)
            wins += ka < kb
            losses += ka > kb
            ties += ka == kb
    rate = wins / (wins + losses) if wins + losses else None
    print(json.dumps({"prompts": n, "differ": differ, "wins": wins, "losses": losses,
                      "ties": ties, "win_rate": rate}))


def score(path):
    n = right = words = 0
    for line in open(path):
        s = json.loads(line)
        n += 1
        right += grade(s["answer"], s["reference"], s["attribute"], s["prompt"]) == 2
        words += len(s["answer"].split())
    print(json.dumps({"accuracy": right / max(n, 1), "mean_words": words / max(n, 1), "n": n}))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "make":
        make(sys.argv[2], int(sys.argv[3]))
    elif cmd == "rank":
        rank(sys.argv[2], sys.argv[3])
    elif cmd == "score":
        score(sys.argv[2])
    elif cmd == "winrate":
        winrate(sys.argv[2], sys.argv[3])
    else:
        sys.exit(f"unknown command {cmd}")
