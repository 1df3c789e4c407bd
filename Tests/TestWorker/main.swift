// Placeholder; the multi-node test worker is written next.
print("baton-test-worker")
