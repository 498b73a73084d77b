// Tests for node/admin_auth.h: the token file's rules, the bearer credential's syntax, the
// constant-time comparison's answers, and which status and challenge each request gets.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "node/admin_auth.h"

namespace shoal::test {
namespace {

using node::bearer_token;
using node::check_admin_auth;

constexpr const char* kToken = "0123456789abcdef-token";

// A temporary file holding `contents`, removed at the end of the test.
class TokenFile {
 public:
  explicit TokenFile(const std::string& contents) {
    char path[] = "/tmp/shoal-admin-token-XXXXXX";
    const int fd = ::mkstemp(path);
    EXPECT_GE(fd, 0);
    ::close(fd);
    path_ = path;
    std::ofstream(path_, std::ios::binary) << contents;
  }
  ~TokenFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(NodeAdminAuth, TokenFileLosesTrailingWhitespaceOnly) {
  TokenFile f(std::string(kToken) + " \n\t\n");
  std::string error;
  auto token = node::load_admin_token(f.path(), &error);
  ASSERT_TRUE(token.has_value()) << error;
  EXPECT_EQ(*token, kToken);
}

TEST(NodeAdminAuth, TokenFileErrorsNameTheFile) {
  std::string error;
  EXPECT_FALSE(node::load_admin_token("/nonexistent/token", &error));
  EXPECT_EQ(error, "cannot open /nonexistent/token: No such file or directory");
  TokenFile empty("\n\n");
  EXPECT_FALSE(node::load_admin_token(empty.path(), &error));
  EXPECT_EQ(error, empty.path() + " is empty");
  TokenFile short_token("fifteen-bytes!!");
  EXPECT_FALSE(node::load_admin_token(short_token.path(), &error));
  EXPECT_EQ(error, "token in " + short_token.path() + " is shorter than 16 bytes");
  TokenFile spaced("0123456789 abcdef");
  EXPECT_FALSE(node::load_admin_token(spaced.path(), &error));
  EXPECT_EQ(error, "token in " + spaced.path() + " contains whitespace or control characters");
  TokenFile exactly("sixteen-bytes!!!");
  EXPECT_TRUE(node::load_admin_token(exactly.path(), &error)) << error;
}

TEST(NodeAdminAuth, TokenEqualsComparesWholeSecrets) {
  EXPECT_TRUE(node::token_equals(kToken, kToken));
  EXPECT_FALSE(node::token_equals(kToken, "0123456789abcdef-tokeN"));
  EXPECT_FALSE(node::token_equals(kToken, "0123456789abcdef-toke"));  // a prefix
  EXPECT_FALSE(node::token_equals(kToken, ""));
  EXPECT_TRUE(node::token_equals("", ""));
}

TEST(NodeAdminAuth, BearerTokenFollowsRfc6750) {
  EXPECT_EQ(bearer_token("Bearer abc"), "abc");
  EXPECT_EQ(bearer_token("bEaReR abc"), "abc");         // the scheme is case-insensitive
  EXPECT_EQ(bearer_token("  Bearer   abc \t"), "abc");  // surrounding blanks
  EXPECT_EQ(bearer_token("Bearer a b"), "a b");         // the rest is the credential
  EXPECT_FALSE(bearer_token(""));
  EXPECT_FALSE(bearer_token("Bearer"));
  EXPECT_FALSE(bearer_token("Bearer "));
  EXPECT_FALSE(bearer_token("Bearer\tabc"));  // one space after the scheme
  EXPECT_FALSE(bearer_token("Basic YWxhZGRpbjpvcGVuc2VzYW1l"));
  EXPECT_FALSE(bearer_token("Bearerabc"));
}

TEST(NodeAdminAuth, EachRequestGetsItsStatusAndChallenge) {
  const std::optional<std::string> token = std::string(kToken);
  EXPECT_FALSE(check_admin_auth(token, std::string("Bearer ") + kToken));

  auto disabled = check_admin_auth(std::nullopt, std::string("Bearer ") + kToken);
  ASSERT_TRUE(disabled);
  EXPECT_EQ(disabled->status, 403);
  EXPECT_EQ(disabled->message,
            "admin API disabled (start shoald with --admin-token-file to enable it)");
  EXPECT_EQ(disabled->www_authenticate, "");

  for (const char* missing : {"", "Basic abc", "Bearer"}) {
    auto r = check_admin_auth(token, missing);
    ASSERT_TRUE(r) << missing;
    EXPECT_EQ(r->status, 401);
    EXPECT_EQ(r->message, "admin token required (Authorization: Bearer)");
    EXPECT_EQ(r->www_authenticate, "Bearer realm=\"shoal-admin\"");
  }

  auto wrong = check_admin_auth(token, "Bearer not-the-token-at-all");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  EXPECT_EQ(wrong->message, "wrong admin token");
  EXPECT_EQ(wrong->www_authenticate, "Bearer realm=\"shoal-admin\", error=\"invalid_token\"");
}

}  // namespace
}  // namespace shoal::test
