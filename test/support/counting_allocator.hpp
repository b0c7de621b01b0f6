//! Test support: an allocator that counts its allocations, to bind to a completion handler
//! (asio::bind_allocator) and see that an asynchronous operation allocates with it.
#ifndef MMSG_TEST_SUPPORT_COUNTING_ALLOCATOR_HPP
#define MMSG_TEST_SUPPORT_COUNTING_ALLOCATOR_HPP

#include <cstddef>
#include <memory>

namespace mmsg::test {

//! std::allocator that adds one to `*count` per allocate(); copies (of any value type)
//! share the counter and compare equal when they do.
template <class T>
struct CountingAllocator {
    using value_type = T;
    std::size_t* count;
    explicit CountingAllocator(std::size_t* c) noexcept : count(c) {}
    template <class U>
    CountingAllocator(const CountingAllocator<U>& o) noexcept : count(o.count) {}
    T* allocate(std::size_t n) {
        ++*count;
        return std::allocator<T>().allocate(n);
    }
    void deallocate(T* p, std::size_t n) noexcept { std::allocator<T>().deallocate(p, n); }
    template <class U>
    bool operator==(const CountingAllocator<U>& o) const noexcept {
        return count == o.count;
    }
};

} // namespace mmsg::test

#endif // MMSG_TEST_SUPPORT_COUNTING_ALLOCATOR_HPP
