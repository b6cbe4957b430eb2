#!/usr/bin/env bash
# layering_test.sh — runtime/HACKING.md "Layout and layering": runtime/core
# is platform-neutral C11.  No platform or CPU macro and no inline
# assembly outside comments, and no header but the C library's (and the
# sanitizers' interfaces, in asan.h/tsan.h): whatever differs per OS or
# CPU is behind runtime/os/os.h or runtime/arch/arch.h.
set -u
cd "${TEST_SRCDIR}/${TEST_WORKSPACE}/runtime/core" || exit 1
status=0
files=(*.c *.h)
[[ ${#files[@]} -gt 5 ]] || { echo "runtime/core: sources not found"; exit 1; }

# Lines of code (comments dropped: /* ... */ blocks and // to the end).
code() {
  sed -e 's|//.*$||' "$1" | awk '
    { line = $0; out = "";
      while (length(line) > 0) {
        if (incomment) { e = index(line, "*/"); if (e == 0) { line = ""; break }
                         line = substr(line, e + 2); incomment = 0 }
        else { s = index(line, "/*"); if (s == 0) { out = out line; line = ""; break }
               out = out substr(line, 1, s - 1); line = substr(line, s + 2); incomment = 1 } }
      print f ":" NR ": " out }' f="$1"
}

for f in "${files[@]}"; do
  if hits=$(code "$f" | grep -E '__linux__|__APPLE__|__x86_64__|__aarch64__|\basm\b|__asm'); then
    echo "platform code in runtime/core (put it behind os.h or arch.h):"
    echo "$hits"
    status=1
  fi
  if hits=$(code "$f" | grep -E '#[[:space:]]*include[[:space:]]*<' |
            grep -vE '<(errno|limits|signal|stdatomic|stdbool|stddef|stdint|stdio|stdlib|string)\.h>|<sanitizer/'); then
    echo "a header beyond the C library in runtime/core:"
    echo "$hits"
    status=1
  fi
done
[[ $status == 0 ]] && echo "runtime/core: ${#files[@]} files, platform-neutral"
exit $status
