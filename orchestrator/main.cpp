// orchestrator: split the item list into one shard per GPU, run one worker per GPU, watch them,
// retry what failed, and merge the per-GPU outputs and reports. See README.md and DESIGN §3.
#include <string_view>

#include "app.h"
#include "message.h"
#include "slurm_launcher.h"

int main(int argc, char** argv) {
  lv::set_program_name("orchestrator");
  // Inside a Slurm array task (--launcher slurm): become that task's worker.
  if (argc == 3 && std::string_view(argv[1]) == "--slurm-task") return lv::run_slurm_task(argv[2]);
  if (argc == 4 && std::string_view(argv[1]) == "--slurm-probe") return lv::run_slurm_probe(argv[2], argv[3]);
  // Parse options (--help, --version and usage errors end here).
  const lv::ParsedArgs parsed = lv::parse_args(argc, argv);
  if (!parsed.options) return parsed.exit_code;
  // Plan, launch, watch, merge, report.
  return lv::run_orchestrator(*parsed.options);
}
