// Result<T>: a value, or the errno and what was being attempted. Recoverable errors travel
// as values; exceptions are kept for fatal start-up errors only.
#pragma once

#include <cstring>
#include <string>
#include <utility>
#include <variant>

namespace tif {

struct Error {
    int err = 0;      // errno (positive), 0 when not an OS error
    std::string what; // what was attempted, e.g. "attach tp_btf/tcp_retransmit_skb"

    std::string message() const {
        return err == 0 ? what
                        : what + ": " + std::strerror(err) + " (errno " + std::to_string(err) + ")";
    }
};

template <class T> class [[nodiscard]] Result {
  public:
    Result(T value) : v_(std::move(value)) {}
    Result(Error e) : v_(std::move(e)) {}

    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }
    T& value() { return std::get<0>(v_); }
    const T& value() const { return std::get<0>(v_); }
    T& operator*() { return value(); }
    T* operator->() { return &value(); }
    const Error& error() const { return std::get<1>(v_); }

  private:
    std::variant<T, Error> v_;
};

struct Ok {};
using Status = Result<Ok>;

inline Error os_error(int err, std::string what) {
    return Error{err < 0 ? -err : err, std::move(what)};
}

} // namespace tif
