// text_section_test — every function of the runtime lives in gort_text.
//
// The preemption handler tells runtime code from user code by the pc alone
// (runtime/text.h): a runtime function placed anywhere else could be
// interrupted and its goroutine moved to another thread mid-operation.
// This reads the runtime's static library (a data dependency), and checks
// every function symbol defined in every member object, C and assembly,
// and that no object calls out to libgcc's aarch64 outline atomics.
#include <elf.h>

#include <cctype>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace {

std::string FindArchive() {
  const char* dir = std::getenv("TEST_SRCDIR");
  const char* ws = std::getenv("TEST_WORKSPACE");
  if (dir == nullptr || ws == nullptr) return "";
  std::string runtime = std::string(dir) + "/" + ws + "/runtime";
  DIR* d = opendir(runtime.c_str());
  if (d == nullptr) return "";
  std::string found;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    bool archive = (n.size() > 2 && n.compare(n.size() - 2, 2, ".a") == 0) ||
                   (n.size() > 3 && n.compare(n.size() - 3, 3, ".lo") == 0);  // alwayslink
    if (n.rfind("libgort", 0) == 0 && archive) found = runtime + "/" + n;
  }
  closedir(d);
  return found;
}

struct Member {
  std::string name;
  std::string bytes;
};

// The members of a System V / GNU ar archive.
std::vector<Member> ReadArchive(const std::string& data) {
  std::vector<Member> out;
  std::string longnames;
  if (data.compare(0, 8, "!<arch>\n") != 0) return out;
  size_t pos = 8;
  while (pos + 60 <= data.size()) {
    std::string name = data.substr(pos, 16);
    size_t size = std::stoul(data.substr(pos + 48, 10));
    std::string body = data.substr(pos + 60, size);
    name = name.substr(0, name.find_last_not_of(' ') + 1);
    if (name == "//") {
      longnames = body;
    } else if (name != "/" && name != "/SYM64/") {
      if (name[0] == '/' && !longnames.empty()) {
        size_t off = std::stoul(name.substr(1));
        name = longnames.substr(off, longnames.find('\n', off) - off);
      }
      if (!name.empty() && name.back() == '/') name.pop_back();
      out.push_back({name, body});
    }
    pos += 60 + size + (size & 1);
  }
  return out;
}

// libgcc / libatomic entry points: __aarch64_*, __atomic_*, __sync_*, and
// the arithmetic helpers named like __udivti3, __muldi3, __popcountdi2.
bool IsCompilerHelper(const char* name) {
  if (strncmp(name, "__aarch64_", 10) == 0 || strncmp(name, "__atomic_", 9) == 0 || strncmp(name, "__sync_", 7) == 0)
    return true;
  size_t n = strlen(name);
  return n > 5 && name[0] == '_' && name[1] == '_' && isdigit((unsigned char)name[n - 1]) &&
         (strncmp(name + n - 3, "di", 2) == 0 || strncmp(name + n - 3, "ti", 2) == 0 ||
          strncmp(name + n - 3, "sf", 2) == 0 || strncmp(name + n - 3, "df", 2) == 0);
}

// fn(sym, name, section) for every symbol (but the null one) of the tables
// of the given type (SHT_SYMTAB, SHT_DYNSYM) in the 64-bit ELF image b;
// section is "" for an undefined symbol or a special section index.
template <typename F>
void ForEachSymbol(const std::string& b, uint32_t type, F fn) {
  Elf64_Ehdr eh;
  memcpy(&eh, b.data(), sizeof eh);
  std::vector<Elf64_Shdr> sh(eh.e_shnum);
  memcpy(sh.data(), b.data() + eh.e_shoff, eh.e_shnum * sizeof(Elf64_Shdr));
  const char* shstr = b.data() + sh[eh.e_shstrndx].sh_offset;
  for (const Elf64_Shdr& s : sh) {
    if (s.sh_type != type) continue;
    const char* str = b.data() + sh[s.sh_link].sh_offset;
    for (size_t i = 1; i < s.sh_size / sizeof(Elf64_Sym); i++) {
      Elf64_Sym sym;
      memcpy(&sym, b.data() + s.sh_offset + i * sizeof sym, sizeof sym);
      bool placed = sym.st_shndx != SHN_UNDEF && sym.st_shndx < SHN_LORESERVE;
      fn(sym, std::string(str + sym.st_name), std::string(placed ? shstr + sh[sym.st_shndx].sh_name : ""));
    }
  }
}

// "object: function in section" for every defined function not in gort_text.
std::vector<std::string> Misplaced(const Member& m, int* functions) {
  std::vector<std::string> bad;
  const std::string& b = m.bytes;
  if (b.size() < sizeof(Elf64_Ehdr) || b.compare(0, 4, ELFMAG) != 0 || b[EI_CLASS] != ELFCLASS64) {
    bad.push_back(m.name + ": not a 64-bit ELF object");
    return bad;
  }
  ForEachSymbol(b, SHT_SYMTAB, [&](const Elf64_Sym& sym, const std::string& name, const std::string& section) {
    // Calls into compiler helpers linked into the executable (libgcc's
    // outline atomics and arithmetic, libatomic) would run outside
    // gort_text with the runtime's frame live.
    if (sym.st_shndx == SHN_UNDEF && IsCompilerHelper(name.c_str()))
      bad.push_back(m.name + ": calls " + name + " (a compiler helper outside gort_text)");
    if (ELF64_ST_TYPE(sym.st_info) != STT_FUNC || section.empty()) return;
    ++*functions;
    // Constructors and destructors a sanitizer adds run at start-up and
    // exit, never on a goroutine.
    if (section == ".text.startup" || section == ".text.exit") return;
    if (section != "gort_text") bad.push_back(m.name + ": " + name + " in " + section);
  });
  return bad;
}

TEST(TextSection, EveryRuntimeFunctionIsInGortText) {
  std::string path = FindArchive();
  ASSERT_FALSE(path.empty()) << "libgort*.a not found in the runfiles";
  std::ifstream f(path, std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<Member> members = ReadArchive(data);
  ASSERT_GE(members.size(), 10u) << path;
  int functions = 0;
  std::vector<std::string> bad;
  for (const Member& m : members)
    for (const std::string& s : Misplaced(m, &functions)) bad.push_back(s);
  EXPECT_GT(functions, 100);
  for (const std::string& s : bad) ADD_FAILURE() << s << " (mark it GORT_RUNTIME_TEXT, runtime/text.h)";
}

// The shared library exports the gort_* API and nothing else (every other
// symbol is hidden: -fvisibility=hidden, GORT_API in gort.h).
TEST(TextSection, SharedLibraryExportsOnlyTheApi) {
  const char* dir = std::getenv("TEST_SRCDIR");
  const char* ws = std::getenv("TEST_WORKSPACE");
  ASSERT_TRUE(dir != nullptr && ws != nullptr);
  std::ifstream f(std::string(dir) + "/" + ws + "/runtime/libgort.so.0", std::ios::binary);
  std::string b((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  ASSERT_GT(b.size(), sizeof(Elf64_Ehdr));
  int exported = 0;
  ForEachSymbol(b, SHT_DYNSYM, [&](const Elf64_Sym& sym, const std::string& name, const std::string& section) {
    int vis = ELF64_ST_VISIBILITY(sym.st_other);
    bool global = ELF64_ST_BIND(sym.st_info) != STB_LOCAL && (vis == STV_DEFAULT || vis == STV_PROTECTED);
    if (sym.st_shndx == SHN_UNDEF || !global) return;
    if (name == "__bss_start" || name == "_edata" || name == "_end") return;  // the linker's
    if (name.rfind("gort_", 0) == 0)
      exported++;
    else
      ADD_FAILURE() << "libgort.so exports " << name;
  });
  EXPECT_GT(exported, 40);  // the API
}

}  // namespace
