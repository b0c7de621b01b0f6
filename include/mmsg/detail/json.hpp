//! A tiny JSON writer driven by Boost.Hana reflection: any BOOST_HANA_DEFINE_STRUCT type
//! prints as an object of its members, with no hand-written field list.
#ifndef MMSG_DETAIL_JSON_HPP
#define MMSG_DETAIL_JSON_HPP

#include <boost/hana/accessors.hpp>
#include <boost/hana/concept/struct.hpp>
#include <boost/hana/core/to.hpp>
#include <boost/hana/first.hpp>
#include <boost/hana/for_each.hpp>
#include <boost/hana/second.hpp>
#include <boost/hana/string.hpp>

#include <array>
#include <concepts>
#include <cstddef>
#include <ostream>
#include <type_traits>

namespace mmsg::detail {

//! A type that writes itself: `void write_json(std::ostream&) const`.
template <class T>
concept SelfJson = requires(const T& t, std::ostream& os) {
    t.write_json(os);
};

template <class T>
void write_json(std::ostream& os, const T& v);

template <class T, std::size_t N>
void write_json_array(std::ostream& os, const std::array<T, N>& a) {
    os << '[';
    for (std::size_t i = 0; i < N; ++i) {
        if (i) os << ',';
        write_json(os, a[i]);
    }
    os << ']';
}

//! Writes `v` as JSON: numbers and booleans as themselves, std::array as an array, a
//! Hana Struct as an object of its members (in declaration order), a SelfJson type as it says.
template <class T>
void write_json(std::ostream& os, const T& v) {
    if constexpr (std::same_as<T, bool>) {
        os << (v ? "true" : "false");
    } else if constexpr (std::is_arithmetic_v<T>) {
        os << +v;
    } else if constexpr (SelfJson<T>) {
        v.write_json(os);
    } else if constexpr (boost::hana::Struct<T>::value) {
        os << '{';
        bool first = true;
        boost::hana::for_each(boost::hana::accessors<T>(), [&](auto member) {
            if (!first) os << ',';
            first = false;
            os << '"' << boost::hana::to<const char*>(boost::hana::first(member)) << "\":";
            write_json(os, boost::hana::second(member)(v));
        });
        os << '}';
    } else {
        write_json_array(os, v);
    }
}

} // namespace mmsg::detail

#endif // MMSG_DETAIL_JSON_HPP
