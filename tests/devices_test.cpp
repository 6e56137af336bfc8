#include "devices.h"

#include <sched.h>

#include <optional>
#include <string>
#include <vector>

#include "catch.h"
#include "error.h"
#include "test_util.h"

using lv::DeviceRequest;
using lv::DeviceSlot;
using lv::GpuInfo;

namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

/// `n` GPUs with nvidia-smi indices 0..n-1 and UUIDs "GPU-0000-uuid", "GPU-1111-uuid", ...
std::vector<GpuInfo> gpus(int n) {
  std::vector<GpuInfo> out;
  for (int i = 0; i < n; ++i) {
    GpuInfo g;
    g.index = i;
    g.name = "NVIDIA A100";
    g.memory_mib = 81920;
    g.compute_capability = "8.0";
    g.uuid = "GPU-" + std::string(4, static_cast<char>('0' + i)) + "-uuid";
    out.push_back(g);
  }
  return out;
}

DeviceRequest request(std::string gpus_flag, std::optional<int> num_gpus = std::nullopt, int cpu_workers = 1) {
  DeviceRequest r;
  r.gpus = std::move(gpus_flag);
  r.num_gpus = num_gpus;
  r.cpu_workers = cpu_workers;
  return r;
}

std::vector<DeviceSlot> resolve(const DeviceRequest& r, int detected,
                                const std::optional<std::string>& parent = std::nullopt) {
  std::vector<std::string> warnings;
  auto slots = lv::resolve_devices(r, gpus(detected), parent, warnings);
  INFO("warnings: " << warnings.size());
  CHECK(warnings.empty());
  return slots;
}

/// The GPU indices of `slots`, checking each slot is a GPU whose CUDA_VISIBLE_DEVICES is its index.
std::vector<int> gpu_indices(const std::vector<DeviceSlot>& slots) {
  std::vector<int> out;
  for (const auto& s : slots) {
    CHECK(s.is_gpu);
    CHECK(s.cuda_visible_devices == std::to_string(s.index));
    out.push_back(s.index);
  }
  return out;
}

/// The message of the lv::Error (exit 2) that resolve_devices throws.
std::string devices_error(const DeviceRequest& r, int detected, const std::optional<std::string>& parent = std::nullopt) {
  std::vector<std::string> warnings;
  try {
    lv::resolve_devices(r, gpus(detected), parent, warnings);
  } catch (const lv::Error& e) {
    CHECK(e.code() == lv::ExitCode::usage);
    return e.what();
  }
  FAIL("resolve_devices accepted --gpus '" << r.gpus << "'");
  return {};
}

}  // namespace

TEST_CASE("devices: auto uses every detected GPU", "[devices]") {
  for (const std::string flag : {"auto", "", "AUTO", " auto "}) {
    INFO("--gpus '" << flag << "'");
    const auto slots = resolve(request(flag), 4);
    REQUIRE(slots.size() == 4);
    CHECK(gpu_indices(slots) == std::vector<int>{0, 1, 2, 3});
    CHECK(slots[0].cuda_visible_devices == "0");
    CHECK(slots[3].cuda_visible_devices == "3");
    CHECK(slots[2].label() == "GPU 2");
  }
}

TEST_CASE("devices: auto without GPUs runs on CPU with a warning", "[devices]") {
  std::vector<std::string> warnings;
  const auto slots = lv::resolve_devices(request("auto", std::nullopt, 2), {}, std::nullopt, warnings);
  REQUIRE(slots.size() == 2);
  for (int i = 0; i < 2; ++i) {
    CHECK_FALSE(slots[i].is_gpu);
    CHECK(slots[i].index == i);
    CHECK(slots[i].cuda_visible_devices.empty());
  }
  CHECK(slots[1].label() == "CPU 1");
  REQUIRE(warnings.size() == 1);
  INFO(warnings[0]);
  CHECK(contains(warnings[0], "no GPU"));
  CHECK(contains(warnings[0], "CPU"));
}

TEST_CASE("devices: cpu gives cpu_workers CPU slots even with GPUs", "[devices]") {
  for (const std::string flag : {"cpu", "CPU"}) {
    const auto slots = resolve(request(flag, std::nullopt, 3), 4);
    REQUIRE(slots.size() == 3);
    for (int i = 0; i < 3; ++i) {
      CHECK_FALSE(slots[i].is_gpu);
      CHECK(slots[i].index == i);
      CHECK(slots[i].cuda_visible_devices == "");
      CHECK(slots[i].label() == "CPU " + std::to_string(i));
    }
  }
  CHECK(resolve(request("cpu"), 0).size() == 1);  // default --cpu-workers 1
}

TEST_CASE("devices: an explicit list gives exactly those GPUs in that order", "[devices]") {
  CHECK(gpu_indices(resolve(request("0,2,3"), 4)) == std::vector<int>{0, 2, 3});
  CHECK(gpu_indices(resolve(request(" 1 , 3"), 4)) == std::vector<int>{1, 3});
  CHECK(gpu_indices(resolve(request("3,0"), 4)) == std::vector<int>{3, 0});
  CHECK(gpu_indices(resolve(request("2"), 4)) == std::vector<int>{2});
}

TEST_CASE("devices: a GPU that is not there is named with the count", "[devices]") {
  CHECK(devices_error(request("5"), 4) == "GPU 5 not available. Only 4 GPU(s) detected.");
  CHECK(devices_error(request("0,4"), 4) == "GPU 4 not available. Only 4 GPU(s) detected.");
  CHECK(devices_error(request("0"), 0) == "GPU 0 not available. Only 0 GPU(s) detected.");
}

TEST_CASE("devices: a GPU listed twice is an error", "[devices]") {
  const std::string msg = devices_error(request("1,2,1"), 4);
  INFO(msg);
  CHECK(contains(msg, "GPU 1 is listed twice"));
}

TEST_CASE("devices: junk in the list is an error naming the entry", "[devices]") {
  SECTION("a,b") {
    const std::string msg = devices_error(request("a,b"), 4);
    INFO(msg);
    CHECK(contains(msg, "--gpus 'a,b'"));
    CHECK(contains(msg, "'a' is not a GPU index"));
  }
  SECTION("an empty entry") {
    const std::string msg = devices_error(request("0,,1"), 4);
    INFO(msg);
    CHECK(contains(msg, "is not a GPU index"));
  }
  SECTION("negative, fractional and signed") {
    for (const std::string flag : {"-1", "1.5", "+1", "0x1", "gpu0"}) {
      const std::string msg = devices_error(request(flag), 4);
      INFO(msg);
      CHECK(contains(msg, "is not a GPU index"));
    }
  }
}

TEST_CASE("devices: --num-gpus N takes the first N", "[devices]") {
  CHECK(gpu_indices(resolve(request("", 2), 4)) == std::vector<int>{0, 1});
  CHECK(gpu_indices(resolve(request("auto", 4), 4)) == std::vector<int>{0, 1, 2, 3});
  CHECK(gpu_indices(resolve(request("", 1), 4)) == std::vector<int>{0});
}

TEST_CASE("devices: --num-gpus more than detected fails and suggests CPU", "[devices]") {
  std::string msg = devices_error(request("", 8), 4);
  INFO(msg);
  CHECK(contains(msg, "--num-gpus 8"));
  CHECK(contains(msg, "only 4 GPU(s) detected"));
  CHECK(contains(msg, "--gpus cpu --cpu-workers 8"));

  msg = devices_error(request("", 1), 0);
  CHECK(contains(msg, "--gpus cpu --cpu-workers 1"));
}

TEST_CASE("devices: --num-gpus below 1 is an error", "[devices]") {
  CHECK(contains(devices_error(request("", 0), 4), "--num-gpus 0"));
  CHECK(contains(devices_error(request("", -2), 4), "--num-gpus -2"));
}

TEST_CASE("devices: --num-gpus must agree with the rest of the request", "[devices]") {
  CHECK(gpu_indices(resolve(request("1,3", 2), 4)) == std::vector<int>{1, 3});
  CHECK(contains(devices_error(request("0,1,2", 2), 4), "contradicts"));
  CHECK(contains(devices_error(request("cpu", 2), 4), "--num-gpus cannot be combined with --gpus cpu"));
  CHECK(contains(devices_error(request("cpu", std::nullopt, 0), 4), "--cpu-workers 0"));
}

TEST_CASE("devices: the parent's CUDA_VISIBLE_DEVICES limits and orders the GPUs", "[devices]") {
  SECTION("0,1,3 with --num-gpus 3 gives 0, 1, 3") {
    const auto slots = resolve(request("", 3), 4, std::string("0,1,3"));
    CHECK(gpu_indices(slots) == std::vector<int>{0, 1, 3});
  }
  SECTION("0,1,3 with auto") {
    CHECK(gpu_indices(resolve(request("auto"), 4, std::string("0,1,3"))) == std::vector<int>{0, 1, 3});
  }
  SECTION("3,1 keeps that order") {
    CHECK(gpu_indices(resolve(request("auto"), 4, std::string("3,1"))) == std::vector<int>{3, 1});
  }
  SECTION("UUID prefixes and full UUIDs") {
    CHECK(gpu_indices(resolve(request("auto"), 4, std::string("GPU-2222,GPU-0000-uuid"))) == std::vector<int>{2, 0});
  }
  SECTION("an explicit list inside the allowed set") {
    CHECK(gpu_indices(resolve(request("3,0"), 4, std::string("0,1,3"))) == std::vector<int>{3, 0});
  }
  SECTION("--num-gpus more than allowed names the restriction") {
    const std::string msg = devices_error(request("", 4), 4, std::string("0,1,3"));
    INFO(msg);
    CHECK(contains(msg, "only 3 GPU(s) detected"));
    CHECK(contains(msg, "CUDA_VISIBLE_DEVICES=0,1,3"));
    CHECK(contains(msg, "--gpus cpu --cpu-workers 4"));
  }
}

TEST_CASE("devices: an empty parent CUDA_VISIBLE_DEVICES hides every GPU", "[devices]") {
  std::vector<std::string> warnings;
  const auto slots = lv::resolve_devices(request("auto"), gpus(4), std::string(""), warnings);
  REQUIRE(slots.size() == 1);
  CHECK_FALSE(slots[0].is_gpu);
  REQUIRE(warnings.size() == 1);
  INFO(warnings[0]);
  CHECK(contains(warnings[0], "no GPU"));
  CHECK(contains(warnings[0], "CUDA_VISIBLE_DEVICES"));

  CHECK(lv::visible_gpus(gpus(4), std::string(""), warnings).empty());
  CHECK(lv::visible_gpus(gpus(4), std::string("  "), warnings).empty());
  // Unset is not the same as empty: every detected GPU.
  CHECK(lv::visible_gpus(gpus(4), std::nullopt, warnings).size() == 4);
}

TEST_CASE("devices: a parent entry that matches nothing warns and stops there", "[devices]") {
  std::vector<std::string> warnings;
  const auto visible = lv::visible_gpus(gpus(4), std::string("1,7,2"), warnings);
  REQUIRE(visible.size() == 1);
  CHECK(visible[0].index == 1);
  REQUIRE(warnings.size() == 1);
  INFO(warnings[0]);
  CHECK(contains(warnings[0], "'7'"));

  warnings.clear();
  const auto slots = lv::resolve_devices(request("auto"), gpus(4), std::string("2,GPU-9999,0"), warnings);
  std::vector<int> indices;
  for (const auto& s : slots) indices.push_back(s.index);
  CHECK(indices == std::vector<int>{2});
  REQUIRE(warnings.size() == 1);
  CHECK(contains(warnings[0], "GPU-9999"));
}

TEST_CASE("devices: a parent entry given twice counts once", "[devices]") {
  std::vector<std::string> warnings;
  const auto visible = lv::visible_gpus(gpus(4), std::string("1,1,GPU-1111"), warnings);
  REQUIRE(visible.size() == 1);
  CHECK(visible[0].index == 1);
}

TEST_CASE("devices: --gpus outside the parent's CUDA_VISIBLE_DEVICES names it", "[devices]") {
  const std::string msg = devices_error(request("2"), 4, std::string("0,1,3"));
  INFO(msg);
  CHECK(contains(msg, "GPU 2 not available"));
  CHECK(contains(msg, "CUDA_VISIBLE_DEVICES=0,1,3"));
}

// Issue 7, case 14: with 4 GPUs, `--num-gpus 9` only offered the CPU, never the obvious fix.
TEST_CASE("devices: --num-gpus more than detected suggests all detected GPUs first, then the CPU", "[devices]") {
  std::string msg = devices_error(request("", 9), 4);
  INFO(msg);
  CHECK(contains(msg, "use --num-gpus 4 (all detected GPUs), or --gpus cpu --cpu-workers 9 to run on CPU"));

  msg = devices_error(request("", 4), 4, std::string("0,1,3"));
  INFO(msg);
  CHECK(contains(msg, "use --num-gpus 3 (all detected GPUs), or --gpus cpu --cpu-workers 4 to run on CPU"));

  msg = devices_error(request("", 2), 0);  // nothing to offer but the CPU
  INFO(msg);
  CHECK_FALSE(contains(msg, "--num-gpus 0"));
  CHECK(contains(msg, "use --gpus cpu --cpu-workers 2 to run on CPU"));
}

namespace {

DeviceRequest with_cpu_workers(std::string gpus_flag, std::optional<int> num_gpus, int cpu_workers) {
  DeviceRequest r = request(std::move(gpus_flag), num_gpus, cpu_workers);
  r.cpu_workers_given = true;
  return r;
}

}  // namespace

// Case 14: `--cpu-workers 8` on a GPU machine was dropped without a word and the run went to
// the GPUs. The flag only means something when the workers run on the CPU.
TEST_CASE("devices: --cpu-workers when GPUs are selected is a usage error naming both flags", "[devices]") {
  for (const auto& [flag, num] : std::vector<std::pair<std::string, std::optional<int>>>{
           {"", std::nullopt}, {"auto", std::nullopt}, {"0,2", std::nullopt}, {"", 2}}) {
    const std::string msg = devices_error(with_cpu_workers(flag, num, 8), 4);
    INFO(msg);
    CHECK(contains(msg, "--cpu-workers 8"));
    CHECK(contains(msg, "--gpus cpu"));
    CHECK(contains(msg, "--gpus cpu --cpu-workers 8"));
  }
  CHECK(contains(devices_error(with_cpu_workers("", 2, 8), 4), "--num-gpus 2"));
  CHECK(contains(devices_error(with_cpu_workers("0,2", std::nullopt, 8), 4), "--gpus '0,2'"));
}

TEST_CASE("devices: --cpu-workers is honoured with --gpus cpu, and by auto on a machine without GPUs", "[devices]") {
  CHECK(resolve(with_cpu_workers("cpu", std::nullopt, 3), 4).size() == 3);
  std::vector<std::string> warnings;
  const auto slots = lv::resolve_devices(with_cpu_workers("auto", std::nullopt, 3), {}, std::nullopt, warnings);
  CHECK(slots.size() == 3);
  CHECK_FALSE(slots[0].is_gpu);
}

TEST_CASE("cgroup CPU quotas are read in both formats, and none means none", "[devices][cpus]") {
  CHECK(lv::cpu_max_limit("400000 100000\n") == 4.0);
  CHECK(lv::cpu_max_limit("150000 100000") == 1.5);
  CHECK_FALSE(lv::cpu_max_limit("max 100000\n"));
  CHECK_FALSE(lv::cpu_max_limit(""));
  CHECK_FALSE(lv::cpu_max_limit("400000"));
  CHECK(lv::cfs_quota_limit("200000\n", "100000\n") == 2.0);
  CHECK_FALSE(lv::cfs_quota_limit("-1\n", "100000\n"));
  CHECK_FALSE(lv::cfs_quota_limit("lots", "100000"));
}

TEST_CASE("the lowest CPU quota of a process's cgroup and its ancestors binds", "[devices][cpus]") {
  lv::test::TempDir dir;
  // cgroup v2 (a container limited to 2.5 CPUs inside a slice of 6), and v1 on a hybrid layout.
  lv::test::write_text(dir / "self_v2", "0::/kubepods/pod1/ctr\n");
  lv::test::write_text(dir / "root/kubepods/cpu.max", "600000 100000\n");
  lv::test::write_text(dir / "root/kubepods/pod1/cpu.max", "max 100000\n");
  lv::test::write_text(dir / "root/kubepods/pod1/ctr/cpu.max", "250000 100000\n");
  CHECK(lv::cgroup_cpu_limit(dir / "root", dir / "self_v2") == 2.5);
  lv::test::write_text(dir / "self_v1", "4:memory:/job\n3:cpu,cpuacct:/job\n0::/\n");
  lv::test::write_text(dir / "v1/cpu,cpuacct/job/cpu.cfs_quota_us", "300000\n");
  lv::test::write_text(dir / "v1/cpu,cpuacct/job/cpu.cfs_period_us", "100000\n");
  CHECK(lv::cgroup_cpu_limit(dir / "v1", dir / "self_v1") == 3.0);
  // No quota anywhere, or no cgroup file at all.
  lv::test::write_text(dir / "self_none", "0::/free\n");
  CHECK_FALSE(lv::cgroup_cpu_limit(dir / "root", dir / "self_none"));
  CHECK_FALSE(lv::cgroup_cpu_limit(dir / "root", dir / "missing"));
}

TEST_CASE("the usable CPUs follow this process's CPU set, not the machine's count", "[devices][cpus]") {
  // Each test case runs in its own process (ctest), so narrowing its affinity touches nothing else.
  cpu_set_t one;
  CPU_ZERO(&one);
  cpu_set_t mine;
  REQUIRE(::sched_getaffinity(0, sizeof mine, &mine) == 0);
  int first = 0;
  while (!CPU_ISSET(first, &mine)) ++first;
  CPU_SET(first, &one);
  REQUIRE(::sched_setaffinity(0, sizeof one, &one) == 0);
  CHECK(lv::usable_cpus() == 1u);
  REQUIRE(::sched_setaffinity(0, sizeof mine, &mine) == 0);
  CHECK(lv::usable_cpus() >= 1u);
  CHECK(lv::usable_cpus() <= static_cast<unsigned>(CPU_COUNT(&mine)));
}
