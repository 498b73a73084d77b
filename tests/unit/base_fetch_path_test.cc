#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "ring/base/fetch_path.h"

namespace shoal::base {
namespace {

FetchTarget parse_ok(std::string_view target) {
  FetchTarget out;
  const auto error = parse_fetch_target(target, &out);
  EXPECT_EQ(error, std::nullopt) << target;
  return out;
}

// Returns the reason for rejecting `target`; checks that *out was left alone.
std::string parse_error(std::string_view target) {
  FetchTarget out{"k0", "o0"};
  const auto error = parse_fetch_target(target, &out);
  EXPECT_TRUE(error.has_value()) << target;
  EXPECT_EQ(out, (FetchTarget{"k0", "o0"})) << target;
  if (!error) return "";
  EXPECT_EQ(error->find('\n'), std::string::npos);
  return *error;
}

TEST(FetchTarget, SplitsKindAndObject) {
  EXPECT_EQ(parse_ok("/fetch/videos/movie.mp4"), (FetchTarget{"videos", "movie.mp4"}));
  EXPECT_EQ(parse_ok("/fetch/k/o"), (FetchTarget{"k", "o"}));
}

TEST(FetchTarget, ObjectMayContainSlashes) {
  EXPECT_EQ(parse_ok("/fetch/logs/2024/01/02/part-0001.parquet"),
            (FetchTarget{"logs", "2024/01/02/part-0001.parquet"}));
  EXPECT_EQ(parse_ok("/fetch/k//leading"), (FetchTarget{"k", "/leading"}));
  EXPECT_EQ(parse_ok("/fetch/k/trailing/"), (FetchTarget{"k", "trailing/"}));
  EXPECT_EQ(parse_ok("/fetch/k/a//b"), (FetchTarget{"k", "a//b"}));
  EXPECT_EQ(parse_ok("/fetch/k/.../x..y/.z/z."), (FetchTarget{"k", ".../x..y/.z/z."}));
}

// "." and ".." segments are refused, raw or escaped: an origin that normalises paths would read
// another key, and "./x" would be a second cache entry for "x".
TEST(FetchTarget, RejectsDotSegments) {
  for (const char* target :
       {"/fetch/k/../x", "/fetch/k/./x", "/fetch/k/a/../b", "/fetch/k/a/./b", "/fetch/k/a/..",
        "/fetch/k/.", "/fetch/k/..", "/fetch/k/a/.", "/fetch/k/%2E%2E/x", "/fetch/k/a%2F..%2Fb",
        "/fetch/k/%2e/x", "/fetch/k//../x"}) {
    EXPECT_NE(parse_error(target).find("segment"), std::string::npos) << target;
  }
  EXPECT_NE(parse_error("/fetch/../o").find("kind must start and end"), std::string::npos);
  EXPECT_NE(parse_error("/fetch/./o").find("kind must start and end"), std::string::npos);
  EXPECT_NE(parse_error("/fetch/%2E%2E/o").find("kind must start and end"), std::string::npos);
}

TEST(FetchTarget, IgnoresQuery) {
  EXPECT_EQ(parse_ok("/fetch/k/o?x=1&y=%zz"), (FetchTarget{"k", "o"}));
  EXPECT_EQ(parse_ok("/fetch/k/a/b?"), (FetchTarget{"k", "a/b"}));
  EXPECT_EQ(parse_ok("/fetch/k/o%3Fq?x"), (FetchTarget{"k", "o?q"}));
}

TEST(FetchTarget, PercentDecodesOnce) {
  EXPECT_EQ(parse_ok("/fetch/k/a%2Fb"), (FetchTarget{"k", "a/b"}));
  EXPECT_EQ(parse_ok("/fetch/k/a%2fb"), (FetchTarget{"k", "a/b"}));
  EXPECT_EQ(parse_ok("/fetch/k/a%252Fb"), (FetchTarget{"k", "a%2Fb"}));
  EXPECT_EQ(parse_ok("/fetch/k/a%20b"), (FetchTarget{"k", "a b"}));
  EXPECT_EQ(parse_ok("/fetch/my%2Dkind/o"), (FetchTarget{"my-kind", "o"}));
  EXPECT_EQ(parse_ok("/fetch/k/%25"), (FetchTarget{"k", "%"}));
}

TEST(FetchTarget, PlusStaysPlus) {
  EXPECT_EQ(parse_ok("/fetch/k/a+b"), (FetchTarget{"k", "a+b"}));
  EXPECT_EQ(parse_ok("/fetch/k/a%2Bb"), (FetchTarget{"k", "a+b"}));
}

TEST(FetchTarget, AcceptsUtf8) {
  EXPECT_EQ(parse_ok("/fetch/k/caf%C3%A9"), (FetchTarget{"k", "caf\xC3\xA9"}));
  EXPECT_EQ(parse_ok("/fetch/k/caf\xC3\xA9"), (FetchTarget{"k", "caf\xC3\xA9"}));
  EXPECT_EQ(parse_ok("/fetch/k/%F0%9F%98%80"), (FetchTarget{"k", "\xF0\x9F\x98\x80"}));
}

TEST(FetchTarget, RejectsOtherPaths) {
  EXPECT_NE(parse_error("/"), "");
  EXPECT_NE(parse_error(""), "");
  EXPECT_NE(parse_error("/fetch"), "");
  EXPECT_NE(parse_error("/fetchx/k/o"), "");
  EXPECT_NE(parse_error("/Fetch/k/o"), "");
  EXPECT_NE(parse_error("fetch/k/o"), "");
  EXPECT_NE(parse_error("http://host/fetch/k/o"), "");
  EXPECT_NE(parse_error("/stats"), "");
}

TEST(FetchTarget, RejectsMissingObject) {
  EXPECT_NE(parse_error("/fetch/"), "");
  EXPECT_NE(parse_error("/fetch/kind"), "");
  EXPECT_NE(parse_error("/fetch/kind?x=/y"), "");
  EXPECT_NE(parse_error("/fetch/kind/").find("object must be 1-1024 bytes"), std::string::npos);
  EXPECT_NE(parse_error("/fetch/kind/?x"), "");
}

TEST(FetchTarget, RejectsEmptyKind) {
  EXPECT_NE(parse_error("/fetch//o").find("kind must be 1-64 bytes"), std::string::npos);
}

TEST(FetchTarget, KindLengthLimitsApplyAfterDecoding) {
  const std::string k64(64, 'k');
  EXPECT_EQ(parse_ok("/fetch/" + k64 + "/o").kind, k64);
  EXPECT_NE(parse_error("/fetch/" + k64 + "k/o").find("kind must be 1-64 bytes, got 65"),
            std::string::npos);
  // 64 "%41" escapes are 192 raw bytes but decode to 64 bytes.
  std::string escaped;
  for (int i = 0; i < 64; ++i) escaped += "%41";
  EXPECT_EQ(parse_ok("/fetch/" + escaped + "/o").kind, std::string(64, 'A'));
}

TEST(FetchTarget, ObjectLengthLimitsApplyAfterDecoding) {
  const std::string o1024(1024, 'o');
  EXPECT_EQ(parse_ok("/fetch/k/" + o1024).object, o1024);
  EXPECT_NE(parse_error("/fetch/k/" + o1024 + "o").find("object must be 1-1024 bytes, got 1025"),
            std::string::npos);
  std::string escaped;
  for (int i = 0; i < 1024; ++i) escaped += "%2F";
  EXPECT_EQ(parse_ok("/fetch/k/" + escaped).object, std::string(1024, '/'));
  EXPECT_NE(parse_error("/fetch/k/" + escaped + "%2F"), "");
}

// Kinds follow ring/base/names.h: letters, digits, '.', '_' and '-', nothing else, escaped or not.
TEST(FetchTarget, RejectsKindsOutsideTheKindRule) {
  for (const char* target : {"/fetch/a%2Fb/o", "/fetch/my%20kind/o", "/fetch/%E6%97%A5/o",
                             "/fetch/a:b/o", "/fetch/a%3A80/o", "/fetch/-k/o", "/fetch/k_/o"}) {
    EXPECT_NE(parse_error(target).find("kind "), std::string::npos) << target;
  }
  EXPECT_EQ(parse_ok("/fetch/Models_v2.prod-eu/o").kind, "Models_v2.prod-eu");
}

TEST(FetchTarget, RejectsBadPercentEscapes) {
  for (const char* target : {"/fetch/k/a%", "/fetch/k/a%2", "/fetch/k/a%zz", "/fetch/k/a%2g",
                             "/fetch/k/a%%20", "/fetch/k%/o", "/fetch/k/a% 20", "/fetch/k/%-1"}) {
    EXPECT_NE(parse_error(target).find("bad percent escape"), std::string::npos) << target;
  }
}

TEST(FetchTarget, RejectsControlCharacters) {
  for (const char* target : {"/fetch/k/a%00b", "/fetch/k/a%0Ab", "/fetch/k/a%0db", "/fetch/k/%1F",
                             "/fetch/k/%7F", "/fetch/k/a\tb"}) {
    EXPECT_NE(parse_error(target).find("control character"), std::string::npos) << target;
  }
  EXPECT_NE(parse_error(std::string_view("/fetch/k/a\0b", 12)).find("control character"),
            std::string::npos);
  EXPECT_EQ(parse_ok("/fetch/k/%20%7E").object, " ~");
}

TEST(FetchTarget, RejectsInvalidUtf8) {
  for (const char* target : {
           "/fetch/k/%FF",           // never valid in UTF-8
           "/fetch/k/%C3",           // truncated two-byte sequence
           "/fetch/k/%C3%28",        // bad continuation byte
           "/fetch/k/%80",           // lone continuation byte
           "/fetch/k/%C0%AF",        // overlong '/'
           "/fetch/k/%E0%80%AF",     // overlong '/', three bytes
           "/fetch/k/%ED%A0%80",     // surrogate U+D800
           "/fetch/k/%F4%90%80%80",  // U+110000, above the Unicode range
           "/fetch/k/%F0%9F%98",     // truncated four-byte sequence
           "/fetch/k/\xC3",          // raw, undecoded
       }) {
    EXPECT_NE(parse_error(target).find("not valid UTF-8"), std::string::npos) << target;
  }
}

TEST(PercentDecode, DecodesEscapesAndCopiesTheRest) {
  EXPECT_EQ(percent_decode(""), "");
  EXPECT_EQ(percent_decode("abc"), "abc");
  EXPECT_EQ(percent_decode("%41%62%7a"), "Abz");
  EXPECT_EQ(percent_decode("a+b%2B"), "a+b+");
  EXPECT_EQ(percent_decode("%00"), std::string(1, '\0'));
  EXPECT_EQ(percent_decode("%FF"), "\xFF");
  EXPECT_EQ(percent_decode("%"), std::nullopt);
  EXPECT_EQ(percent_decode("%4"), std::nullopt);
  EXPECT_EQ(percent_decode("%4G"), std::nullopt);
  EXPECT_EQ(percent_decode("x%"), std::nullopt);
}

TEST(PercentDecode, EveryEscapeOfTwoBytesDecodesIffBothAreHexDigits) {
  auto hex = [](int c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  };
  for (int hi = 0; hi < 256; ++hi) {
    for (int lo = 0; lo < 256; ++lo) {
      const std::string escape = {'%', static_cast<char>(hi), static_cast<char>(lo), 'x'};
      const auto decoded = percent_decode(escape);
      if (!hex(hi) || !hex(lo)) {
        EXPECT_EQ(decoded, std::nullopt) << hi << " " << lo;
        continue;
      }
      const int value = static_cast<int>(std::stoi(escape.substr(1, 2), nullptr, 16));
      EXPECT_EQ(decoded, std::string({static_cast<char>(value), 'x'})) << hi << " " << lo;
    }
  }
}

TEST(PercentDecode, CopiesEveryOtherByteAsIs) {
  std::string raw;
  for (int c = 1; c < 256; ++c) {
    if (c != '%') raw += static_cast<char>(c);
  }
  raw += '\0';
  EXPECT_EQ(percent_decode(raw), raw);
}

TEST(Utf8Validator, AcceptsWellFormed) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain ascii"));
  EXPECT_TRUE(is_valid_utf8("\xC2\x80"));          // U+0080
  EXPECT_TRUE(is_valid_utf8("\xDF\xBF"));          // U+07FF
  EXPECT_TRUE(is_valid_utf8("\xE0\xA0\x80"));      // U+0800
  EXPECT_TRUE(is_valid_utf8("\xED\x9F\xBF"));      // U+D7FF
  EXPECT_TRUE(is_valid_utf8("\xEE\x80\x80"));      // U+E000
  EXPECT_TRUE(is_valid_utf8("\xEF\xBF\xBF"));      // U+FFFF
  EXPECT_TRUE(is_valid_utf8("\xF0\x90\x80\x80"));  // U+10000
  EXPECT_TRUE(is_valid_utf8("\xF4\x8F\xBF\xBF"));  // U+10FFFF
  EXPECT_TRUE(is_valid_utf8(std::string_view("\0", 1)));
}

TEST(Utf8Validator, RejectsMalformed) {
  EXPECT_FALSE(is_valid_utf8("\x80"));
  EXPECT_FALSE(is_valid_utf8("\xBF"));
  EXPECT_FALSE(is_valid_utf8("\xC0\x80"));          // overlong U+0000
  EXPECT_FALSE(is_valid_utf8("\xC1\xBF"));          // overlong U+007F
  EXPECT_FALSE(is_valid_utf8("\xE0\x9F\xBF"));      // overlong U+07FF
  EXPECT_FALSE(is_valid_utf8("\xF0\x8F\xBF\xBF"));  // overlong U+FFFF
  EXPECT_FALSE(is_valid_utf8("\xED\xBF\xBF"));      // surrogate U+DFFF
  EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));  // U+110000
  EXPECT_FALSE(is_valid_utf8("\xF5\x80\x80\x80"));
  EXPECT_FALSE(is_valid_utf8("\xF8\x88\x80\x80\x80"));  // five-byte form
  EXPECT_FALSE(is_valid_utf8("\xFE"));
  EXPECT_FALSE(is_valid_utf8("a\xE2\x82"));  // truncated at the end
  EXPECT_FALSE(is_valid_utf8("\xE2\x82z"));  // ASCII inside a sequence
}

}  // namespace
}  // namespace shoal::base
