//! Defines mmsg::Ecn, the ECN codepoint of a datagram (RFC 3168).
#ifndef MMSG_ECN_HPP
#define MMSG_ECN_HPP

#include <cstdint>

namespace mmsg {

//! ECN codepoint (RFC 3168): the two low bits of the IPv4 TOS / IPv6 traffic class.
enum class Ecn : std::uint8_t { not_ect = 0b00, ect1 = 0b01, ect0 = 0b10, ce = 0b11 };

} // namespace mmsg

#endif // MMSG_ECN_HPP
