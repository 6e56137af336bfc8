// The commands printed for the user: complete, absolute, and quoted so a shell gives the
// worker back exactly the argv we meant.
#include <sys/wait.h>

#include "catch.h"
#include "commands.h"
#include "process_util.h"
#include "test_util.h"

using namespace lv;
using namespace lv::test;

TEST_CASE("shell quoting: plain words stay, everything else is single-quoted", "[commands]") {
  CHECK(shell_quote("--config") == "--config");
  CHECK(shell_quote("/data/run_1/config.yaml") == "/data/run_1/config.yaml");
  CHECK(shell_quote("my data/x") == "'my data/x'");
  CHECK(shell_quote("it's") == "'it'\\''s'");
  CHECK(shell_quote("") == "''");
  CHECK(shell_quote("$(rm -rf ~)") == "'$(rm -rf ~)'");
}

TEST_CASE("shell quoting: /bin/sh reads back the exact arguments, odd bytes included", "[commands]") {
  const std::vector<std::string> args{"a b", "it's", "$HOME", "`x`", "tab\there", "new\nline", "\xff\xfe.jpg", "*"};
  std::vector<std::string> argv{"printf", "%s\\0"};
  argv.insert(argv.end(), args.begin(), args.end());
  TempDir dir;
  const RunResult r = run_program({"/bin/sh", "-c", shell_command(argv)}, {}, dir.path());
  REQUIRE(r.code == 0);
  std::vector<std::string> back;
  size_t start = 0;
  for (size_t nul; (nul = r.output.find('\0', start)) != std::string::npos; start = nul + 1)
    back.push_back(r.output.substr(start, nul - start));
  CHECK(back == args);
}

TEST_CASE("follow-up commands carry config, work dir, output, worker and limits as absolute paths", "[commands]") {
  Options o;
  o.config = "cfg/config.yaml";
  o.work_dir = "runs/a";
  o.output = "my out";
  o.worker = "bin/w";
  o.gpus = "cpu";
  o.cpu_workers = 3;
  o.keep_gpu_outputs = true;
  o.stall_timeout_s = 30;
  const CommandBuilder b("orchestrator", o, "/home/u");
  const std::string common = "orchestrator --config /home/u/cfg/config.yaml --work-dir /home/u/runs/a "
                             "--output '/home/u/my out' --worker /home/u/bin/w --keep-gpu-outputs";
  CHECK(b.retry() == common + " --stall-timeout 30 --retry-failed");
  CHECK(b.merge_only() == common + " --merge-only");
  CHECK(b.restart() == common + " --gpus cpu --cpu-workers 3 --stall-timeout 30 --restart");
  CHECK(b.move_shard(2, "1") == common + " --stall-timeout 30 --shards 2 --gpus 1");
  Options plain;
  CHECK(CommandBuilder("orchestrator", plain, "/w").retry() ==
        "orchestrator --config /w/config.yaml --work-dir /w --retry-failed");
  // How the workers run carries over to a pasted retry or restart.
  Options batch;
  batch.auto_batch = true;
  batch.static_shards = true;
  CHECK(CommandBuilder("orchestrator", batch, "/w").retry() ==
        "orchestrator --config /w/config.yaml --work-dir /w --static --auto-batch --retry-failed");
}
