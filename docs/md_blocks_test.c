/*
 * md_blocks_test.c — each page's example is its example file, byte for byte.
 *
 *   md_blocks_test PAGE.md EXAMPLE.c [PAGE.md EXAMPLE.c ...]
 *
 * For each pair: the first ```c fenced block of PAGE.md (the lines between
 * the fences) must equal EXAMPLE.c; else it names the first line that
 * differs, and the test fails.  A C program rather than a shell script:
 * under --config=arm64 every test runs under qemu-aarch64, which can run
 * this but not a script.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    char *s = NULL;
    long n = -1;
    if (f != NULL && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (s = calloc(1, (size_t)n + 1)) != NULL && fread(s, 1, (size_t)n, f) == (size_t)n) {
        fclose(f);
        return s;
    }
    fprintf(stderr, "md_blocks_test: cannot read %s\n", path);
    exit(2);
}

/* The start of the line after the one at s (its terminating NUL if none). */
static char *next_line(char *s) { return s[strcspn(s, "\n")] ? s + strcspn(s, "\n") + 1 : s + strlen(s); }

/* 0 if md's first ```c block is the text of c, else 1 and a message. */
static int check(const char *md_path, const char *c_path) {
    char *md = slurp(md_path), *c = slurp(c_path), *block = NULL, *end;
    for (char *l = md; *l != 0 && block == NULL; l = next_line(l))
        if (strncmp(l, "```c\n", 5) == 0) block = next_line(l);
    for (end = block; end != NULL && *end != 0 && strncmp(end, "```", 3) != 0;) end = next_line(end);
    if (end == NULL || *end == 0) {
        fprintf(stderr, "%s: no complete ```c block\n", md_path);
        return 1;
    }
    *end = 0; /* the block: its lines, newlines included */
    int line = 1, bad = strcmp(block, c) != 0;
    char *a = block, *b = c;
    while (bad && strncmp(a, b, strcspn(a, "\n") + 1) == 0) a = next_line(a), b = next_line(b), line++;
    size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");
    if (bad)
        fprintf(stderr, "%s: its ```c block differs from %s at line %d%s:\n  page: %.*s\n  file: %.*s\n", md_path,
                c_path, line, la == lb && strncmp(a, b, la) == 0 ? " (one has no newline)" : "", (int)la, a,
                (int)lb, b);
    free(md);
    free(c);
    return bad;
}

int main(int argc, char **argv) {
    int bad = argc < 3 || argc % 2 == 0;
    if (bad) fprintf(stderr, "usage: md_blocks_test PAGE.md EXAMPLE.c [PAGE.md EXAMPLE.c ...]\n");
    for (int i = 1; i + 1 < argc; i += 2) bad |= check(argv[i], argv[i + 1]);
    return bad;
}
