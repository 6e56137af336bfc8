# What the LibTorch that find_package(Torch) found can do, said at configure time rather than
# as link errors or as workers that cannot use their GPU. Call lv_check_torch() right after
# find_package(Torch). tests/CMakeLists.txt runs it in script mode on made-up values.
function(lv_check_torch)
  set(where "${TORCH_INSTALL_PREFIX}")
  if(NOT where)
    set(where "${Torch_DIR}")
  endif()
  # A pre-cxx11-ABI build (the pip wheels and the "Pre-cxx11 ABI" download) has another
  # std::string than Debian's fmt, yaml-cpp, Boost and OpenCV: every link would fail.
  if(TORCH_CXX_FLAGS MATCHES "_GLIBCXX_USE_CXX11_ABI=0")
    message(FATAL_ERROR
      "The LibTorch found at '${where}' is a pre-cxx11-ABI build (TORCH_CXX_FLAGS: ${TORCH_CXX_FLAGS}); this "
      "project links C++ libraries built with the cxx11 ABI, and linking would fail with undefined references to "
      "std::__cxx11 symbols. Use the 'cxx11 ABI' LibTorch (libtorch-cxx11-abi-shared-with-deps-*.zip from "
      "pytorch.org) with -DCMAKE_PREFIX_PATH=/path/to/libtorch, or Debian's libtorch-dev (CPU only).")
  endif()
  if(NOT CAFFE2_USE_CUDA AND NOT TORCH_CUDA_LIBRARIES)
    message(WARNING
      "The LibTorch found at '${where}' has no CUDA: the workers run on the CPU only, and a worker given a GPU "
      "(CUDA_VISIBLE_DEVICES) stops with exit 3 instead of running on the CPU. For GPUs, configure with "
      "-DCMAKE_PREFIX_PATH=/path/to/libtorch (the CUDA, cxx11-ABI build), with the CUDA toolkit installed.")
  else()
    message(STATUS "LibTorch with CUDA: ${where}")
  endif()
endfunction()

# Script mode (cmake -DTORCH_CXX_FLAGS=... -P TorchCheck.cmake): the check alone, for its tests.
if(CMAKE_SCRIPT_MODE_FILE STREQUAL CMAKE_CURRENT_LIST_FILE)
  lv_check_torch()
endif()
