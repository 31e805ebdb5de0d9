#include "common/digest.hpp"

#include <array>
#include <stdexcept>

#include <openssl/evp.h>

namespace delta::internal {

namespace {

// Fetched once: an implicit fetch (EVP_sha256()) looks the algorithm up on every call.
const EVP_MD* sha256_md() {
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA2-256", nullptr);
  if (md == nullptr) throw std::runtime_error("OpenSSL has no SHA-256 implementation");
  return md;
}

}  // namespace

std::string sha256_hex(std::string_view data) {
  std::array<unsigned char, 32> digest{};
  unsigned int size = 0;
  if (EVP_Digest(data.data(), data.size(), digest.data(), &size, sha256_md(), nullptr) != 1 ||
      size != digest.size()) {
    throw std::runtime_error("SHA-256 digest failed");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(2 * digest.size(), '\0');
  for (std::size_t i = 0; i < digest.size(); ++i) {
    out[2 * i] = kHex[digest[i] >> 4];
    out[2 * i + 1] = kHex[digest[i] & 0x0f];
  }
  return out;
}

}  // namespace delta::internal
