# gort.py — gdb commands for programs that use gort (Go's runtime-gdb.py, for C).
#
#   (gdb) source tools/gdb/gort.py
#   (gdb) info goroutines          every goroutine: id, name, state, wait reason, M
#   (gdb) goroutine 7 bt           goroutine 7's backtrace
#   (gdb) goroutine 7 info frame   (any gdb command, run as if goroutine 7 were current)
#
# A goroutine that is running (or in a system call) is on an M, a thread:
# the command runs on that thread.  A stopped one (runnable, waiting) has
# its registers in the frame its context switch pushed (runtime/arch/<cpu>/
# frame.h): the command loads them into the current thread, runs, and puts
# the thread's own registers back, so it needs a live process (not a core).
#
# It reads the runtime's own structures (gort_sched_g.allg, struct G, struct
# M) through the debug info of libgort (built with -g), so it follows them
# as they change; only the switch-frame offsets below are restated, and
# //tests:gdb_test checks them against a running program.
import gdb

# The switch frame (frame.h): register -> byte offset from the saved sp;
# 'ret' is the return address (the pc), 'size' the frame (sp after return).
FRAMES = {
    "i386:x86-64": {
        "regs": {"r15": 8, "r14": 16, "r13": 24, "r12": 32, "rbx": 40, "rbp": 48},
        "ret": 56, "size": 64, "pc": "rip", "sp": "rsp",
    },
    "aarch64": {
        "regs": dict([("x%d" % r, (r - 19) * 8) for r in range(19, 31)]),
        "ret": 88, "size": 176, "pc": "pc", "sp": "sp",
    },
}

STATUS = ["dead", "runnable", "running", "waiting", "syscall"]  # runtime.h, G_* in order


def _status_name(v):
    return STATUS[v] if 0 <= v < len(STATUS) else "status %d" % v


def _string(p):
    try:
        return p.string() if int(p) != 0 else ""
    except gdb.error:
        return "?"


def goroutines():
    """Every G the runtime ever allocated that is not dead: (G *, status)."""
    sched = gdb.parse_and_eval("gort_sched_g")
    n = int(sched["nallg"])
    allg = sched["allg"]
    for i in range(n):
        g = allg[i]
        st = int(g["status"])
        if _status_name(st) != "dead":
            yield g, st


def find(goid):
    for g, st in goroutines():
        if int(g["id"]) == goid:
            return g, st
    raise gdb.GdbError("no goroutine %d" % goid)


class InfoGoroutines(gdb.Command):
    """info goroutines: every goroutine: id, name, state (wait reason), M."""

    def __init__(self):
        super().__init__("info goroutines", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        cur = _current_goid()
        for g, st in goroutines():
            name = _status_name(st)
            line = "%s %d \"%s\" [%s" % ("*" if int(g["id"]) == cur else " ", int(g["id"]),
                                        _string(g["name"]), name)
            if name == "waiting":
                line += ": " + _string(g["waitreason"])
            if name in ("running", "syscall") and int(g["m"]) != 0:
                line += " on M%d" % int(g["m"]["id"])
            print(line + "]  " + _where(g, st))


def _current_goid():
    """The goroutine the selected thread runs, or 0."""
    th = gdb.selected_thread()
    if th is None:
        return 0
    for g, st in goroutines():
        m = g["m"]
        if _status_name(st) in ("running", "syscall") and int(m) != 0 and int(m["tid"]) == th.ptid[1]:
            return int(g["id"])
    return 0


def _where(g, st):
    """The function a stopped goroutine's switch returns to (its pc)."""
    if _status_name(st) in ("running", "syscall"):
        return ""
    if _fresh(g):
        return "not started: " + _function(int(g["fn"]))
    arch = FRAMES.get(gdb.selected_frame().architecture().name())
    if arch is None:
        return ""
    sp = int(g["ctx"]["sp"])
    pc = int(gdb.parse_and_eval("*(unsigned long *)%d" % (sp + arch["ret"])))
    return _function(pc)


def _fresh(g):
    """Spawned, not yet run: it has no stack and no context (proc.c g_start)."""
    return _status_name(int(g["status"])) == "runnable" and bool(int(g["fresh"]))


def _function(pc):
    blk = gdb.block_for_pc(pc)
    while blk is not None and blk.function is None:
        blk = blk.superblock
    return str(blk.function) if blk is not None else hex(pc)


class Goroutine(gdb.Command):
    """goroutine N CMD: run gdb command CMD (e.g. bt) on goroutine N."""

    def __init__(self):
        super().__init__("goroutine", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        parts = arg.split(None, 1)
        if len(parts) < 2:
            raise gdb.GdbError("usage: goroutine N CMD   (e.g. goroutine 7 bt)")
        try:
            goid = int(parts[0])
        except ValueError:
            raise gdb.GdbError("goroutine: N must be a goroutine id")
        g, st = find(goid)
        if _fresh(g):
            raise gdb.GdbError("goroutine %d has not started: it will run %s" % (goid, _function(int(g["fn"]))))
        if _status_name(st) in ("running", "syscall"):
            self._on_thread(int(g["m"]["tid"]), parts[1], from_tty)
        else:
            self._on_context(g, parts[1], from_tty)

    def _on_thread(self, tid, cmd, from_tty):
        saved = gdb.selected_thread()
        for th in gdb.selected_inferior().threads():
            if th.ptid[1] == tid:
                th.switch()
                try:
                    gdb.execute(cmd, from_tty)
                finally:
                    saved.switch()
                return
        raise gdb.GdbError("goroutine's thread %d not found" % tid)

    def _on_context(self, g, cmd, from_tty):
        frame = gdb.newest_frame()
        frame.select()
        arch = FRAMES.get(frame.architecture().name())
        if arch is None:
            raise gdb.GdbError("goroutine: architecture %s not supported" % frame.architecture().name())
        sp = int(g["ctx"]["sp"])
        word = lambda off: int(gdb.parse_and_eval("*(unsigned long *)%d" % (sp + off)))
        load = dict((r, word(off)) for r, off in arch["regs"].items())
        load[arch["pc"]] = word(arch["ret"])
        load[arch["sp"]] = sp + arch["size"]
        saved = dict((r, int(frame.read_register(r))) for r in load)
        try:
            for r, v in load.items():
                gdb.execute("set $%s = %d" % (r, v), to_string=True)
            gdb.execute(cmd, from_tty)
        finally:
            gdb.newest_frame().select()
            for r, v in saved.items():
                gdb.execute("set $%s = %d" % (r, v), to_string=True)


InfoGoroutines()
Goroutine()
