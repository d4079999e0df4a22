#!/usr/bin/env python3
"""Writes fixtures/tuning/trl_tokenization.json: preference rows tokenised by TRL's own DPO data path.

TRL 1.16 `DPOTrainer._prepare_dataset` (prompt extraction, EOS appended to string completions, joint
tokenisation split at the common prefix) is called unbound with a stand-in `self` that only carries the
tokenizer, on the GPT-2 tokenizer from ../shared/data/gpt2-tokenizer/tokenizer.json. Conversational rows
are rendered with chat templates set on that tokenizer: TRL's gemma3/llama3 Jinja files, ChatML, and the
plain `Role: content` template (TRL's old SIMPLE_CHAT_TEMPLATE). Run with /work/venv/ref/bin/python.
"""
import json
import sys
import types
from pathlib import Path

import transformers
import trl
from datasets import Dataset
from transformers import PreTrainedTokenizerFast
from trl.trainer.dpo_trainer import DPOTrainer

ROOT = Path(__file__).resolve().parent.parent
TOKENIZER = ROOT.parent / "shared" / "data" / "gpt2-tokenizer" / "tokenizer.json"
TRL_TEMPLATES = Path(trl.__file__).parent / "chat_templates"

PLAIN = "{% for message in messages %}{{ message['role'].capitalize() + ': ' + message['content'] + '\n\n' }}{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
CHATML = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"

STANDARD = [
    {"prompt": "User: Hello there\nAssistant:", "chosen": " Hi! How are you today?", "rejected": " Go away."},
    {"prompt": "Hello wor", "chosen": "ld! Nice day.", "rejected": "m, how are you?"},
    {"prompt": "Un café, s'il vous plaît ☕", "chosen": " Bien sûr !", "rejected": " Non."},
    {"prompt": "Say done.", "chosen": " done<|endoftext|>", "rejected": " no"},
    {"prompt": "Numbers: 3333", "chosen": "33 and more", "rejected": " none"},
]
IMPLICIT = [
    {"chosen": "Q: What is the capital of France? A: Paris.", "rejected": "Q: What is the capital of France? A: London."},
    {"chosen": "abc", "rejected": "abcd"},
    {"chosen": "\n\nHuman: hi\n\nAssistant: Hello, how can I help?", "rejected": "\n\nHuman: hi\n\nAssistant: What?"},
]
CONVERSATIONAL = [
    {"prompt": [{"role": "user", "content": "What color is the sky?"}],
     "chosen": [{"role": "assistant", "content": "It is blue."}],
     "rejected": [{"role": "assistant", "content": "It is green."}]},
    {"prompt": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": " Hi  "}, {"role": "assistant", "content": "Hello."},
                {"role": "user", "content": "Name a fruit."}],
     "chosen": [{"role": "assistant", "content": "Apple."}],
     "rejected": [{"role": "assistant", "content": "I will not."}]},
]


def tokenizer():
    tok = PreTrainedTokenizerFast(tokenizer_file=str(TOKENIZER), bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                  pad_token="<|endoftext|>")
    return tok


def prepare(rows, tok):
    args = types.SimpleNamespace(dataset_num_proc=None, max_length=None, truncation_mode="keep_start")
    fake = types.SimpleNamespace(_tokenizer=tok)
    ds = DPOTrainer._prepare_dataset(fake, Dataset.from_list(rows), tok, args, "fixture")
    return [{"prompt_ids": r["prompt_ids"], "chosen_ids": r["chosen_ids"], "rejected_ids": r["rejected_ids"]} for r in ds]


def main():
    cases = []
    tok = tokenizer()
    cases.append({"name": "standard", "template": None, "rows": STANDARD, "expected": prepare(STANDARD, tok)})
    cases.append({"name": "implicit", "template": None, "rows": IMPLICIT, "expected": prepare(IMPLICIT, tok)})
    templates = {
        "plain": PLAIN, "chatml": CHATML,
        "gemma": (TRL_TEMPLATES / "gemma3.jinja").read_text(), "llama3": (TRL_TEMPLATES / "llama3.jinja").read_text(),
    }
    for name, template in templates.items():
        tok = tokenizer()
        tok.chat_template = template
        rows = CONVERSATIONAL if name != "gemma" else CONVERSATIONAL[:1] + [{
            # Gemma 3's template requires user/assistant alternation after the system message.
            **CONVERSATIONAL[1]}]
        cases.append({"name": f"conversational-{name}", "template": name, "rows": rows, "expected": prepare(rows, tok)})
    out = {
        "generator": "scripts/make_trl_tokenization_fixtures.py",
        "versions": {"trl": trl.__version__, "transformers": transformers.__version__, "python": sys.version.split()[0]},
        "tokenizer": "gpt2-tokenizer/tokenizer.json (bos = eos = pad = <|endoftext|>, no BOS added by the tokenizer)",
        "cases": cases,
    }
    path = ROOT / "fixtures" / "tuning" / "trl_tokenization.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
