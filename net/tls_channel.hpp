// TlsChannel: one TLS connection over a TCP socket, driven by Boost.Asio; an internal part of
// TlsMesh (net/tls_mesh.cpp), not used elsewhere.
//
// Unlike boost::asio::ssl::stream, which moves one ~16 KiB record per socket call through a BIO
// pair, the channel gives OpenSSL a BIO over its own buffers and moves ciphertext in large
// batches: a write encrypts up to 1 MiB of records and hands them to the socket in one call, a
// read takes up to 256 KiB from the socket at a time, and no ciphertext is copied between BIOs.
// On a loopback or LAN link this cuts the system calls per byte by ~50x.
//
// Operations: handshake, read (exactly n bytes), write (exactly n bytes) and shutdown (sends
// close_notify). One read-side operation (handshake, read or shutdown) and one write may be in
// progress at once; their handlers run from the io_context's run functions, never inline. Errors
// arrive as boost::system::error_code: asio::error::eof after the peer's close_notify,
// ssl::error::stream_truncated when the TCP stream ends without one, OpenSSL errors in
// asio::error::get_ssl_category().
//
// Ownership: create with std::make_shared; every pending operation keeps the channel alive, so
// it may be dropped at any time. Thread-safety: use it on the one thread that runs its io_context
// at a time.
#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <utility>  // before Boost.Asio: its C++20 awaitable.hpp uses std::exchange
#include <vector>

#include <boost/asio.hpp>

namespace sm::net {

class TlsChannel : public std::enable_shared_from_this<TlsChannel> {
 public:
  using Handler = std::function<void(const boost::system::error_code&)>;
  // Called for every certificate of the peer's chain (OpenSSL's verify callback contract).
  using Verify = std::function<bool(bool preverified, X509_STORE_CTX* store)>;

  // Throws NetError if OpenSSL cannot create the connection state.
  TlsChannel(boost::asio::io_context& io, SSL_CTX* context);
  ~TlsChannel();
  TlsChannel(const TlsChannel&) = delete;
  TlsChannel& operator=(const TlsChannel&) = delete;

  boost::asio::ip::tcp::socket& socket() { return socket_; }
  SSL* native_handle() { return ssl_; }
  void set_verify(Verify verify);

  void async_handshake(bool server, Handler done);
  void async_read(std::uint8_t* data, std::size_t size, Handler done);
  void async_write(const std::uint8_t* data, std::size_t size, Handler done);
  void async_shutdown(Handler done);
  // Closes the socket; pending operations fail with operation_aborted.
  void close();

 private:
  static int verify_callback(int preverified, X509_STORE_CTX* store);
  static int bio_read(BIO* bio, char* data, int size);
  static int bio_write(BIO* bio, const char* data, int size);
  static long bio_ctrl(BIO* bio, int command, long number, void* pointer);
  boost::system::error_code ssl_error(int result);
  // Hands `ec` to `done`: at once inside one of the channel's own handlers (`in_handler`), else
  // through the io_context, so that an operation never completes inside the call that started it.
  void finish(Handler done, const boost::system::error_code& ec, bool in_handler);
  void handshake_step(Handler done);
  void read_step(std::uint8_t* data, std::size_t size, Handler done, bool in_handler);
  void write_step(const std::uint8_t* data, std::size_t size, Handler done, bool in_handler);
  void fill(std::function<void(const boost::system::error_code&)> then);
  void drain(Handler then, bool in_handler);
  void drain_loop(Handler then, bool in_handler);

  boost::asio::io_context& io_;
  boost::asio::ip::tcp::socket socket_;
  SSL* ssl_;
  Verify verify_;
  std::vector<std::uint8_t> input_;  // ciphertext from the socket; OpenSSL reads [begin, end)
  std::size_t input_begin_ = 0;
  std::size_t input_end_ = 0;
  std::vector<std::uint8_t> output_;   // ciphertext OpenSSL wrote, not yet handed to the socket
  std::vector<std::uint8_t> sending_;  // ciphertext the socket is writing
  bool socket_writing_ = false;
};

}  // namespace sm::net
