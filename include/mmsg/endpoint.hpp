//! Defines mmsg::Endpoint (and, for code written against the first release, includes the
//! size limits, now in <mmsg/limits.hpp>).
#ifndef MMSG_ENDPOINT_HPP
#define MMSG_ENDPOINT_HPP

#include <mmsg/limits.hpp>

#include <boost/asio/ip/udp.hpp>

namespace mmsg {

//! A UDP endpoint, IPv4 or IPv6. mmsg uses Asio's type rather than inventing one.
using Endpoint = boost::asio::ip::udp::endpoint;

} // namespace mmsg

#endif // MMSG_ENDPOINT_HPP
