//! A lazily allocated, fixed-size scratch array owned by a sender, receiver or backend.
//! It is allocated once, on first use, and reused: steady-state calls never allocate.
//! Copies start empty (scratch is never shared), moves steal.
#ifndef MMSG_DETAIL_SCRATCH_HPP
#define MMSG_DETAIL_SCRATCH_HPP

#include <cstddef>
#include <memory>
#include <span>

namespace mmsg::detail {

template <class T>
class Scratch {
public:
    Scratch() = default;
    Scratch(const Scratch&) noexcept {}
    Scratch(Scratch&&) noexcept = default;
    Scratch& operator=(const Scratch&) noexcept { return *this; }
    Scratch& operator=(Scratch&&) noexcept = default;

    //! The array of `n` elements, value-initialised when first allocated. `n` must not
    //! change between calls on one object (it is a capacity, fixed by the owner).
    T* get(std::size_t n) {
        if (!p_) p_ = std::make_unique<T[]>(n);
        return p_.get();
    }
    bool allocated() const noexcept { return p_ != nullptr; }

private:
    std::unique_ptr<T[]> p_;
};

} // namespace mmsg::detail

#endif // MMSG_DETAIL_SCRATCH_HPP
