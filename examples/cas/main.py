# The encrypted program of the CAS demo: its arguments and DB_PASSWORD come
# from the policy, after attestation; the host's are ignored.
import os
import sys

print("argv from the policy:", sys.argv[1:])
print("DB_PASSWORD has", len(os.environ["DB_PASSWORD"]), "characters; HOME is", os.environ.get("HOME"))
