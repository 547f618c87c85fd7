// CorrelationPool: what it serves is what the wrapped source made (valid triples, masks and
// bits, none served twice), and it asks the source once for many requests.
#include <catch2/catch.hpp>

#include "mpc/correlation_pool.hpp"
#include "mpc/ops.hpp"
#include "tests/support/engines.hpp"

using namespace sm;
using namespace sm::mpc;

namespace {

// Counts the batches asked of the source it wraps.
template <class E>
class CountingSource final : public CorrelationSource<E> {
 public:
  explicit CountingSource(CorrelationSource<E>& source) : source_(source) {}
  std::size_t calls = 0;

  Triples<E> triples(std::size_t n) override { return ++calls, source_.triples(n); }
  MatrixTriple<E> matrix_triple(std::size_t r, std::size_t i, std::size_t c) override {
    return ++calls, source_.matrix_triple(r, i, c);
  }
  TruncMasks<E> trunc_masks(std::size_t n, int f) override {
    return ++calls, source_.trunc_masks(n, f);
  }
  BitMasks<E> bit_masks(std::size_t n, std::size_t w) override {
    return ++calls, source_.bit_masks(n, w);
  }
  std::vector<E> random_bits(std::size_t n) override { return ++calls, source_.random_bits(n); }
  WindowMasks<E> window_masks(std::size_t n, int low, std::size_t width) override {
    return ++calls, source_.window_masks(n, low, width);
  }
  MaskedMatrix<E> masked_matrix(std::size_t r, std::size_t c) override {
    return ++calls, source_.masked_matrix(r, c);
  }
  std::vector<MaskedProducts<E>> masked_products(
      const MaskedMatrix<E>& m, std::span<const std::vector<std::size_t>> s) override {
    return ++calls, source_.masked_products(m, s);
  }

 private:
  CorrelationSource<E>& source_;
};

}  // namespace

TEMPLATE_TEST_CASE("CorrelationPool serves valid, distinct correlations from few batches", "[pool]",
                   AdditiveEngine, ShamirEngine<Fp127>) {
  using En = TestType;
  using E = typename En::Element;
  using Shares = typename En::Shares;
  const auto results = test::run_engine<En>(3, [](En& engine) {
    CountingSource<E> counting(engine.correlations());
    CorrelationPool<E> pool(counting, 4);
    std::vector<E> a, b, c, bits;
    // Ten "iterations" of the same requests: 5 and 3 triples, 2 x 7 bits, 1 random bit.
    for (int it = 0; it < 10; ++it) {
      for (std::size_t n : {std::size_t{5}, std::size_t{3}}) {
        auto t = pool.triples(n);
        REQUIRE(t.a.size() == n);
        a.insert(a.end(), t.a.begin(), t.a.end());
        b.insert(b.end(), t.b.begin(), t.b.end());
        c.insert(c.end(), t.c.begin(), t.c.end());
      }
      const auto masks = pool.bit_masks(2, 7);
      REQUIRE(masks.width == 7);
      REQUIRE(masks.bits.size() == 14);
      bits.insert(bits.end(), masks.bits.begin(), masks.bits.end());
      const auto random = pool.random_bits(1);
      bits.insert(bits.end(), random.begin(), random.end());
    }
    CHECK(pool.triples(0).a.empty());
    const std::size_t calls = counting.calls;
    const auto opened = engine.open(Shares{a}, "a");
    const auto opened_b = engine.open(Shares{b}, "b");
    const auto opened_c = engine.open(Shares{c}, "c");
    const auto opened_bits = engine.open(Shares{bits}, "bits");
    for (std::size_t i = 0; i < opened.size(); ++i) CHECK(opened_c[i] == opened[i] * opened_b[i]);
    for (const auto& bit : opened_bits) CHECK((bit == E(0) || bit == E(1)));
    // Each triple drawn once: a run of 8 per iteration, no two equal (2^-60 chance).
    std::vector<E> sorted = opened;
    std::sort(sorted.begin(), sorted.end(),
              [](E x, E y) { return to_unsigned(x) < to_unsigned(y); });
    CHECK(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end());
    return calls;
  });
  // Triples: 5 x 4 = 20 per fetch, 8 per iteration: 4 fetches for 80; bit masks: 2 x 4 per
  // fetch, 2 per iteration: 3 fetches (8, 8, 8 >= 20); random bits 4 per fetch: 3 fetches.
  for (auto calls : results) CHECK(calls == 4 + 3 + 3);
}

TEST_CASE("CorrelationPool serves window masks per window, each once", "[pool]") {
  using E = Ring64;
  using Shares = AdditiveEngine::Shares;
  constexpr int kLow = 5;
  constexpr std::size_t kWidth = 6, kPerRequest = 3;
  const auto results = test::run_engine<AdditiveEngine>(3, [&](AdditiveEngine& engine) {
    CountingSource<E> counting(engine.correlations());
    CorrelationPool<E> pool(counting, 4);
    std::vector<E> r, bits, products;
    for (int it = 0; it < 10; ++it) {
      auto masks = pool.window_masks(kPerRequest, kLow, kWidth);
      REQUIRE(masks.low == kLow);
      REQUIRE(masks.width == kWidth);
      r.insert(r.end(), masks.r.begin(), masks.r.end());
      bits.insert(bits.end(), masks.bits.begin(), masks.bits.end());
      products.insert(products.end(), masks.products.begin(), masks.products.end());
      CHECK(pool.window_masks(1, kLow + 1, kWidth).r.size() == 1);  // another window: its own stock
    }
    const std::size_t calls = counting.calls;
    const auto opened_r = engine.open(Shares{r}, "r");
    const auto opened_bits = engine.open(Shares{bits}, "bits");
    const auto opened_products = engine.open(Shares{products}, "products");
    REQUIRE(opened_r.size() == 10 * kPerRequest);
    for (std::size_t k = 0; k < opened_r.size(); ++k) {
      for (std::size_t i = 0; i < kWidth; ++i) {
        CHECK(opened_bits[k * kWidth + i].value() == ((opened_r[k].value() >> (kLow + i)) & 1));
      }
      // A group of 4 bits (11 products), then one of 2: the last product is bits 5 and 4's.
      REQUIRE(opened_products.size() == 10 * kPerRequest * 12);
      CHECK(opened_products[k * 12 + 11] ==
            opened_bits[k * kWidth + 5] * opened_bits[k * kWidth + 4]);
      CHECK(opened_products[k * 12] == opened_bits[k * kWidth + 1] * opened_bits[k * kWidth]);
    }
    std::vector<E> sorted = opened_r;
    std::sort(sorted.begin(), sorted.end(), [](E x, E y) { return x.value() < y.value(); });
    CHECK(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end());
    return calls;
  });
  // 12 per fetch of the first window (3 fetches for 30), 4 per fetch of the second (3 for 10).
  for (auto calls : results) CHECK(calls == 3 + 3);
}
