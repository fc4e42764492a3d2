# json dumps/loads (after pyperformance bm_json_dumps / bm_json_loads).
import json
import sys

DATA = {"key": "value", "list": list(range(50)), "nested": {"a": [1.5, 2.5, {"b": "c" * 20}],
        "unicode": "\u00e9\u4e2d\u6587", "t": True, "n": None}}
n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
total = 0
for _ in range(n):
    s = json.dumps(DATA, sort_keys=True)
    total += len(json.loads(s)["list"])
print(total, len(s))
