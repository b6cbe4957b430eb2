"""Compiler and linker flags shared by gort's BUILD files.

    load("//bazel:copts.bzl", "GORT_COPTS", "GORT_LINKOPTS", "GORT_TEST_COPTS")

The language standard is not here: .bazelrc sets -std=c11 for C (--conlyopt)
and -std=c++17 for C++ (--cxxopt) on every toolchain. copts also reach .S
files, so everything below is harmless for assembly.
"""

# For runtime/ (C and .S), examples/ and any other C code of ours.
GORT_COPTS = [
    # Warnings are errors: the runtime must build warning-free with gcc
    # (linux) and clang (zig, darwin).
    "-Wall",
    "-Wextra",
    "-Werror",
    # Hooks that do not apply on an OS take arguments they ignore.
    "-Wno-unused-parameter",
    # The runtime is always optimized, also in fastbuild: the tests test the
    # code that ships, and `bazel run //benchmarks:...` measures it.
    "-O2",
    # Keep the frame-pointer chain: stack traces from signal handlers,
    # debuggers and perf walk it, and it is cheap on amd64/arm64.
    "-fno-omit-frame-pointer",
    # Debug info: file:line in goroutine dumps (libdw reads it), gdb and
    # tools/gdb/gort.py (struct layouts).  .bazelrc keeps it unstripped.
    "-g",
    # Only what gort.h marks GORT_API (the gort_* API) leaves libgort.so.
    "-fvisibility=hidden",
] + select({
    # glibc hides gettid, pthread_getattr_np, REG_RIP/REG_* in ucontext,
    # MAP_STACK/MAP_NORESERVE, ... from strict -std=c11 unless asked.
    # -fno-plt: calls into libc go through the GOT, never a PLT stub in the
    # executable's code, where async preemption would see "user code" with
    # the runtime's frame still live (runtime/text.h).
    "@platforms//os:linux": ["-D_GNU_SOURCE", "-fno-plt"],
    # macOS headers: ask for the full Darwin API (kqueue, ucontext_t
    # fields, pthread_*_np) explicitly rather than rely on the default.
    "@platforms//os:macos": ["-D_DARWIN_C_SOURCE"],
    "//conditions:default": [],
}) + select({
    # Inline LL/SC or LSE atomics rather than calls to libgcc's
    # __aarch64_* helpers: those live outside the runtime's gort_text
    # section, where async preemption could stop a goroutine halfway
    # through a runtime operation (runtime/text.h).
    "@platforms//cpu:aarch64": ["-mno-outline-atomics"],
    "//conditions:default": [],
})

# Link flags for anything that links the runtime (threads).
GORT_LINKOPTS = select({
    # -ldl: dlopen of libunwind and libdw for stack traces
    # (runtime/os/linux/trace.c; part of libc since glibc 2.34).
    "@platforms//os:linux": ["-pthread", "-ldl"],
    "//conditions:default": [],
})

# For tests/ and benchmarks/ (C++17 with googletest, benchmark, abseil).
GORT_TEST_COPTS = [
    "-Wall",
    "-Wextra",
    "-Werror",
    # EXPECT_EQ(size, 3) and friends compare signed with unsigned.
    "-Wno-sign-compare",
    # Fixture and callback signatures often ignore arguments.
    "-Wno-unused-parameter",
    # Readable stacks in failures and under sanitizers.
    "-fno-omit-frame-pointer",
    # file:line for test code in goroutine dumps and gdb.
    "-g",
    # Benchmarks measure optimized code under a plain `bazel run`.
    "-O2",
]
