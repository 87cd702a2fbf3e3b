#include "core/text/unicode_text.h"

#include <unicode/normalizer2.h>
#include <unicode/unistr.h>
#include <unicode/utf8.h>

#include <stdexcept>
#include <unordered_map>

namespace sq::unicode {

int utf8_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead >> 5) == 0x6) return 2;
  if ((lead >> 4) == 0xE) return 3;
  if ((lead >> 3) == 0x1E) return 4;
  return 1;
}

std::vector<std::string> utf8_chars(const std::string& s) {
  std::vector<std::string> out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    size_t n = static_cast<size_t>(utf8_length(static_cast<unsigned char>(s[i])));
    if (i + n > s.size()) n = s.size() - i;
    out.push_back(s.substr(i, n));
    i += n;
  }
  return out;
}

std::string encode_utf8(uint32_t cp) {
  std::string out;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return out;
}

const std::array<std::string, 256>& byte_to_char() {
  static const std::array<std::string, 256> table = [] {
    std::array<std::string, 256> t;
    uint32_t next = 256;
    for (uint32_t b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      t[b] = encode_utf8(printable ? b : next++);
    }
    return t;
  }();
  return table;
}

int char_to_byte(const std::string& c) {
  static const std::unordered_map<std::string, int> inverse = [] {
    std::unordered_map<std::string, int> m;
    for (int b = 0; b < 256; ++b) m[byte_to_char()[static_cast<size_t>(b)]] = b;
    return m;
  }();
  auto it = inverse.find(c);
  return it == inverse.end() ? -1 : it->second;
}

std::string bytes_to_alphabet(const std::string& s) {
  std::string out;
  out.reserve(s.size() * 2);
  for (unsigned char b : s) out += byte_to_char()[b];
  return out;
}

std::string make_valid_utf8(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const int32_t n = static_cast<int32_t>(s.size());
  for (int32_t i = 0; i < n;) {
    const int32_t start = i;
    UChar32 c;
    U8_NEXT(p, i, n, c);
    if (c < 0)
      out += "\xEF\xBF\xBD";
    else
      out.append(s, static_cast<size_t>(start), static_cast<size_t>(i - start));
  }
  return out;
}

bool is_valid_utf8(const std::string& s) { return make_valid_utf8(s) == s; }

std::string nfc(const std::string& s) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* norm = icu::Normalizer2::getNFCInstance(status);
  if (U_FAILURE(status)) throw std::runtime_error("NFC normalizer unavailable");
  const icu::UnicodeString in = icu::UnicodeString::fromUTF8(s);
  if (norm->isNormalized(in, status) && U_SUCCESS(status)) return s;
  status = U_ZERO_ERROR;
  const icu::UnicodeString out = norm->normalize(in, status);
  if (U_FAILURE(status)) throw std::runtime_error("NFC normalization failed");
  std::string result;
  out.toUTF8String(result);
  return result;
}

}  // namespace sq::unicode
