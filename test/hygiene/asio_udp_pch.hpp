// Precompiled for the header-alone checks of the headers that include it anyway (see the
// Jamfile): parsing it is most of what checking such a header alone costs.
#include <boost/asio/ip/udp.hpp>
