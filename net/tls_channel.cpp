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

// The BIO type through which OpenSSL reads and writes the channel's buffers (created once).
static BIO_METHOD* channel_bio_method(int (*read)(BIO*, char*, int),
                                      int (*write)(BIO*, const char*, int),
                                      long (*ctrl)(BIO*, int, long, void*)) {
  static BIO_METHOD* const method = [&] {
    BIO_METHOD* created =
        BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "secretmesh channel");
    if (created == nullptr) return created;
    BIO_meth_set_read(created, read);
    BIO_meth_set_write(created, write);
    BIO_meth_set_ctrl(created, ctrl);
    BIO_meth_set_create(created, [](BIO* bio) {
      BIO_set_init(bio, 1);
      return 1;
    });
    return created;
  }();
  return method;
}

TlsChannel::TlsChannel(asio::io_context& io, SSL_CTX* context)
    : io_(io), socket_(io), ssl_(SSL_new(context)), input_(kReadBatch) {
  BIO_METHOD* method = channel_bio_method(&bio_read, &bio_write, &bio_ctrl);
  BIO* bio = method == nullptr ? nullptr : BIO_new(method);
  if (ssl_ == nullptr || bio == nullptr) {
    SSL_free(ssl_);
    BIO_free(bio);
    throw NetError("cannot create a TLS connection: OpenSSL is out of memory");
  }
  BIO_set_data(bio, this);
  SSL_set_bio(ssl_, bio, bio);  // ssl_ owns the BIO from here on
  SSL_set_ex_data(ssl_, channel_index(), this);
}

int TlsChannel::bio_read(BIO* bio, char* data, int size) {
  auto* self = static_cast<TlsChannel*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  const std::size_t available = self->input_end_ - self->input_begin_;
  if (available == 0) {  // no ciphertext yet: OpenSSL retries after the next fill()
    BIO_set_retry_read(bio);
    return -1;
  }
  const std::size_t count = std::min(available, static_cast<std::size_t>(size));
  std::copy_n(self->input_.data() + self->input_begin_, count, data);
  self->input_begin_ += count;
  return static_cast<int>(count);
}

int TlsChannel::bio_write(BIO* bio, const char* data, int size) {
  auto* self = static_cast<TlsChannel*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  self->output_.insert(self->output_.end(), data, data + size);
  return size;
}

long TlsChannel::bio_ctrl(BIO* bio, int command, long, void*) {
  auto* self = static_cast<TlsChannel*>(BIO_get_data(bio));
  switch (command) {
    case BIO_CTRL_FLUSH:
      return 1;
    case BIO_CTRL_PENDING:
      return static_cast<long>(self->input_end_ - self->input_begin_);
    case BIO_CTRL_WPENDING:
      return static_cast<long>(self->output_.size());
    default:
      return 0;
  }
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

void TlsChannel::finish(Handler done, const ErrorCode& ec, bool in_handler) {
  if (in_handler) return done(ec);
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
  if (result == 1) return drain(std::move(done), false);
  if (SSL_get_error(ssl_, result) == SSL_ERROR_WANT_READ) {
    auto self = shared_from_this();
    drain(
        [self, done = std::move(done)](const ErrorCode& ec) mutable {
          if (ec) return done(ec);
          self->fill([self, done = std::move(done)](const ErrorCode& ec) mutable {
            if (ec) return done(ec);
            self->handshake_step(std::move(done));
          });
        },
        false);
    return;
  }
  const ErrorCode error = ssl_error(result);
  drain([done = std::move(done), error](const ErrorCode&) { done(error); }, false);  // our alert
}

void TlsChannel::async_read(std::uint8_t* data, std::size_t size, Handler done) {
  read_step(data, size, std::move(done), false);
}

void TlsChannel::read_step(std::uint8_t* data, std::size_t size, Handler done, bool in_handler) {
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
    if (!socket_writing_ && !output_.empty()) {  // e.g. an alert or a key update
      drain_loop([](const ErrorCode&) {}, in_handler);
    }
    if (!want_input) return finish(std::move(done), error, in_handler);
    auto self = shared_from_this();
    fill([self, data, size, done = std::move(done)](const ErrorCode& ec) mutable {
      if (ec) return done(ec);
      self->read_step(data, size, std::move(done), true);
    });
    return;
  }
  finish(std::move(done), {}, in_handler);
}

void TlsChannel::async_write(const std::uint8_t* data, std::size_t size, Handler done) {
  write_step(data, size, std::move(done), false);
}

void TlsChannel::write_step(const std::uint8_t* data, std::size_t size, Handler done,
                            bool in_handler) {
  if (size == 0) return finish(std::move(done), {}, in_handler);
  ERR_clear_error();
  const int result = SSL_write(ssl_, data, static_cast<int>(std::min(size, kWriteBatch)));
  if (result <= 0) return finish(std::move(done), ssl_error(result), in_handler);
  const auto written = static_cast<std::size_t>(result);
  drain(
      [self = shared_from_this(), data = data + written, size = size - written,
       done = std::move(done)](const ErrorCode& ec) mutable {
        if (ec) return done(ec);
        self->write_step(data, size, std::move(done), true);
      },
      in_handler);
}

void TlsChannel::async_shutdown(Handler done) {
  ERR_clear_error();
  SSL_shutdown(ssl_);  // queues our close_notify; the peer's is not awaited
  drain(std::move(done), false);
}

void TlsChannel::close() {
  ErrorCode ignored;
  socket_.close(ignored);
}

void TlsChannel::fill(std::function<void(const ErrorCode&)> then) {
  // Keep the unread tail (OpenSSL normally takes everything before it asks for more).
  std::copy(input_.begin() + static_cast<std::ptrdiff_t>(input_begin_),
            input_.begin() + static_cast<std::ptrdiff_t>(input_end_), input_.begin());
  input_end_ -= input_begin_;
  input_begin_ = 0;
  if (input_end_ == input_.size()) input_.resize(input_.size() * 2);
  socket_.async_read_some(
      asio::buffer(input_.data() + input_end_, input_.size() - input_end_),
      [self = shared_from_this(), then = std::move(then)](const ErrorCode& ec, std::size_t got) {
        if (ec == asio::error::eof) return then(asio::ssl::error::stream_truncated);
        if (ec) return then(ec);
        self->input_end_ += got;
        then(ErrorCode());
      });
}

void TlsChannel::drain(Handler then, bool in_handler) {
  if (socket_writing_) {  // a drain started by the read side is under way: queue behind it
    asio::post(io_, [self = shared_from_this(), then = std::move(then)]() mutable {
      self->drain(std::move(then), true);
    });
    return;
  }
  drain_loop(std::move(then), in_handler);
}

void TlsChannel::drain_loop(Handler then, bool in_handler) {
  if (output_.empty()) {
    socket_writing_ = false;
    return finish(std::move(then), {}, in_handler);
  }
  socket_writing_ = true;
  sending_.clear();
  sending_.swap(output_);  // OpenSSL may append to output_ while the socket writes sending_
  asio::async_write(socket_, asio::buffer(sending_),
                    [self = shared_from_this(), then = std::move(then)](const ErrorCode& ec,
                                                                        std::size_t) mutable {
                      if (ec) {
                        self->socket_writing_ = false;
                        return then(ec);
                      }
                      self->drain_loop(std::move(then), true);
                    });
}

}  // namespace sm::net
