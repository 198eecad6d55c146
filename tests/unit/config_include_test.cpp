// `include` (drop-in files) and `listen` arrays in the config loader: files
// read in sorted order relative to the including file, services defined once
// across all files, listen conflicts across files, and every error at the
// file:line:column where it is.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "config/config_loader.hpp"

namespace socketd {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;

class Dir {
 public:
  Dir() {
    std::string templ = (fs::temp_directory_path() / "socketd-include-XXXXXX").string();
    path_ = ::mkdtemp(templ.data());
  }
  ~Dir() { fs::remove_all(path_); }
  std::string write(const std::string& name, const std::string& text) const {
    const fs::path file = fs::path(path_) / name;
    fs::create_directories(file.parent_path());
    std::ofstream(file) << text;
    return file.string();
  }
  std::string path(const std::string& name) const { return (fs::path(path_) / name).string(); }

 private:
  std::string path_;
};

std::string svc(const std::string& name, const std::string& listen = "\"127.0.0.1:0\"") {
  return "[services." + name + "]\nmode = \"echo\"\nlisten = " + listen + "\n";
}

std::vector<std::string> names(const Config& config) {
  std::vector<std::string> out;
  for (const auto& s : config.services) out.push_back(s.name);
  return out;
}

std::string all_errors(const ConfigLoad& load) {
  std::string out;
  for (const auto& e : load.errors) out += e.to_string() + "\n";
  return out;
}

TEST(ConfigInclude, GlobReadsMatchingFilesInSortedOrderAfterTheMainFile) {
  Dir dir;
  const auto main = dir.write("socketd.toml", "include = \"conf.d/*.toml\"\n" + svc("a"));
  dir.write("conf.d/20-c.toml", svc("c"));
  dir.write("conf.d/10-b.toml", svc("b"));
  dir.write("conf.d/notes.txt", "not toml at all [");
  const auto load = load_config_file(main);
  ASSERT_TRUE(load.ok()) << all_errors(load);
  EXPECT_THAT(names(*load.config), ElementsAre("a", "b", "c"));
  EXPECT_THAT(load.config->files,
              ElementsAre(main, dir.path("conf.d/10-b.toml"), dir.path("conf.d/20-c.toml")));
  EXPECT_THAT(load.config->include, ElementsAre("conf.d/*.toml"));
}

TEST(ConfigInclude, PatternsAreRelativeToTheIncludingFileNotTheWorkingDirectory) {
  Dir dir;
  const auto main =
      dir.write("etc/socketd.toml", "include = [\"one/*.toml\", \"two.toml\"]\n" + svc("a"));
  dir.write("etc/one/x.toml", svc("x"));
  dir.write("etc/two.toml", svc("two"));
  const auto cwd = fs::current_path();
  fs::current_path(dir.path(""));
  const auto load = load_config_file(main);
  fs::current_path(cwd);
  ASSERT_TRUE(load.ok()) << all_errors(load);
  EXPECT_THAT(names(*load.config), ElementsAre("a", "x", "two"));
}

TEST(ConfigInclude, AnEmptyDropInDirectoryIsFine) {
  Dir dir;
  fs::create_directories(dir.path("conf.d"));
  const auto main = dir.write("socketd.toml", "include = \"conf.d/*.toml\"\n" + svc("a"));
  const auto load = load_config_file(main);
  ASSERT_TRUE(load.ok()) << all_errors(load);
  EXPECT_THAT(load.config->files, ElementsAre(main));
}

TEST(ConfigInclude, ServicesMayAllLiveInDropIns) {
  Dir dir;
  const auto main = dir.write("socketd.toml", "include = \"conf.d/*.toml\"\n[daemon]\n");
  dir.write("conf.d/a.toml", svc("a"));
  const auto load = load_config_file(main);
  ASSERT_TRUE(load.ok()) << all_errors(load);
  EXPECT_THAT(names(*load.config), ElementsAre("a"));
}

TEST(ConfigInclude, NoServicesInAnyFileIsAnError) {
  Dir dir;
  const auto main = dir.write("socketd.toml", "include = \"conf.d/*.toml\"\n");
  const auto load = load_config_file(main);
  ASSERT_EQ(load.errors.size(), 1u) << all_errors(load);
  EXPECT_NE(load.errors[0].message.find("no services configured"), std::string::npos);
  EXPECT_NE(load.errors[0].message.find("or in an included file"), std::string::npos);
}

TEST(ConfigInclude, AServiceDefinedTwiceAcrossFilesIsAnErrorInTheLaterFile) {
  Dir dir;
  const auto main = dir.write("socketd.toml", "include = \"conf.d/*.toml\"\n\n" + svc("echo"));
  const auto drop_in = dir.write("conf.d/a.toml", "# again\n" + svc("echo"));
  const auto load = load_config_file(main);
  ASSERT_EQ(load.errors.size(), 1u) << all_errors(load);
  const auto& e = load.errors[0];
  EXPECT_EQ(e.file, drop_in);
  EXPECT_EQ(e.line, 2u);
  EXPECT_EQ(e.column, 11u);
  EXPECT_NE(e.message.find("service 'echo' is already defined at " + main + ":3"),
            std::string::npos)
      << e.message;
}

TEST(ConfigInclude, ErrorsInAnIncludedFileNameThatFileLineAndColumn) {
  Dir dir;
  const auto main = dir.write("socketd.toml", "include = \"conf.d/*.toml\"\n" + svc("a"));
  const auto bad = dir.write("conf.d/b.toml", svc("b") + "backlg = 5\n");
  const auto syntax = dir.write("conf.d/c.toml", "[services.c\n");
  const auto load = load_config_file(main);
  ASSERT_EQ(load.errors.size(), 2u) << all_errors(load);
  EXPECT_EQ(load.errors[0].file, bad);
  EXPECT_EQ(load.errors[0].line, 4u);
  EXPECT_EQ(load.errors[0].column, 1u);
  EXPECT_NE(load.errors[0].message.find("unknown key 'backlg'"), std::string::npos);
  EXPECT_EQ(load.errors[1].file, syntax);
  EXPECT_EQ(load.errors[1].line, 1u);
}

TEST(ConfigInclude, ListenConflictsAcrossFilesNameBothPlaces) {
  Dir dir;
  const auto main =
      dir.write("socketd.toml", "include = \"conf.d/*.toml\"\n" + svc("a", "\"127.0.0.1:7007\""));
  const auto drop_in = dir.write("conf.d/b.toml", svc("b", "\"127.0.0.1:7007\""));
  const auto load = load_config_file(main);
  ASSERT_EQ(load.errors.size(), 1u) << all_errors(load);
  EXPECT_EQ(load.errors[0].file, drop_in);
  EXPECT_EQ(load.errors[0].line, 3u);
  EXPECT_NE(
      load.errors[0].message.find("already used by service 'a' (127.0.0.1:7007, " + main + ":4)"),
      std::string::npos)
      << load.errors[0].message;
}

TEST(ConfigInclude, AMissingFileWithoutWildcardsIsAnErrorAtTheInclude) {
  Dir dir;
  const auto main = dir.write("socketd.toml", "include = \"extra.toml\"\n" + svc("a"));
  const auto load = load_config_file(main);
  ASSERT_EQ(load.errors.size(), 1u) << all_errors(load);
  EXPECT_EQ(load.errors[0].file, main);
  EXPECT_EQ(load.errors[0].line, 1u);
  EXPECT_EQ(load.errors[0].column, 11u);
  EXPECT_NE(load.errors[0].message.find("cannot read " + dir.path("extra.toml") +
                                        ": No such file or directory"),
            std::string::npos)
      << load.errors[0].message;
}

TEST(ConfigInclude, IncludeIsOnlyReadInTheMainFile) {
  Dir dir;
  const auto main = dir.write("socketd.toml", "include = \"conf.d/*.toml\"\n" + svc("a"));
  const auto drop_in = dir.write("conf.d/b.toml", "include = \"more/*.toml\"\n" + svc("b"));
  const auto load = load_config_file(main);
  ASSERT_EQ(load.errors.size(), 1u) << all_errors(load);
  EXPECT_EQ(load.errors[0].file, drop_in);
  EXPECT_NE(load.errors[0].message.find("'include' is only read in the main file"),
            std::string::npos);
}

TEST(ConfigInclude, ADaemonKeySetInTwoFilesIsAnError) {
  Dir dir;
  const auto main = dir.write(
      "socketd.toml", "include = \"conf.d/*.toml\"\n[daemon]\nlog_level = \"info\"\n" + svc("a"));
  const auto drop_in =
      dir.write("conf.d/b.toml", "[daemon]\nlog_level = \"debug\"\ndrain_timeout = \"2s\"\n");
  const auto load = load_config_file(main);
  ASSERT_EQ(load.errors.size(), 1u) << all_errors(load);
  EXPECT_EQ(load.errors[0].file, drop_in);
  EXPECT_EQ(load.errors[0].line, 2u);
  EXPECT_NE(load.errors[0].message.find("[daemon] 'log_level' is already set at " + main + ":3"),
            std::string::npos)
      << load.errors[0].message;
}

TEST(ConfigInclude, BadIncludeValuesAreErrors) {
  const auto load =
      parse_config("include = [\"a/*.toml\", 5, \"\"]\n" + svc("a"), "/nowhere/x.toml");
  ASSERT_EQ(load.errors.size(), 2u) << all_errors(load);
  EXPECT_EQ(load.errors[0].column, 24u);
  EXPECT_EQ(load.errors[1].column, 27u);
}

TEST(ConfigListen, AnArrayGivesOneServiceSeveralAddresses) {
  const auto load = parse_config(svc("echo", "[\"127.0.0.1:7\", \"[::1]:7\"]"), "test.toml");
  ASSERT_TRUE(load.ok()) << all_errors(load);
  const auto& listen = load.config->services.at(0).listen;
  ASSERT_EQ(listen.size(), 2u);
  EXPECT_EQ(listen[0].to_string(), "127.0.0.1:7");
  EXPECT_EQ(listen[1].to_string(), "[::1]:7");
}

TEST(ConfigListen, ArrayErrorsPointAtTheEntry) {
  struct Case {
    std::string listen;
    uint32_t column;
    std::string message;
  };
  for (const auto& c : std::vector<Case>{
           {"[]", 10, "'listen' must name at least one address"},
           {"[\"127.0.0.1:7\", 7]", 26, "'listen' entries must be strings"},
           {"[\"127.0.0.1:7\", \"nowhere:7\"]", 26, "'listen' \"nowhere:7\" is not a numeric"},
           {"[\"127.0.0.1:7\", \"127.0.0.1:7\"]", 26, "'listen' lists 127.0.0.1:7 twice"},
           {"[\"0.0.0.0:7\", \"127.0.0.1:7\"]", 24,
            "TCP address 127.0.0.1:7 overlaps this service's own 0.0.0.0:7 (line 3)"},
           {"{ a = 1 }", 10, "'listen' must be an address such as"},
       }) {
    SCOPED_TRACE(c.listen);
    const auto load = parse_config(svc("echo", c.listen), "test.toml");
    ASSERT_EQ(load.errors.size(), 1u) << all_errors(load);
    EXPECT_EQ(load.errors[0].line, 3u);
    EXPECT_EQ(load.errors[0].column, c.column);
    EXPECT_NE(load.errors[0].message.find(c.message), std::string::npos) << load.errors[0].message;
  }
}

TEST(ConfigListen, AddressesOfDifferentServicesConflictAsBefore) {
  const auto load = parse_config(
      svc("a", "[\"[::1]:9\", \"127.0.0.1:9\"]") + svc("b", "\"127.0.0.1:9\""), "test.toml");
  ASSERT_EQ(load.errors.size(), 1u) << all_errors(load);
  EXPECT_EQ(load.errors[0].line, 6u);
  EXPECT_NE(load.errors[0].message.find("already used by service 'a' (127.0.0.1:9, line 3)"),
            std::string::npos)
      << load.errors[0].message;
}

}  // namespace
}  // namespace socketd
