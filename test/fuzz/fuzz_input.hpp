//! Fuzz support: reads typed values from the fuzzer's bytes; once they run out every read
//! gives zero, so any input (even an empty one) is a valid script.
#ifndef MMSG_TEST_FUZZ_FUZZ_INPUT_HPP
#define MMSG_TEST_FUZZ_FUZZ_INPUT_HPP

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace mmsg::fuzz {

class Input {
public:
    Input(const std::uint8_t* data, std::size_t size) noexcept : p_(data), n_(size) {}

    template <class T>
    T take() noexcept {
        static_assert(std::is_trivially_copyable_v<T>);
        T v{};
        const std::size_t k = std::min(sizeof(T), n_);
        if (k > 0) std::memcpy(&v, p_, k);
        p_ += k;
        n_ -= k;
        return v;
    }
    //! A value in [0, bound) (bound > 0).
    std::size_t below(std::size_t bound) noexcept { return take<std::uint32_t>() % bound; }
    std::uint8_t byte() noexcept { return take<std::uint8_t>(); }
    //! Copies up to `k` bytes into `out`; returns how many were left to copy.
    std::size_t bytes(void* out, std::size_t k) noexcept {
        k = std::min(k, n_);
        if (k > 0) std::memcpy(out, p_, k);
        p_ += k;
        n_ -= k;
        return k;
    }
    bool empty() const noexcept { return n_ == 0; }
    std::size_t left() const noexcept { return n_; }

private:
    const std::uint8_t* p_;
    std::size_t n_;
};

} // namespace mmsg::fuzz

#endif // MMSG_TEST_FUZZ_FUZZ_INPUT_HPP
