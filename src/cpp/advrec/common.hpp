// Shared types and small utilities of the advrec engine. No Python here.
#pragma once

#include <Eigen/Core>

#include <cstdint>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace advrec {

using Index = std::int64_t;
using RowMatrixF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatrixMapF = Eigen::Map<RowMatrixF>;
using ConstMatrixMapF = Eigen::Map<const RowMatrixF>;
using VectorF = Eigen::VectorXf;
using VectorMapF = Eigen::Map<Eigen::VectorXf>;
using ConstVectorMapF = Eigen::Map<const Eigen::VectorXf>;

// Raised for invalid arguments; the bindings translate it into Python's ValueError.
class InvalidArgument : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// Raised when training diverges (NaN/Inf parameters).
class NumericalError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline void require(bool condition, const std::string& message) {
  if (!condition) throw InvalidArgument(message);
}

// Number of worker threads for a requested count; 0 means "all cores".
inline int resolve_threads(int requested) {
#ifdef _OPENMP
  if (requested <= 0) return omp_get_num_procs();
  return requested;
#else
  (void)requested;
  return 1;
#endif
}

inline int thread_index() {
#ifdef _OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

// Exceptions must not escape an OpenMP region (that terminates the process). Workers capture
// the first one here and the caller rethrows it after the region.
class ExceptionCarrier {
 public:
  template <class F>
  void run(F&& body) noexcept {
    try {
      body();
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
  }
  bool failed() const noexcept { return static_cast<bool>(error_); }
  void rethrow() const {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  std::mutex mutex_;
  std::exception_ptr error_;
};

}  // namespace advrec
