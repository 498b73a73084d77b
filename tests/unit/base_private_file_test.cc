// Files the node trusts (admin token, cluster key, bucket policy) are refused when someone else
// could have written them (ring/base/private_file.h). Real files; the tests run as root, so a
// foreign owner is made with chown.
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "ring/base/private_file.h"

namespace shoal::base {
namespace {

class PrivateFile : public ::testing::Test {
 protected:
  PrivateFile() {
    char dir[] = "/tmp/shoal-private-XXXXXX";
    EXPECT_NE(::mkdtemp(dir), nullptr);
    dir_ = dir;
  }
  ~PrivateFile() override { std::filesystem::remove_all(dir_); }

  // Writes `text` to a file in the test's directory with `mode` and returns its path.
  std::string file(const std::string& name, const std::string& text, mode_t mode) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << text;
    EXPECT_EQ(::chmod(path.c_str(), mode), 0);
    return path;
  }

  std::string dir_;
};

TEST_F(PrivateFile, ReadsAFileOnlyItsOwnerCanWrite) {
  for (mode_t mode : {0600, 0400, 0640, 0644}) {
    const std::string path = file("secret", "s3cret\n", mode);
    std::string out;
    EXPECT_EQ(read_private_file(path, 100, &out), std::nullopt) << std::oct << mode;
    EXPECT_EQ(out, "s3cret\n");
  }
}

TEST_F(PrivateFile, RefusesAFileItsGroupOrOthersCanWrite) {
  for (mode_t mode : {0666, 0620, 0602, 0660}) {
    const std::string path = file("secret", "s3cret", mode);
    std::string out = "unchanged";
    auto reason = read_private_file(path, 100, &out);
    ASSERT_TRUE(reason.has_value()) << std::oct << mode;
    EXPECT_NE(reason->find(path + " is writable by its group or others"), std::string::npos)
        << *reason;
    EXPECT_NE(reason->find("chmod go-w"), std::string::npos);
    EXPECT_EQ(out, "unchanged");
  }
}

TEST_F(PrivateFile, RefusesAFileOwnedBySomeoneElse) {
  const struct passwd* nobody = ::getpwnam("nobody");
  ASSERT_NE(nobody, nullptr);
  if (::geteuid() == nobody->pw_uid) GTEST_SKIP() << "running as nobody";
  const std::string path = file("secret", "s3cret", 0600);
  ASSERT_EQ(::chown(path.c_str(), nobody->pw_uid, nobody->pw_gid), 0) << "tests run as root";
  std::string out;
  auto reason = read_private_file(path, 100, &out);
  ASSERT_TRUE(reason.has_value());
  EXPECT_NE(reason->find("is owned by uid " + std::to_string(nobody->pw_uid)), std::string::npos)
      << *reason;
}

TEST_F(PrivateFile, FollowsLinksAndJudgesTheirTarget) {
  const std::string target = file("target", "s3cret", 0600);
  const std::string link = dir_ + "/link";
  ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
  std::string out;
  EXPECT_EQ(read_private_file(link, 100, &out), std::nullopt);
  EXPECT_EQ(out, "s3cret");
  ASSERT_EQ(::chmod(target.c_str(), 0666), 0);
  EXPECT_TRUE(read_private_file(link, 100, &out).has_value());
}

TEST_F(PrivateFile, RefusesMissingLargeAndSpecialFiles) {
  std::string out;
  EXPECT_EQ(read_private_file(dir_ + "/none", 100, &out),
            "cannot open " + dir_ + "/none: No such file or directory");
  EXPECT_EQ(read_private_file(file("big", std::string(101, 'x'), 0600), 100, &out),
            dir_ + "/big is larger than 100 bytes");
  EXPECT_EQ(read_private_file(dir_, 100, &out), dir_ + " is not a regular file");
  const std::string fifo = dir_ + "/fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(read_private_file(fifo, 100, &out), fifo + " is not a regular file");  // no hang
}

}  // namespace
}  // namespace shoal::base
