// Boost 1.74 Asio under C++20 with g++ 12 uses std::exchange without including <utility>:
// every Asio include goes through this header, which includes it first.
#pragma once

#include <utility>

#include <boost/asio.hpp>
