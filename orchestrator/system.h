#pragma once
/// The real SessionSystem: nvidia-smi, the environment, PATH, statvfs, the Boost.Process
/// launcher, the steady clock, and an Asio event loop that turns Ctrl-C into runner.interrupt().
#include <memory>

#include "session.h"

namespace lv {

std::unique_ptr<SessionSystem> make_real_system();

}  // namespace lv
