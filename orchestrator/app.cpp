#include "app.h"

#include <cstdio>
#include <filesystem>
#include <iostream>

#include <fmt/core.h>

#include "apply_fixes.h"
#include "commands.h"
#include "config.h"
#include "gpu_discovery.h"
#include "launcher.h"
#include "program.h"
#include "session.h"
#include "status_printer.h"
#include "system.h"

namespace lv {

namespace fs = std::filesystem;

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

/// --apply-fixes / --undo-fixes: the dataset's label files, from the run's report and the
/// review page's decisions; no worker runs.
int fix_labels(const Options& options) {
  const fs::path cwd = fs::current_path();
  const auto absolute = [&](const fs::path& p) { return p.is_absolute() ? p : cwd / p; };
  const Config config = load_config(absolute(options.config));
  const fs::path work_dir = options.work_dir ? absolute(*options.work_dir) : cwd;
  const fs::path root = input_root(config);
  if (options.undo_fixes) {
    const int restored = undo_fixes(absolute(*options.undo_fixes), root, std::cout);
    fmt::print("{} label file(s) restored from {}\n", restored, absolute(*options.undo_fixes).string());
    return 0;
  }
  ApplyFixesOptions o;
  o.decisions = absolute(*options.apply_fixes);
  o.output_dir = options.output ? absolute(*options.output) : config.output.dir;
  o.input_root = root;
  o.backup_root = work_dir / "fixes";
  o.dry_run = options.dry_run;
  const ApplyFixesResult r = apply_fixes(o, std::cout);
  const std::string counts = fmt::format("{} line(s) changed, {} removed, {} added", r.lines_changed, r.lines_removed,
                                         r.lines_added);
  const std::string skipped =
      r.not_applicable ? fmt::format("; {} accepted decision(s) had nothing to write", r.not_applicable) : "";
  if (o.dry_run) {
    fmt::print("dry run: {} label file(s) would change ({}){}; nothing written\n", r.files, counts, skipped);
  } else if (r.files == 0) {
    fmt::print("no label file to change ({}){}\n", counts, skipped);
  } else {
    Options undo;
    undo.config = absolute(options.config);
    undo.work_dir = work_dir;
    fmt::print("{} label file(s) changed ({}){}; the originals are in {}\nUndo with:\n  {} --undo-fixes {}\n", r.files,
               counts, skipped, r.backup.string(),
               CommandBuilder("orchestrator", undo, cwd).fresh(), shell_quote(r.backup.string()));
  }
  return 0;
}

}  // namespace

int run_orchestrator(const Options& options) {
  const int code = run_guarded([&] {
    if (options.list_gpus) return list_gpus();
    if (options.apply_fixes || options.undo_fixes) return fix_labels(options);
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
