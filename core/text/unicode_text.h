#pragma once
// UTF-8 and Unicode helpers for the tokenizer: code-point iteration, the byte-level alphabet of
// GPT-2-style tokenizers, and NFC normalization.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace sq::unicode {

// Byte length of the UTF-8 sequence starting with `lead` (1 for a stray continuation byte, so
// that iteration always advances).
int utf8_length(unsigned char lead);

// The string split into UTF-8 characters (each a valid or stray byte sequence).
std::vector<std::string> utf8_chars(const std::string& s);

std::string encode_utf8(uint32_t code_point);

// GPT-2's reversible map from bytes to printable characters: the printable Latin-1 bytes map to
// themselves, the rest to U+0100 onwards in byte order.
const std::array<std::string, 256>& byte_to_char();

// The inverse map; returns -1 for a character outside the byte alphabet.
int char_to_byte(const std::string& utf8_char);

// Each byte of `s` mapped through byte_to_char().
std::string bytes_to_alphabet(const std::string& s);

// Replaces invalid UTF-8 sequences with U+FFFD, as a lossy UTF-8 decoder does.
std::string make_valid_utf8(const std::string& s);

bool is_valid_utf8(const std::string& s);

// Unicode Normalization Form C.
std::string nfc(const std::string& s);

}  // namespace sq::unicode
