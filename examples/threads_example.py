# Threads keep working inside an enclave (only new processes are refused).
# Eight workers hash disjoint ranges; the result is deterministic.
import hashlib
import queue
import threading

N_THREADS = 8
results = queue.Queue()


def work(i):
    h = hashlib.sha256()
    for n in range(i * 20000, (i + 1) * 20000):
        h.update(n.to_bytes(4, "little"))
    results.put((i, h.hexdigest()))


threads = [threading.Thread(target=work, args=(i,)) for i in range(N_THREADS)]
for t in threads:
    t.start()
for t in threads:
    t.join()
for i, digest in sorted(results.queue):
    print(f"worker {i}: {digest[:16]}")
print("threads:", N_THREADS, "done")
