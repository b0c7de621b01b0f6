//! The row registry of mmsg-perf: a Row is one named measurement (send or receive) in a
//! group; each group has one reference row, and every row of the group is reported as a
//! ratio to it, measured in the same run and round.
//!
//! A row group lives in one header (bench/rows_<group>.hpp) that registers its rows with
//! an inline `Registration` object, and mmsg_perf.cpp includes that header: one line.
#ifndef MMSG_BENCH_PERF_ROWS_HPP
#define MMSG_BENCH_PERF_ROWS_HPP

#include <mmsg/endpoint.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include <time.h>

namespace mmsg::bench {

//! What one measurement of a row may use, and its bounds: a row stops after `count`
//! datagrams or `max_time`, whichever comes first.
struct RowContext {
    std::size_t size = 0;                //!< payload bytes per datagram
    std::size_t count = 0;               //!< at most this many datagrams
    std::chrono::nanoseconds max_time{}; //!< and at most this long
    std::size_t batch = 0;               //!< datagrams per batch call (1..1024)
    Endpoint sink;                       //!< a loopback socket that takes (and drops) what
                                         //!< send rows send; receive rows make their own
};

//! The result of one measurement. `datagrams / seconds` is the rate; `syscalls` counts the
//! system calls (or backend calls) that moved them. A row that cannot run here (a kernel
//! without the feature) sets `unavailable` to the reason; a row that failed sets `error`.
struct Measurement {
    std::size_t datagrams = 0;
    std::size_t syscalls = 0;
    double seconds = 0;
    std::string unavailable;
    std::string error;
    //! CPU time the measured thread used for them (CLOCK_THREAD_CPUTIME_ID); 0: not measured.
    double cpu_seconds = 0;
};

//! CPU time the calling thread has used, in seconds.
inline double thread_cpu_seconds() noexcept {
    timespec ts{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

//! One row of the table. `reference`: the row the others of its group are divided by
//! (exactly one per group). `description`: one line for `mmsg-perf --list`.
struct Row {
    std::string name;
    std::string group;
    std::function<Measurement(const RowContext&)> function;
    bool reference = false;
    std::string description;
};

//! Every registered row, in registration order (the table's order).
inline std::vector<Row>& registry() {
    static std::vector<Row> rows;
    return rows;
}

//! Registers rows at static-initialisation time:
//!   inline const mmsg::bench::Registration rows_mine{ {Row{...}, Row{...}} };
struct Registration {
    Registration(std::initializer_list<Row> rows) {
        for (const Row& r : rows)
            registry().push_back(r);
    }
};

} // namespace mmsg::bench

#endif // MMSG_BENCH_PERF_ROWS_HPP
