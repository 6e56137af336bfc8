#include "app.h"

#include <cstdio>

#include <fmt/core.h>

#include "gpu_discovery.h"
#include "launcher.h"
#include "program.h"
#include "session.h"
#include "status_printer.h"
#include "system.h"

namespace lv {

namespace {

int list_gpus() {
  const GpuDiscovery d = discover_gpus([](const std::vector<std::string>& argv) { return capture_output(argv); });
  if (d.gpus.empty()) {
    fmt::print("No GPU detected{}.\n", d.problem.empty() ? "" : fmt::format(" ({})", d.problem));
    return 0;
  }
  fmt::print("{:<6}{:<32}{:>12}  {:<8}{}\n", "index", "name", "memory", "compute", "uuid");
  for (const auto& g : d.gpus)
    fmt::print("{:<6}{:<32}{:>8} MiB  {:<8}{}\n", g.index, g.name, g.memory_mib,
               g.compute_capability.empty() ? "-" : g.compute_capability, g.uuid);
  return 0;
}

}  // namespace

int run_orchestrator(const Options& options) {
  const int code = run_guarded([&] {
    if (options.list_gpus) return list_gpus();
    // The OS, the printer, the session: everything else is decided in Session.
    const auto system = make_real_system();
    const bool terminal = stdout_is_terminal();
    // The printer's interval comes from the config, which the session loads; 10 s is its default.
    StatusPrinter printer(stdout, terminal, use_color(terminal), 10, system->clock());
    Session session(options, *system, printer);
    return session.run();
  });
  note_peak_memory_if_asked();  // our own, not the workers' (tools/bench_orchestrator)
  return code;
}

}  // namespace lv
