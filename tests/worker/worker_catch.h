#pragma once
// Catch2 plus the one name that moved between v2 (global Approx) and v3 (Catch::Approx).
#include "catch.h"
#if defined(LV_CATCH2_V3)
using Catch::Approx;
#endif
