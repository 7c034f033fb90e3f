#!/usr/bin/env python3
"""Writes tests/fixtures/fast_hash_parity.jsonl: texts and the exact svalbard-hash-v1 output
(sorted bucket ids, float32 values) computed by the byte-by-byte reference implementation in
scripts/fast_features.py. Run: python3 scripts/make_fast_parity_fixture.py"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fast_features as ff  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "fixtures", "fast_hash_parity.jsonl")


def cases():
    c = []
    c.append(("empty", ""))
    c.append(("whitespace_only", " \t\n\r  \u000b\u000c "))
    c.append(("control_only", "\u0000\u0001\u001f\u007f"))
    c.append(("single_char", "a"))
    c.append(("three_bytes_no_window", "abc"))
    c.append(("ascii_sentence", "The quick brown fox jumps over the lazy dog."))
    c.append(("ascii_upper_digits", "HELLO World 2024 ABC123def XYZ"))
    c.append(("punctuation_runs", "Wait... what?! (Yes) -- [no]; {maybe}: \"quoted\" 'single' a+b=c #tag @user $5 %20 ^_^ ~/path\\x `code` |pipe| <html>&amp;"))
    c.append(("repeated_words", "the the the the cat cat the the the"))
    c.append(("accents_latin1", "Café naïve résumé — déjà vu. ÉCOLE Über STRAẞE Ångström"))
    c.append(("cjk", "机器生成的文本检测。日本語のテキストも含まれています、한국어 문장도 있습니다."))
    c.append(("emoji", "Great job 👍🏽!! 😀😀 family: 👨‍👩‍👧 flags 🇳🇴🇸🇯 end."))
    c.append(("mixed_scripts", "Ελληνικά και русский текст, עברית, العربية, हिन्दी — mixed with English words."))
    c.append(("nbsp_and_unicode_spaces", "non\u00a0breaking\u2003em space\u3000ideographic\u200bzero-width"))
    c.append(("tabs_newlines_crlf", "line one\r\nline two\n\n\tindented\tTABS\r\nEND"))
    c.append(("url_email", "Visit https://example.com/a/b?x=1&y=2#frag or mail me@example.org now."))
    c.append(("numbers_and_symbols", "Price: $1,234.56 (+7.5%) vs. €99 — 3/4 of 100 = 75; 1e-6 < 2^10."))
    # long ASCII text, beyond max_bytes: only the first 3000 bytes count
    long_ascii = " ".join(f"Word{i} is here, number {i}!" for i in range(400))
    c.append(("long_ascii_over_3000", long_ascii))
    # cut inside a 2-byte char: 2999 ASCII bytes then 'é' (bytes 2999..3000) -> 'é' dropped
    c.append(("cut_inside_2byte_char", "ab " * 999 + "xx" + "é" + "tail text"))
    # cut inside a 4-byte emoji: 2998 bytes then emoji occupying bytes 2998..3001
    c.append(("cut_inside_4byte_emoji", "hi " * 999 + "x" + "😀" + " after"))
    # cut inside a 3-byte CJK char, all CJK (3000 = 1000 chars exactly is a boundary; shift by 1)
    c.append(("cut_inside_3byte_cjk", "a" + "字" * 1100))
    # exact boundary: 3000 bytes of 3-byte chars, the next char is dropped whole
    c.append(("exact_boundary_cjk", "字" * 1000 + "界界"))
    return c


def main():
    with open(OUT, "w", encoding="utf-8") as f:
        for name, text in cases():
            ids, vals = ff.hash_text_reference(text)
            f.write(json.dumps({"name": name, "text": text, "ids": ids, "values": vals},
                               ensure_ascii=False) + "\n")
    print("wrote", os.path.normpath(OUT))


if __name__ == "__main__":
    main()
