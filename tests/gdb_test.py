# gdb_test.py — run by //tests:gdb_test as `gdb -batch -x tests/gdb_test.py
# tests/gdb_target`: tools/gdb/gort.py lists the goroutines of a live gort
# program and shows each one's backtrace, parked, asleep or running (or
# says it has not started), and leaves the thread's registers as they were.
import os
import re

import gdb

failures = []


def check(cond, what, output):
    if not cond:
        failures.append("%s\n--- output ---\n%s" % (what, output))


gdb.execute("source tools/gdb/gort.py")
for s in ("set pagination off", "set confirm off", "set startup-with-shell off", "set print thread-events off"):
    gdb.execute(s)
gdb.execute("break gdb_target_ready")
gdb.execute("run")

listing = gdb.execute("info goroutines", to_string=True)
print(listing)
ids = {}
for line in listing.splitlines():
    m = re.match(r'^[ *] (\d+) "([^"]*)" \[([a-z]+)', line)
    if m:
        ids[m.group(2)] = (int(m.group(1)), m.group(3))
for name, state in [("main", "running"), ("receiver", "waiting"), ("sleeper", "waiting"), ("spinner", None)]:
    check(name in ids and (state is None or ids[name][1] == state), "%s is listed as %s" % (name, state), listing)
check(re.search(r'"receiver" \[waiting: chan receive\]', listing), "receiver's wait reason", listing)
check(re.search(r'^\* \d+ "main"', listing, re.M), "main is the current goroutine", listing)

before = gdb.execute("bt", to_string=True)
for name, fn in [("receiver", "gdb_target_receiver"), ("sleeper", "gdb_target_sleeper"),
                 ("spinner", "gdb_target_spin"), ("main", "gdb_target_ready")]:
    if name in ids:
        bt = gdb.execute("goroutine %d bt" % ids[name][0], to_string=True)
        print("goroutine %d (%s):\n%s" % (ids[name][0], name, bt))
        check(fn in bt, "goroutine %s's backtrace names %s" % (name, fn), bt)
if "queued" in ids and ids["queued"][1] == "runnable":  # else the spinner's P took it (preempted)
    check(re.search(r'"queued" \[runnable\]  not started: gdb_target_queued', listing), "queued is not started", listing)
    try:
        out = gdb.execute("goroutine %d bt" % ids["queued"][0], to_string=True)
    except gdb.error as e:
        out = str(e)
    check("has not started: it will run gdb_target_queued" in out, "goroutine N bt on a goroutine not started", out)
else:
    print("gdb_test: the queued goroutine ran before the breakpoint; not checked")
after = gdb.execute("bt", to_string=True)
check(before == after, "the current thread's registers are restored", before + "\n---\n" + after)
check("gdb_target_ready" in after, "the current thread is still in gdb_target_ready", after)

gdb.execute("kill")
for f in failures:
    print("FAIL: " + f)
print("gdb_test: %d failures" % len(failures))
gdb.execute("quit %d" % (1 if failures else 0))
