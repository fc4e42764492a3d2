# regex (after pyperformance bm_regex_effbot / regex_v8 flavour).
import re
import sys

TEXT = ("From: alice@example.com To: bob@example.org Date: 2024-05-01 12:34:56 "
        "Subject: [ward] quarterly numbers 1,234.56 EUR; ref #A-1234-XYZ; http://example.net/x?y=1 ") * 20
PATTERNS = [re.compile(p) for p in (
    r"[\w.]+@[\w.]+", r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", r"#([A-Z])-(\d+)-([A-Z]+)",
    r"https?://[^\s]+", r"\b\d{1,3}(?:,\d{3})*(?:\.\d+)?\b", r"(?i)subject:\s*\[(\w+)\]")]
n = int(sys.argv[1]) if len(sys.argv) > 1 else 400
count = 0
for _ in range(n):
    for p in PATTERNS:
        count += len(p.findall(TEXT))
    count += len(re.sub(r"\s+", " ", TEXT))
print(count)
