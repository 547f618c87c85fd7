#include "net/local_mesh.hpp"

#include <condition_variable>
#include <deque>
#include <optional>

#include "net/errors.hpp"

namespace sm::net {

// The shared state of one in-memory run: a FIFO per (sender, receiver) pair, and per party
// whether it closed cleanly or failed.
class LocalHub {
 public:
  explicit LocalHub(std::size_t n) : n_(n), queues_(n * n), closed_(n, false), failure_(n) {}

  void push(PartyId from, PartyId to, Bytes message) {
    {
      std::lock_guard lock(mutex_);
      queues_[from * n_ + to].push_back(std::move(message));
    }
    changed_.notify_all();
  }

  // Waits for the next message from `from` to `to`. If `from` failed or closed with nothing left
  // to deliver, or the deadline passes, returns nothing when `tolerant`, else throws NetError.
  std::optional<Bytes> pop(PartyId from, PartyId to, std::chrono::steady_clock::time_point deadline,
                           const Mesh& mesh, std::string_view step, bool tolerant) {
    std::unique_lock lock(mutex_);
    auto& queue = queues_[from * n_ + to];
    for (;;) {
      if (failure_[to]) throw NetError("run aborted: " + *failure_[to]);
      if (!queue.empty()) {
        Bytes message = std::move(queue.front());
        queue.pop_front();
        return message;
      }
      if (tolerant && (failure_[from] || closed_[from])) return std::nullopt;
      if (failure_[from]) {
        throw NetError(mesh.describe(from) + " failed during step '" + std::string(step) +
                       "': " + *failure_[from]);
      }
      if (closed_[from]) {
        throw NetError(mesh.describe(from) + " closed the connection during step '" +
                       std::string(step) + "'");
      }
      if (changed_.wait_until(lock, deadline) == std::cv_status::timeout && queue.empty()) {
        if (tolerant) return std::nullopt;
        throw NetError(mesh.describe(from) + " sent nothing before the receive deadline during step '" +
                       std::string(step) + "'");
      }
    }
  }

  void close(PartyId party) {
    {
      std::lock_guard lock(mutex_);
      closed_[party] = true;
    }
    changed_.notify_all();
  }

  void fail(PartyId party, const std::string& reason) {
    {
      std::lock_guard lock(mutex_);
      if (!failure_[party]) failure_[party] = reason;
    }
    changed_.notify_all();
  }

 private:
  std::size_t n_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::deque<Bytes>> queues_;
  std::vector<bool> closed_;
  std::vector<std::optional<std::string>> failure_;
};

std::vector<std::unique_ptr<LocalMesh>> LocalMesh::make(std::size_t n,
                                                        std::chrono::milliseconds receive_timeout) {
  auto hub = std::make_shared<LocalHub>(n);
  std::vector<std::string> names;
  for (std::size_t i = 0; i < n; ++i) names.push_back("party" + std::to_string(i));
  std::vector<std::unique_ptr<LocalMesh>> meshes;
  for (std::size_t i = 0; i < n; ++i) {
    meshes.push_back(std::make_unique<LocalMesh>(i, names, hub, receive_timeout));
  }
  return meshes;
}

LocalMesh::LocalMesh(PartyId self, std::vector<std::string> names, std::shared_ptr<LocalHub> hub,
                     std::chrono::milliseconds receive_timeout)
    : Mesh(self, std::move(names)), hub_(std::move(hub)), receive_timeout_(receive_timeout) {}

LocalMesh::~LocalMesh() { close(); }

void LocalMesh::close() { hub_->close(self()); }

void LocalMesh::abort(const std::string& reason) { hub_->fail(self(), reason); }

std::vector<std::optional<Bytes>> LocalMesh::exchange(std::span<const Outgoing> sends,
                                                      std::span<const PartyId> receive_from,
                                                      std::string_view step, bool tolerant) {
  for (const auto& message : sends) {
    Bytes bytes(message.data.begin(), message.data.end());
    bytes.insert(bytes.end(), message.tail.begin(), message.tail.end());
    hub_->push(self(), message.to, std::move(bytes));
  }
  const auto deadline = std::chrono::steady_clock::now() + receive_timeout_;
  std::vector<std::optional<Bytes>> received;
  received.reserve(receive_from.size());
  for (PartyId from : receive_from) {
    received.push_back(hub_->pop(from, self(), deadline, *this, step, tolerant));
  }
  return received;
}

std::vector<Bytes> LocalMesh::transfer(std::span<const Outgoing> sends,
                                       std::span<const PartyId> receive_from,
                                       std::string_view step) {
  std::vector<Bytes> received;
  for (auto& message : exchange(sends, receive_from, step, false)) {
    received.push_back(std::move(*message));
  }
  return received;
}

std::vector<std::optional<Bytes>> LocalMesh::transfer_tolerant(
    std::span<const Outgoing> sends, std::span<const PartyId> receive_from,
    std::string_view step) {
  return exchange(sends, receive_from, step, true);
}

}  // namespace sm::net
