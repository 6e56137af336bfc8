// orchestrator: split the item list into one shard per GPU, run one worker per GPU, watch them,
// retry what failed, and merge the per-GPU outputs and reports. See README.md and DESIGN §3.
#include "app.h"
#include "message.h"

int main(int argc, char** argv) {
  lv::set_program_name("orchestrator");
  // Parse options (--help, --version and usage errors end here).
  const lv::ParsedArgs parsed = lv::parse_args(argc, argv);
  if (!parsed.options) return parsed.exit_code;
  // Plan, launch, watch, merge, report.
  return lv::run_orchestrator(*parsed.options);
}
