// Boost 1.74 Asio under C++20 with g++ 12 uses std::exchange without <utility> (DESIGN §7):
// every Asio include goes through this header.
#pragma once

#include <utility>

#include <boost/asio.hpp>
