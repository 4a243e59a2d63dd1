# Dependencies, found the way reference/toolchain.md prescribes.
find_package(PkgConfig REQUIRED)

# nifticlib: Debian's CMake package is broken and there is no .pc file.
find_path(NIFTI_INCLUDE_DIR nifti2_io.h PATH_SUFFIXES nifti REQUIRED)
find_library(NIFTI2_LIBRARY nifti2 REQUIRED)
find_library(ZNZ_LIBRARY znz REQUIRED)
find_package(ZLIB REQUIRED)

# OpenBLAS must come before anything that drags in gslcblas.
find_library(OPENBLAS_LIBRARY openblas REQUIRED)
find_path(OPENBLAS_INCLUDE_DIR cblas.h PATH_SUFFIXES openblas x86_64-linux-gnu/openblas-pthread openblas-pthread REQUIRED)
find_library(LAPACKE_LIBRARY lapacke REQUIRED)
find_path(LAPACKE_INCLUDE_DIR lapacke.h REQUIRED)
find_library(GSL_LIBRARY gsl REQUIRED)   # without gslcblas: OpenBLAS serves cblas_*
find_path(GSL_INCLUDE_DIR gsl/gsl_rng.h REQUIRED)

pkg_check_modules(DEFLATE REQUIRED IMPORTED_TARGET libdeflate)
# ISA-L (libisal-dev): streaming inflate of the volume reader, level-1 gzip writes.
pkg_check_modules(ISAL REQUIRED IMPORTED_TARGET libisal)
pkg_check_modules(JANSSON REQUIRED IMPORTED_TARGET jansson)
pkg_check_modules(LIBZIP REQUIRED IMPORTED_TARGET libzip)
pkg_check_modules(PNG REQUIRED IMPORTED_TARGET libpng)
find_package(OpenMP REQUIRED COMPONENTS C)
find_package(Threads REQUIRED)

add_library(ns_deps INTERFACE)
add_library(ns::deps ALIAS ns_deps)
target_include_directories(ns_deps INTERFACE ${NIFTI_INCLUDE_DIR} ${OPENBLAS_INCLUDE_DIR}
  ${LAPACKE_INCLUDE_DIR} ${GSL_INCLUDE_DIR})
target_link_libraries(ns_deps INTERFACE
  ${OPENBLAS_LIBRARY} ${LAPACKE_LIBRARY} ${GSL_LIBRARY}
  ${NIFTI2_LIBRARY} ${ZNZ_LIBRARY} ZLIB::ZLIB
  PkgConfig::DEFLATE PkgConfig::ISAL PkgConfig::JANSSON PkgConfig::LIBZIP PkgConfig::PNG
  OpenMP::OpenMP_C Threads::Threads m)

set(NS_HAVE_MPI OFF)
if(NS_WITH_MPI)
  find_package(MPI COMPONENTS C QUIET)
  if(MPI_C_FOUND)
    set(NS_HAVE_MPI ON)
  endif()
endif()
