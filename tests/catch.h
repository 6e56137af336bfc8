#pragma once
// The one place that knows which Catch2 major version we build against.
#if defined(LV_CATCH2_V3)
#include <catch2/catch_all.hpp>
#else
#include <catch2/catch.hpp>
#endif
