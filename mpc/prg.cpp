#include "mpc/prg.hpp"

#include <openssl/evp.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <stdexcept>

#include "net/errors.hpp"

namespace sm::mpc {

namespace {

void ensure_sodium() {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
}

// A seed derived from `master` for a labelled purpose: the first 16 bytes of AES_master(label).
Seed derive(const Seed& master, std::uint64_t label) {
  Prg prg(master, label);
  Seed out;
  prg.fill(out);
  return out;
}

// The counter block of a stream's first keystream block: stream (big-endian, high), position 0.
std::array<std::uint8_t, 16> first_counter_block(std::uint64_t stream) {
  std::array<std::uint8_t, 16> iv{};
  for (int i = 0; i < 8; ++i) iv[i] = static_cast<std::uint8_t>(stream >> (56 - 8 * i));
  return iv;
}

// AES-128-CTR, fetched from OpenSSL's default provider once per process (an implicit fetch at
// every initialisation costs more than the key schedule).
const EVP_CIPHER* aes_128_ctr() {
  static EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "AES-128-CTR", nullptr);
  if (cipher == nullptr) throw std::runtime_error("AES-128-CTR is not available");
  return cipher;
}

}  // namespace

Seed random_seed() {
  ensure_sodium();
  Seed seed;
  randombytes_buf(seed.data(), seed.size());
  return seed;
}

struct Prg::Cipher {
  EVP_CIPHER_CTX* ctx = nullptr;
  ~Cipher() { EVP_CIPHER_CTX_free(ctx); }
};

Prg::Prg(const Seed& seed, std::uint64_t stream) : cipher_(std::make_unique<Cipher>()) {
  cipher_->ctx = EVP_CIPHER_CTX_new();
  const auto iv = first_counter_block(stream);
  if (cipher_->ctx == nullptr ||
      EVP_EncryptInit_ex(cipher_->ctx, aes_128_ctr(), nullptr, seed.data(), iv.data()) != 1) {
    throw std::runtime_error("AES-CTR initialisation failed");
  }
}

void Prg::restart(std::uint64_t stream) {
  // A new IV alone resets the counter and any partly used keystream block; the key stays.
  const auto iv = first_counter_block(stream);
  if (EVP_EncryptInit_ex(cipher_->ctx, nullptr, nullptr, nullptr, iv.data()) != 1) {
    throw std::runtime_error("AES-CTR re-initialisation failed");
  }
}

Prg::~Prg() = default;
Prg::Prg(Prg&&) noexcept = default;
Prg& Prg::operator=(Prg&&) noexcept = default;

void Prg::fill(std::span<std::uint8_t> out) { fill_bytes(std::as_writable_bytes(out)); }

void Prg::fill_bytes(std::span<std::byte> out) {
  // The keystream is the encryption of zeros: encrypt a small block of zeros, L1-resident, into
  // `out` piece by piece, so `out` is written once and never zeroed first.
  static constexpr std::array<unsigned char, 16384> kZeros{};
  for (std::size_t done = 0; done < out.size();) {
    const int count = static_cast<int>(std::min(kZeros.size(), out.size() - done));
    auto* data = reinterpret_cast<unsigned char*>(out.data() + done);
    int written = 0;
    if (EVP_EncryptUpdate(cipher_->ctx, data, &written, kZeros.data(), count) != 1 ||
        written != count) {
      throw std::runtime_error("AES-CTR keystream generation failed");
    }
    done += static_cast<std::size_t>(count);
  }
}

PrgState::PrgState(Seed private_seed, std::vector<Seed> pairwise, Seed common, net::PartyId self)
    : private_seed_(private_seed),
      pairwise_(std::move(pairwise)),
      common_(common),
      self_(self),
      pairwise_counters_(pairwise_.size(), 0) {}

PrgState PrgState::establish(net::Mesh& mesh) {
  const std::size_t n = mesh.size();
  const net::PartyId self = mesh.self();
  std::vector<Seed> pairwise(n);
  const Seed contribution = random_seed();
  std::vector<net::Bytes> outgoing(n);
  for (net::PartyId j = 0; j < n; ++j) {
    if (j == self) continue;
    outgoing[j].assign(contribution.begin(), contribution.end());
    if (self < j) {
      pairwise[j] = random_seed();
      outgoing[j].insert(outgoing[j].end(), pairwise[j].begin(), pairwise[j].end());
    }
  }
  const auto incoming = mesh.exchange_all(outgoing, "seed set-up");

  // The common seed: the XOR of all contributions, uniform if one party's is.
  Seed common{};
  for (net::PartyId j = 0; j < n; ++j) {
    Seed part = contribution;
    if (j != self) {
      const std::size_t expected = 16 + (j < self ? 16 : 0);
      if (incoming[j].size() != expected) {
        throw ProtocolError("malformed seed set-up message from " + mesh.describe(j));
      }
      std::copy_n(incoming[j].begin(), 16, part.begin());
      if (j < self) std::copy_n(incoming[j].begin() + 16, 16, pairwise[j].begin());
    }
    for (std::size_t b = 0; b < common.size(); ++b) common[b] ^= part[b];
  }
  return PrgState(random_seed(), std::move(pairwise), common, self);
}

PrgState PrgState::from_master_seed(const Seed& master, net::PartyId self, std::size_t parties) {
  std::vector<Seed> pairwise(parties);
  for (net::PartyId j = 0; j < parties; ++j) {
    if (j == self) continue;
    const auto low = std::min(self, j), high = std::max(self, j);
    pairwise[j] = derive(master, (std::uint64_t{1} << 62) | (low << 20) | high);
  }
  return PrgState(derive(master, self), std::move(pairwise), derive(master, std::uint64_t{1} << 63),
                  self);
}

Prg PrgState::private_stream() { return Prg(private_seed_, private_counter_++); }

Prg PrgState::pairwise_stream(net::PartyId peer) {
  if (peer >= pairwise_.size() || peer == self_)
    throw std::invalid_argument("pairwise_stream: bad peer");
  return Prg(pairwise_[peer], pairwise_counters_[peer]++);
}

Prg PrgState::common_stream() { return Prg(common_, common_counter_++); }

}  // namespace sm::mpc
