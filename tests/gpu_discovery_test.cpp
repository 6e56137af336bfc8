#include "gpu_discovery.h"

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "catch.h"
#include "error.h"
#include "launcher.h"
#include "test_util.h"

using lv::CaptureResult;
using lv::GpuInfo;

namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

/// Sets (or unsets, with nullopt) an environment variable for the scope; restores it after.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, const std::optional<std::string>& value) : name_(std::move(name)) {
    if (const char* old = std::getenv(name_.c_str())) old_ = old;
    if (value) ::setenv(name_.c_str(), value->c_str(), 1);
    else ::unsetenv(name_.c_str());
  }
  ~ScopedEnv() {
    if (old_) ::setenv(name_.c_str(), old_->c_str(), 1);
    else ::unsetenv(name_.c_str());
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

/// The message of the lv::Error that parse_nvidia_smi_csv throws for `text`.
std::string parse_error(const std::string& text) {
  try {
    lv::parse_nvidia_smi_csv(text);
  } catch (const lv::Error& e) {
    return e.what();
  }
  FAIL("parse_nvidia_smi_csv accepted: " << text);
  return {};
}

/// A CaptureFn that answers each call from a script and records the argv it was given.
struct FakeSmi {
  std::vector<CaptureResult> answers;
  std::vector<std::vector<std::string>> calls;
  lv::CaptureFn fn() {
    return [this](const std::vector<std::string>& argv) {
      calls.push_back(argv);
      REQUIRE(calls.size() <= answers.size());
      return answers[calls.size() - 1];
    };
  }
};

CaptureResult exited(int code, std::string out, std::string err = "") {
  CaptureResult r;
  r.started = true;
  r.exit_code = code;
  r.out = std::move(out);
  r.error = std::move(err);
  return r;
}

const std::vector<std::string> kWithCap = {"nvidia-smi", "--query-gpu=index,name,memory.total,compute_cap,uuid",
                                           "--format=csv,noheader,nounits"};
const std::vector<std::string> kWithoutCap = {"nvidia-smi", "--query-gpu=index,name,memory.total,uuid",
                                              "--format=csv,noheader,nounits"};

}  // namespace

TEST_CASE("gpu_discovery: parses the A100 x4 fixture (with units)", "[gpu_discovery]") {
  const std::string text = lv::test::read_text(LV_SOURCE_DIR "/tests/fixtures/nvidia_smi_a100x4.csv");
  REQUIRE_FALSE(text.empty());
  const std::vector<GpuInfo> gpus = lv::parse_nvidia_smi_csv(text);
  REQUIRE(gpus.size() == 4);
  const char* uuids[] = {"GPU-5a1b2c3d-0000-1111-2222-333344445555", "GPU-6a1b2c3d-0000-1111-2222-333344445555",
                         "GPU-7a1b2c3d-0000-1111-2222-333344445555", "GPU-8a1b2c3d-0000-1111-2222-333344445555"};
  for (int i = 0; i < 4; ++i) {
    INFO("GPU " << i);
    CHECK(gpus[i].index == i);
    CHECK(gpus[i].name == "NVIDIA A100-SXM4-80GB");
    CHECK(gpus[i].memory_mib == 81920);
    CHECK(gpus[i].compute_capability == "8.0");
    CHECK(gpus[i].uuid == uuids[i]);
  }
}

TEST_CASE("gpu_discovery: parses nounits output, blank lines and CRLF", "[gpu_discovery]") {
  const std::vector<GpuInfo> gpus =
      lv::parse_nvidia_smi_csv("0, Tesla T4, 15360, 7.5, GPU-aaaa\r\n\r\n3, NVIDIA H100 80GB HBM3, 81559, 9.0, GPU-bbbb\r\n");
  REQUIRE(gpus.size() == 2);
  CHECK(gpus[0].index == 0);
  CHECK(gpus[0].name == "Tesla T4");
  CHECK(gpus[0].memory_mib == 15360);
  CHECK(gpus[0].compute_capability == "7.5");
  CHECK(gpus[0].uuid == "GPU-aaaa");
  CHECK(gpus[1].index == 3);
  CHECK(gpus[1].name == "NVIDIA H100 80GB HBM3");
  CHECK(gpus[1].memory_mib == 81559);
  CHECK(gpus[1].compute_capability == "9.0");
  CHECK(gpus[1].uuid == "GPU-bbbb");
}

TEST_CASE("gpu_discovery: 4-field lines have no compute capability", "[gpu_discovery]") {
  const std::vector<GpuInfo> gpus = lv::parse_nvidia_smi_csv("0, Tesla K80, 11441 MiB, GPU-k80a\n1, Tesla K80, 11441, GPU-k80b\n");
  REQUIRE(gpus.size() == 2);
  CHECK(gpus[0].index == 0);
  CHECK(gpus[0].name == "Tesla K80");
  CHECK(gpus[0].memory_mib == 11441);
  CHECK(gpus[0].compute_capability.empty());
  CHECK(gpus[0].uuid == "GPU-k80a");
  CHECK(gpus[1].index == 1);
  CHECK(gpus[1].uuid == "GPU-k80b");
}

TEST_CASE("gpu_discovery: [N/A] fields become unknown, not errors", "[gpu_discovery]") {
  const std::vector<GpuInfo> gpus = lv::parse_nvidia_smi_csv("0, NVIDIA GH200, [N/A], [N/A], GPU-gh\n1, X, N/A, N/A, GPU-x\n");
  REQUIRE(gpus.size() == 2);
  CHECK(gpus[0].memory_mib == 0);
  CHECK(gpus[0].compute_capability.empty());
  CHECK(gpus[0].uuid == "GPU-gh");
  CHECK(gpus[1].memory_mib == 0);
  CHECK(gpus[1].compute_capability.empty());
}

TEST_CASE("gpu_discovery: empty output means no GPUs", "[gpu_discovery]") {
  CHECK(lv::parse_nvidia_smi_csv("").empty());
  CHECK(lv::parse_nvidia_smi_csv("\n  \n").empty());
}

TEST_CASE("gpu_discovery: a malformed line is an error naming its line number", "[gpu_discovery]") {
  const std::string good = "0, A100, 81920, 8.0, GPU-a\n";
  SECTION("too few fields") {
    const std::string msg = parse_error(good + "1, A100\n");
    INFO(msg);
    CHECK(contains(msg, "line 2"));
    CHECK(contains(msg, "1, A100"));
  }
  SECTION("too many fields") {
    const std::string msg = parse_error(good + good + "2, A100, 81920, 8.0, GPU-c, extra\n");
    INFO(msg);
    CHECK(contains(msg, "line 3"));
  }
  SECTION("index not a number") {
    const std::string msg = parse_error("x, A100, 81920, 8.0, GPU-a\n");
    INFO(msg);
    CHECK(contains(msg, "line 1"));
    CHECK(contains(msg, "'x'"));
  }
  SECTION("negative index") {
    const std::string msg = parse_error(good + "-1, A100, 81920, 8.0, GPU-b\n");
    INFO(msg);
    CHECK(contains(msg, "line 2"));
  }
  SECTION("memory not a number") {
    const std::string msg = parse_error(good + "\n1, A100, lots MiB, 8.0, GPU-b\n");
    INFO(msg);
    CHECK(contains(msg, "line 3"));  // the blank line still counts
    CHECK(contains(msg, "lots MiB"));
  }
}

TEST_CASE("gpu_discovery: nvidia_smi_program honours LV_NVIDIA_SMI", "[gpu_discovery]") {
  {
    ScopedEnv env(lv::kNvidiaSmiEnv, std::nullopt);
    CHECK(lv::nvidia_smi_program() == "nvidia-smi");
  }
  {
    ScopedEnv env(lv::kNvidiaSmiEnv, std::string("/opt/fake/nvidia-smi"));
    CHECK(lv::nvidia_smi_program() == "/opt/fake/nvidia-smi");
  }
  {
    ScopedEnv env(lv::kNvidiaSmiEnv, std::string(""));
    CHECK(lv::nvidia_smi_program() == "nvidia-smi");
  }
  CHECK(std::string(lv::kNvidiaSmiEnv) == "LV_NVIDIA_SMI");
}

TEST_CASE("gpu_discovery: discover_gpus runs the overriding program", "[gpu_discovery]") {
  ScopedEnv env(lv::kNvidiaSmiEnv, std::string("/opt/fake/smi"));
  FakeSmi smi;
  smi.answers = {exited(0, "0, A100, 81920, 8.0, GPU-a\n")};
  const lv::GpuDiscovery d = lv::discover_gpus(smi.fn());
  REQUIRE(smi.calls.size() == 1);
  REQUIRE_FALSE(smi.calls[0].empty());
  CHECK(smi.calls[0][0] == "/opt/fake/smi");
  REQUIRE(d.gpus.size() == 1);
  CHECK(d.gpus[0].uuid == "GPU-a");
  CHECK(d.problem.empty());
}

TEST_CASE("gpu_discovery: discover_gpus with a working nvidia-smi", "[gpu_discovery]") {
  ScopedEnv env(lv::kNvidiaSmiEnv, std::nullopt);
  FakeSmi smi;
  smi.answers = {exited(0, "0, A100, 81920, 8.0, GPU-a\n1, A100, 81920, 8.0, GPU-b\n")};
  const lv::GpuDiscovery d = lv::discover_gpus(smi.fn());
  REQUIRE(smi.calls.size() == 1);
  CHECK(smi.calls[0] == kWithCap);
  REQUIRE(d.gpus.size() == 2);
  CHECK(d.gpus[1].index == 1);
  CHECK(d.gpus[1].compute_capability == "8.0");
  CHECK(d.problem.empty());
}

TEST_CASE("gpu_discovery: nvidia-smi that cannot run means no GPUs and a problem", "[gpu_discovery]") {
  ScopedEnv env(lv::kNvidiaSmiEnv, std::nullopt);
  FakeSmi smi;
  CaptureResult missing;
  missing.started = false;
  missing.error = "'nvidia-smi' not found in PATH";
  smi.answers = {missing};
  const lv::GpuDiscovery d = lv::discover_gpus(smi.fn());
  CHECK(smi.calls.size() == 1);  // no second query: the program is not there at all
  CHECK(d.gpus.empty());
  INFO(d.problem);
  CHECK(contains(d.problem, "nvidia-smi"));
  CHECK(contains(d.problem, "not found in PATH"));
}

TEST_CASE("gpu_discovery: an old driver without compute_cap gets the second query", "[gpu_discovery]") {
  ScopedEnv env(lv::kNvidiaSmiEnv, std::nullopt);
  FakeSmi smi;
  smi.answers = {exited(2, "", "Field \"compute_cap\" is not a valid field to query."),
                 exited(0, "0, Tesla K80, 11441, GPU-k0\n1, Tesla K80, 11441, GPU-k1\n")};
  const lv::GpuDiscovery d = lv::discover_gpus(smi.fn());
  REQUIRE(smi.calls.size() == 2);
  CHECK(smi.calls[0] == kWithCap);
  CHECK(smi.calls[1] == kWithoutCap);
  REQUIRE(d.gpus.size() == 2);
  CHECK(d.gpus[0].index == 0);
  CHECK(d.gpus[0].compute_capability.empty());
  CHECK(d.gpus[0].uuid == "GPU-k0");
  CHECK(d.gpus[1].uuid == "GPU-k1");
  CHECK(d.problem.empty());  // the first failure is forgotten once the second query works
}

TEST_CASE("gpu_discovery: both queries failing gives the last error as the problem", "[gpu_discovery]") {
  ScopedEnv env(lv::kNvidiaSmiEnv, std::nullopt);
  FakeSmi smi;
  smi.answers = {exited(9, "", "NVIDIA-SMI has failed\n"), exited(9, "", "NVIDIA-SMI has failed\n")};
  const lv::GpuDiscovery d = lv::discover_gpus(smi.fn());
  CHECK(smi.calls.size() == 2);
  CHECK(d.gpus.empty());
  INFO(d.problem);
  CHECK(contains(d.problem, "exited with code 9"));
  CHECK(contains(d.problem, "NVIDIA-SMI has failed"));
}

TEST_CASE("gpu_discovery: unparsable output gives no GPUs and names the line", "[gpu_discovery]") {
  ScopedEnv env(lv::kNvidiaSmiEnv, std::nullopt);
  FakeSmi smi;
  smi.answers = {exited(0, "0, A100, 81920, 8.0, GPU-a\ngarbage\n")};
  const lv::GpuDiscovery d = lv::discover_gpus(smi.fn());
  CHECK(d.gpus.empty());
  INFO(d.problem);
  CHECK(contains(d.problem, "line 2"));
}

TEST_CASE("gpu_discovery: the fake_nvidia_smi script through capture_output", "[gpu_discovery]") {
  ScopedEnv smi(lv::kNvidiaSmiEnv, std::string(LV_SOURCE_DIR "/tests/fixtures/fake_nvidia_smi"));
  ScopedEnv fail("FAKE_GPU_FAIL", std::nullopt);
  const lv::CaptureFn run = [](const std::vector<std::string>& argv) { return lv::capture_output(argv); };

  SECTION("two GPUs") {
    ScopedEnv count("FAKE_GPU_COUNT", std::string("2"));
    const lv::GpuDiscovery d = lv::discover_gpus(run);
    INFO(d.problem);
    REQUIRE(d.gpus.size() == 2);
    CHECK(d.problem.empty());
    CHECK(d.gpus[0].index == 0);
    CHECK(d.gpus[0].name == "NVIDIA A100-SXM4-80GB");
    CHECK(d.gpus[0].memory_mib == 81920);
    CHECK(d.gpus[0].compute_capability == "8.0");
    CHECK(d.gpus[0].uuid == "GPU-00000000-aaaa-bbbb-cccc-dddddddddddd");
    CHECK(d.gpus[1].index == 1);
    CHECK(d.gpus[1].uuid == "GPU-00000001-aaaa-bbbb-cccc-dddddddddddd");
  }
  SECTION("a failing driver") {
    ScopedEnv broken("FAKE_GPU_FAIL", std::string("1"));
    const lv::GpuDiscovery d = lv::discover_gpus(run);
    CHECK(d.gpus.empty());
    INFO(d.problem);
    CHECK(contains(d.problem, "exited with code 9"));
    CHECK(contains(d.problem, "couldn't communicate with the NVIDIA driver"));
  }
}

TEST_CASE("gpu sampling: nvidia-smi's utilisation lines parse, with or without units, anything else is skipped",
          "[gpu_discovery]") {
  const auto a = lv::parse_gpu_sample("2, 87, 12034, 81920");
  REQUIRE(a);
  CHECK(a->index == 2);
  CHECK(a->util_percent == 87);
  CHECK(a->mem_used_mib == 12034);
  CHECK(a->mem_total_mib == 81920);
  const auto b = lv::parse_gpu_sample("0, 5 %, 100 MiB, 16384 MiB");
  REQUIRE(b);
  CHECK(b->util_percent == 5);
  CHECK(b->mem_total_mib == 16384);
  CHECK_FALSE(lv::parse_gpu_sample("index, utilization.gpu [%], memory.used [MiB], memory.total [MiB]"));
  CHECK_FALSE(lv::parse_gpu_sample("1, [N/A], 100, 200"));
  CHECK_FALSE(lv::parse_gpu_sample("1, 187, 100, 200"));
  CHECK_FALSE(lv::parse_gpu_sample("1, 87, 100"));
  CHECK_FALSE(lv::parse_gpu_sample(""));
  const auto argv = lv::gpu_sampling_command(500);
  CHECK(argv.back() == "500");
  CHECK(argv[1] == "--query-gpu=index,utilization.gpu,memory.used,memory.total");
}
