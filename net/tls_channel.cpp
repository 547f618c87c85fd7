#include "net/tls_channel.hpp"

#include <openssl/err.h>

#include <algorithm>
#include <climits>

#include <boost/asio/ssl/error.hpp>

#include "net/errors.hpp"

namespace sm::net {

namespace {

namespace asio = boost::asio;
using ErrorCode = boost::system::error_code;

constexpr std::size_t kReadBatch = 256 << 10;  // ciphertext taken from the socket per call
constexpr std::size_t kWriteBatch = 1 << 20;   // plaintext encrypted per socket write

// The SSL ex-data slot that points back to the channel (for the verify callback).
int channel_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

}  // namespace

TlsChannel::TlsChannel(asio::io_context& io, SSL_CTX* context)
    : io_(io),
      socket_(io),
      ssl_(SSL_new(context)),
      input_(BIO_new(BIO_s_mem())),
      output_(BIO_new(BIO_s_mem())),
      in_buffer_(kReadBatch) {
  if (ssl_ == nullptr || input_ == nullptr || output_ == nullptr) {
    SSL_free(ssl_);
    BIO_free(input_);
    BIO_free(output_);
    throw NetError("cannot create a TLS connection: OpenSSL is out of memory");
  }
  BIO_set_mem_eof_return(input_, -1);  // no ciphertext yet means "retry", not end of stream
  BIO_set_mem_eof_return(output_, -1);
  SSL_set_bio(ssl_, input_, output_);  // ssl_ owns both BIOs from here on
  SSL_set_ex_data(ssl_, channel_index(), this);
}

TlsChannel::~TlsChannel() { SSL_free(ssl_); }

void TlsChannel::set_verify(Verify verify) {
  verify_ = std::move(verify);
  SSL_set_verify(ssl_, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, &verify_callback);
}

int TlsChannel::verify_callback(int preverified, X509_STORE_CTX* store) {
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* self =
      ssl == nullptr ? nullptr : static_cast<TlsChannel*>(SSL_get_ex_data(ssl, channel_index()));
  if (self == nullptr || !self->verify_) return 0;
  return self->verify_(preverified != 0, store) ? 1 : 0;
}

ErrorCode TlsChannel::ssl_error(int result) {
  const int kind = SSL_get_error(ssl_, result);
  if (kind == SSL_ERROR_ZERO_RETURN) return asio::error::eof;
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code != 0) return ErrorCode(static_cast<int>(code), asio::error::get_ssl_category());
  return asio::ssl::error::unexpected_result;
}

void TlsChannel::complete(Handler done, const ErrorCode& ec) {
  asio::post(io_, [done = std::move(done), ec] { done(ec); });
}

void TlsChannel::async_handshake(bool server, Handler done) {
  if (server) {
    SSL_set_accept_state(ssl_);
  } else {
    SSL_set_connect_state(ssl_);
  }
  handshake_step(std::move(done));
}

void TlsChannel::handshake_step(Handler done) {
  ERR_clear_error();
  const int result = SSL_do_handshake(ssl_);
  if (result == 1) return drain(std::move(done));
  if (SSL_get_error(ssl_, result) == SSL_ERROR_WANT_READ) {
    auto self = shared_from_this();
    drain([self, done = std::move(done)](const ErrorCode& ec) mutable {
      if (ec) return done(ec);
      self->fill([self, done = std::move(done)](const ErrorCode& ec) mutable {
        if (ec) return done(ec);
        self->handshake_step(std::move(done));
      });
    });
    return;
  }
  const ErrorCode error = ssl_error(result);
  drain([done = std::move(done), error](const ErrorCode&) { done(error); });  // sends our alert
}

void TlsChannel::async_read(std::uint8_t* data, std::size_t size, Handler done) {
  read_step(data, size, std::move(done));
}

void TlsChannel::read_step(std::uint8_t* data, std::size_t size, Handler done) {
  while (size > 0) {
    ERR_clear_error();
    const int result = SSL_read(ssl_, data, static_cast<int>(std::min<std::size_t>(size, INT_MAX)));
    if (result > 0) {
      data += result;
      size -= static_cast<std::size_t>(result);
      continue;
    }
    const bool want_input = SSL_get_error(ssl_, result) == SSL_ERROR_WANT_READ;
    const ErrorCode error = want_input ? ErrorCode() : ssl_error(result);
    if (!socket_writing_ && BIO_ctrl_pending(output_) > 0) {  // e.g. an alert or a key update
      drain_loop([](const ErrorCode&) {});
    }
    if (!want_input) return complete(std::move(done), error);
    auto self = shared_from_this();
    fill([self, data, size, done = std::move(done)](const ErrorCode& ec) mutable {
      if (ec) return done(ec);
      self->read_step(data, size, std::move(done));
    });
    return;
  }
  complete(std::move(done), {});
}

void TlsChannel::async_write(const std::uint8_t* data, std::size_t size, Handler done) {
  write_step(data, size, std::move(done));
}

void TlsChannel::write_step(const std::uint8_t* data, std::size_t size, Handler done) {
  if (size == 0) return complete(std::move(done), {});
  ERR_clear_error();
  const int result = SSL_write(ssl_, data, static_cast<int>(std::min(size, kWriteBatch)));
  if (result <= 0) return complete(std::move(done), ssl_error(result));
  const auto written = static_cast<std::size_t>(result);
  drain([self = shared_from_this(), data = data + written, size = size - written,
         done = std::move(done)](const ErrorCode& ec) mutable {
    if (ec) return done(ec);
    self->write_step(data, size, std::move(done));
  });
}

void TlsChannel::async_shutdown(Handler done) {
  ERR_clear_error();
  SSL_shutdown(ssl_);  // queues our close_notify; the peer's is not awaited
  drain(std::move(done));
}

void TlsChannel::close() {
  ErrorCode ignored;
  socket_.close(ignored);
}

void TlsChannel::fill(std::function<void(const ErrorCode&)> then) {
  socket_.async_read_some(
      asio::buffer(in_buffer_),
      [self = shared_from_this(), then = std::move(then)](const ErrorCode& ec, std::size_t got) {
        if (ec == asio::error::eof) return then(asio::ssl::error::stream_truncated);
        if (ec) return then(ec);
        BIO_write(self->input_, self->in_buffer_.data(), static_cast<int>(got));
        then(ErrorCode());
      });
}

void TlsChannel::drain(Handler then) {
  if (socket_writing_) {  // a drain started by the read side is under way: queue behind it
    asio::post(io_, [self = shared_from_this(), then = std::move(then)]() mutable {
      self->drain(std::move(then));
    });
    return;
  }
  drain_loop(std::move(then));
}

void TlsChannel::drain_loop(Handler then) {
  const std::size_t pending = BIO_ctrl_pending(output_);
  if (pending == 0) {
    socket_writing_ = false;
    return complete(std::move(then), {});
  }
  socket_writing_ = true;
  out_buffer_.resize(pending);
  BIO_read(output_, out_buffer_.data(), static_cast<int>(pending));
  asio::async_write(socket_, asio::buffer(out_buffer_),
                    [self = shared_from_this(), then = std::move(then)](const ErrorCode& ec,
                                                                        std::size_t) mutable {
                      if (ec) {
                        self->socket_writing_ = false;
                        return then(ec);
                      }
                      self->drain_loop(std::move(then));
                    });
}

}  // namespace sm::net
