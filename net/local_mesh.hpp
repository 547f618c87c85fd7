// LocalMesh: an in-memory transport with the Mesh interface, for tests and in-process
// benchmarks that run N parties as threads of one process.
//
// Messages are copied into per-(sender, receiver) queues, so sends never block; receives wait
// with the same deadline semantics as TlsMesh and the base class counts bytes and rounds exactly
// as it does over TLS. When one party fails (run_parties() reports it through abort()), or closes
// its mesh, every party waiting on it fails at once with a NetError naming it.
#pragma once

#include <chrono>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

#include "net/mesh.hpp"

namespace sm::net {

class LocalHub;

class LocalMesh final : public Mesh {
 public:
  // N connected meshes, one per party, named "party0" ... "party{N-1}".
  static std::vector<std::unique_ptr<LocalMesh>> make(
      std::size_t n, std::chrono::milliseconds receive_timeout = std::chrono::seconds(60));

  ~LocalMesh() override;
  void close() override;
  // Marks this party as failed: every party waiting on it, now or later, gets a NetError.
  void abort(const std::string& reason);

  LocalMesh(PartyId self, std::vector<std::string> names, std::shared_ptr<LocalHub> hub,
            std::chrono::milliseconds receive_timeout);

 protected:
  std::vector<Bytes> transfer(std::span<const Outgoing> sends,
                              std::span<const PartyId> receive_from,
                              std::string_view step) override;
  std::vector<std::optional<Bytes>> transfer_tolerant(std::span<const Outgoing> sends,
                                                      std::span<const PartyId> receive_from,
                                                      std::string_view step) override;

 private:
  std::vector<std::optional<Bytes>> exchange(std::span<const Outgoing> sends,
                                             std::span<const PartyId> receive_from,
                                             std::string_view step, bool tolerant);
  std::shared_ptr<LocalHub> hub_;
  std::chrono::milliseconds receive_timeout_;
};

// Runs fn(Mesh&) for parties 0..n-1, each on its own thread over a fresh LocalMesh, and returns
// their results indexed by party (nothing for a void fn). If any party throws, the others are
// released from their waits and the first party's original exception is rethrown here.
template <class Fn>
auto run_parties(std::size_t n, Fn fn,
                 std::chrono::milliseconds receive_timeout = std::chrono::seconds(60)) {
  using Result = std::invoke_result_t<Fn&, Mesh&>;
  auto meshes = LocalMesh::make(n, receive_timeout);
  std::vector<std::exception_ptr> errors(n);
  std::mutex first_mutex;
  std::size_t first_failure = n;
  constexpr bool kVoid = std::is_void_v<Result>;
  using Stored = std::conditional_t<kVoid, char, Result>;
  std::vector<Stored> results(kVoid ? 0 : n);

  std::vector<std::thread> threads;
  threads.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      try {
        if constexpr (kVoid) {
          fn(static_cast<Mesh&>(*meshes[i]));
        } else {
          results[i] = fn(static_cast<Mesh&>(*meshes[i]));
        }
        meshes[i]->close();
      } catch (const std::exception& e) {
        errors[i] = std::current_exception();
        {
          std::lock_guard lock(first_mutex);
          if (first_failure == n) first_failure = i;
        }
        meshes[i]->abort(e.what());
      } catch (...) {
        errors[i] = std::current_exception();
        {
          std::lock_guard lock(first_mutex);
          if (first_failure == n) first_failure = i;
        }
        meshes[i]->abort("unknown exception");
      }
    });
  }
  for (auto& thread : threads) thread.join();
  if (first_failure != n) std::rethrow_exception(errors[first_failure]);
  if constexpr (!kVoid) return results;
}

}  // namespace sm::net
