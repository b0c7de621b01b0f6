//! Test support: replaces every global operator new and delete of the program with ones that
//! count allocations (mmsg::test::allocations), to check that a path allocates nothing.
//! Include it in exactly one translation unit of a test executable (it defines the
//! replacements, which must exist once). Every form is replaced, the nothrow and aligned ones
//! too, so that a sanitizer's own allocator never frees what this one allocated.
#ifndef MMSG_TEST_SUPPORT_COUNTING_NEW_HPP
#define MMSG_TEST_SUPPORT_COUNTING_NEW_HPP

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

namespace mmsg::test {
//! Global operator new calls so far (all forms).
inline std::atomic<std::size_t> allocations{0};

inline void* counted_alloc(std::size_t n, std::size_t align = 0) noexcept {
    allocations.fetch_add(1, std::memory_order_relaxed);
    if (n == 0) n = 1;
    if (align > alignof(std::max_align_t)) {
        void* p = nullptr;
        return ::posix_memalign(&p, align, (n + align - 1) / align * align) == 0 ? p : nullptr;
    }
    return std::malloc(n);
}
inline void* counted_alloc_or_throw(std::size_t n, std::size_t align = 0) {
    if (void* p = counted_alloc(n, align)) return p;
    throw std::bad_alloc();
}
} // namespace mmsg::test

void* operator new(std::size_t n) { return mmsg::test::counted_alloc_or_throw(n); }
void* operator new[](std::size_t n) { return mmsg::test::counted_alloc_or_throw(n); }
void* operator new(std::size_t n, std::align_val_t a) {
    return mmsg::test::counted_alloc_or_throw(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a) {
    return mmsg::test::counted_alloc_or_throw(n, static_cast<std::size_t>(a));
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
    return mmsg::test::counted_alloc(n);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
    return mmsg::test::counted_alloc(n);
}
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
    return mmsg::test::counted_alloc(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
    return mmsg::test::counted_alloc(n, static_cast<std::size_t>(a));
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

#endif // MMSG_TEST_SUPPORT_COUNTING_NEW_HPP
